//! Outlook personal folders (`.pst`): every item of every folder, each written out as a
//! standalone Outlook message (`.msg`). Offline caches (`.ost`) share the signature but not
//! the format details; the reader refuses them.
//!
//! A PST is a database of MAPI objects ([MS-PST]), read here with Microsoft's `outlook-pst`
//! crate. Review needs each message as a document of its own, so each becomes what Outlook
//! itself exports, an `.msg` compound file of the same properties ([MS-OXMSG]): the extractor
//! then opens it like any other `.msg` (envelope, body, attachments, identity), so a message
//! collected as a PST and the same message exported from Outlook dedupe together, and the
//! native handed to a reviewer or produced is the kind of file Outlook itself exports.
//!
//! An Outlook item attached to a message (a forward sent as an attachment, a meeting's changed
//! occurrence) is written into the copy as Outlook does, an embedded message storage, which the
//! `.msg` reader copies out as a child `.msg` in turn. `outlook-pst` 1.2.0 cannot read these;
//! the build uses a patched copy (`vendor/README.md`).
//!
//! Named properties (ids from 0x8000, whose meaning lives in the PST's name map: a contact's
//! addresses, a meeting's place and current time, categories) are carried with their names
//! into the copy's own name map, renumbered. What the copy leaves out: GUID, object and error
//! values, and multi-valued fixed-size ones. An attachment that cannot be read is left out of
//! the `.msg` (so the copy stays a valid message for other readers) and listed with its reason,
//! to become an exception in the message's family.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{self, Cursor, Write};
use std::path::Path;
use std::rc::Rc;

use outlook_pst::ltp::prop_context::PropertyValue;
use outlook_pst::ltp::table_context::TableContext;
use outlook_pst::messaging::attachment::{
    AnsiAttachment, Attachment, AttachmentData, UnicodeAttachment,
};
use outlook_pst::messaging::folder::Folder;
use outlook_pst::messaging::message::{AnsiMessage, Message, UnicodeMessage};
use outlook_pst::messaging::named_prop::{NamedPropertyGuid, NamedPropertyId};
use outlook_pst::messaging::store::{AnsiStore, EntryId, Store, UnicodeStore};
use outlook_pst::ndb::node_id::NodeId;
use outlook_pst::{AnsiPstFile, UnicodePstFile};

use crate::msg::{Name, NameId, PS_MAPI, PS_PUBLIC_STRINGS};

/// An opened PST.
pub struct Pst {
    store: Stores,
    /// Every item, folder by folder in the PST's own order.
    pub items: Vec<Item>,
    /// Folders that could not be opened or listed, by the path they would have, with the
    /// reason: their items cannot be accounted for one by one.
    pub broken: Vec<(String, String)>,
    /// The PST's named properties: id and name ([`names`]).
    names: HashMap<u16, Name>,
}

enum Stores {
    Unicode(Rc<UnicodeStore>),
    Ansi(Rc<AnsiStore>),
}

/// One item of a folder, not read yet.
pub struct Item {
    /// Its folder's path from the top of the personal folders, `/`-separated.
    pub folder: String,
    entry: EntryId,
}

impl Pst {
    /// Opens the PST at `path` and lists its folders' items. A folder that cannot be opened
    /// goes to [`Pst::broken`] and the walk goes on.
    pub fn open(path: &Path) -> io::Result<Pst> {
        let store = match UnicodePstFile::open(path) {
            Ok(file) => Stores::Unicode(UnicodeStore::read(Rc::new(file))?),
            Err(_) => Stores::Ansi(AnsiStore::read(Rc::new(AnsiPstFile::open(path)?))?),
        };
        let dyn_store: Rc<dyn Store> = match &store {
            Stores::Unicode(s) => s.clone(),
            Stores::Ansi(s) => s.clone(),
        };
        let top = dyn_store.properties().ipm_sub_tree_entry_id()?;
        let folder = dyn_store.open_folder(&top)?;
        let mut walk = Walk { items: Vec::new(), broken: Vec::new(), seen: HashSet::new() };
        walk.folder(&dyn_store, &folder, String::new(), 0);
        let names = names(dyn_store.as_ref());
        Ok(Pst { store, items: walk.items, broken: walk.broken, names })
    }

    /// Reads item `index` and copies it into an `.msg`. An attachment that cannot be read is
    /// left out of the copy (which stays a valid message for other readers) and listed in
    /// [`Copied::unread`] with the reason.
    pub fn copy(&self, index: usize) -> io::Result<Copied> {
        let entry = &self.items[index].entry;
        let mut unread = Vec::new();
        let object = match &self.store {
            Stores::Unicode(store) => {
                let message = UnicodeMessage::read(store.clone(), entry, None)?;
                object_of(&message, "", 0, &mut unread)
            }
            Stores::Ansi(store) => {
                let message = AnsiMessage::read(store.clone(), entry, None)?;
                object_of(&message, "", 0, &mut unread)
            }
        };
        Ok(Copied { msg: write_msg(&object, &self.names)?, unread })
    }
}

/// An attachment opened, and the message it holds when it holds one.
type Opened<M> = (Rc<dyn Attachment>, Option<Rc<M>>);

/// A message of either kind of PST, and how to open its attachments.
trait PstMessage: Message + Sized {
    /// Opens attachment `node` (`method` is what the attachment table lists, for an attachment
    /// object that lacks it): the attachment, and the message it holds, when it holds one.
    fn attachment(
        message: &Rc<Self>,
        node: NodeId,
        method: Option<i32>,
    ) -> io::Result<Opened<Self>>;
}

impl PstMessage for UnicodeMessage {
    fn attachment(
        message: &Rc<Self>,
        node: NodeId,
        method: Option<i32>,
    ) -> io::Result<Opened<Self>> {
        let attachment = UnicodeAttachment::read_with_method(message.clone(), node, method)?;
        let embedded = attachment.embedded_message();
        Ok((attachment, embedded))
    }
}

impl PstMessage for AnsiMessage {
    fn attachment(
        message: &Rc<Self>,
        node: NodeId,
        method: Option<i32>,
    ) -> io::Result<Opened<Self>> {
        let attachment = AnsiAttachment::read_with_method(message.clone(), node, method)?;
        let embedded = attachment.embedded_message();
        Ok((attachment, embedded))
    }
}

/// A message as written to an `.msg`: its properties, recipients and attachments.
#[derive(Clone)]
struct Object {
    props: Vec<Prop>,
    recipients: Vec<Vec<Prop>>,
    attachments: Vec<Attached>,
}

/// Reads a message, with the messages attached to it, `depth` levels down. Attachments that
/// cannot be read go to `unread`, named after `within` (the attached messages they are in).
fn object_of<M: PstMessage>(
    message: &Rc<M>,
    within: &str,
    depth: usize,
    unread: &mut Unread,
) -> Object {
    Object {
        props: collect(message.properties().iter()),
        recipients: recipients_of(&**message),
        attachments: read_attachments(message, within, depth, unread),
    }
}

/// The PST's name map ([MS-PST] 2.4.7): each named property's id and name. Entries that do
/// not resolve are left out, and so are their properties from the copies; empty when the map
/// cannot be read.
fn names(store: &dyn Store) -> HashMap<u16, Name> {
    let Ok(map) = store.named_property_map() else { return HashMap::new() };
    let props = map.properties();
    let bytes = |id: u16| match props.get(id) {
        Some(PropertyValue::Binary(value)) => value.buffer().to_vec(),
        _ => Vec::new(),
    };
    // The GUID and string streams are read directly: outlook-pst's GUID lookup is off by
    // one stream entry.
    let (guids, strings) = (bytes(0x0002), bytes(0x0004));
    let Ok(entries) = props.stream_entry() else { return HashMap::new() };
    let mut out = HashMap::new();
    for entry in entries {
        let guid: [u8; 16] = match entry.guid() {
            NamedPropertyGuid::Mapi => PS_MAPI,
            NamedPropertyGuid::PublicStrings => PS_PUBLIC_STRINGS,
            NamedPropertyGuid::GuidIndex(index) => {
                let at = usize::from(index) * 16;
                match guids.get(at..at + 16).map(<[u8; 16]>::try_from) {
                    Some(Ok(guid)) => guid,
                    _ => continue,
                }
            }
            NamedPropertyGuid::None => continue,
        };
        let id = match entry.id() {
            NamedPropertyId::Number(number) => NameId::Number(number),
            NamedPropertyId::StringOffset(offset) => {
                let at = offset as usize;
                let Some(len) = strings.get(at..at + 4) else { continue };
                let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
                let Some(raw) = strings.get(at + 4..(at + 4).saturating_add(len)) else { continue };
                NameId::String(crate::text::utf16le(raw))
            }
        };
        out.insert(entry.prop_id(), Name { guid, id });
    }
    out
}

/// An item copied out of a PST.
pub struct Copied {
    /// The `.msg`.
    pub msg: Vec<u8>,
    /// Attachments left out of it: name and reason.
    pub unread: Vec<(String, String)>,
}

/// Folders deeper than this are not walked (a damaged hierarchy that loops).
const MAX_FOLDER_DEPTH: usize = 64;

/// The folder walk: items found, folders that failed, folders seen (a damaged hierarchy
/// that names a folder twice, or loops, is walked once).
struct Walk {
    items: Vec<Item>,
    broken: Vec<(String, String)>,
    seen: HashSet<u32>,
}

impl Walk {
    fn folder(
        &mut self,
        store: &Rc<dyn Store>,
        folder: &Rc<dyn Folder>,
        path: String,
        depth: usize,
    ) {
        if let Some(contents) = folder.contents_table() {
            for row in contents.rows_matrix() {
                let node = NodeId::from(u32::from(row.id()));
                match store.properties().make_entry_id(node) {
                    Ok(entry) => self.items.push(Item { folder: path.clone(), entry }),
                    Err(e) => self.broken.push((path.clone(), format!("an item's entry: {e}"))),
                }
            }
        }
        let Some(hierarchy) = folder.hierarchy_table() else { return };
        for (index, row) in hierarchy.rows_matrix().enumerate() {
            let id = u32::from(row.id());
            if !self.seen.insert(id) {
                continue;
            }
            let opened = store
                .properties()
                .make_entry_id(NodeId::from(id))
                .and_then(|entry| store.open_folder(&entry));
            let name = match &opened {
                Ok(sub) => sub.properties().display_name().unwrap_or_default().replace('/', "_"),
                Err(_) => String::new(),
            };
            let name = if name.is_empty() { format!("folder {}", index + 1) } else { name };
            let sub_path = if path.is_empty() { name } else { format!("{path}/{name}") };
            match opened {
                Ok(_) if depth >= MAX_FOLDER_DEPTH => self
                    .broken
                    .push((sub_path, format!("folders nested past {MAX_FOLDER_DEPTH} levels"))),
                Ok(sub) => self.folder(store, &sub, sub_path, depth + 1),
                Err(e) => self.broken.push((sub_path, format!("cannot open the folder: {e}"))),
            }
        }
    }
}

/// A property as written to the `.msg`: its id and value.
type Prop = (u16, Value);

/// The values an `.msg` holds: fixed-size ones (type and 8 bytes), strings and bytes, and
/// multi-valued strings and bytes. GUID, object and error values, and multi-valued fixed-size
/// ones, are left out.
#[derive(Clone, Debug)]
enum Value {
    Fixed(u16, [u8; 8]),
    Unicode(String),
    String8(Vec<u8>),
    Binary(Vec<u8>),
    /// Type, and each value as stored in its stream (strings with their terminator).
    Multi(u16, Vec<Vec<u8>>),
}

impl Value {
    fn of(value: &PropertyValue) -> Option<Value> {
        Some(match value {
            PropertyValue::Integer16(v) => Value::Fixed(0x0002, widen(&v.to_le_bytes())),
            PropertyValue::Integer32(v) => Value::Fixed(0x0003, widen(&v.to_le_bytes())),
            PropertyValue::Floating32(v) => Value::Fixed(0x0004, widen(&v.to_le_bytes())),
            PropertyValue::Floating64(v) => Value::Fixed(0x0005, v.to_le_bytes()),
            PropertyValue::Currency(v) => Value::Fixed(0x0006, v.to_le_bytes()),
            PropertyValue::FloatingTime(v) => Value::Fixed(0x0007, v.to_le_bytes()),
            PropertyValue::Boolean(v) => Value::Fixed(0x000B, widen(&[u8::from(*v)])),
            PropertyValue::Integer64(v) => Value::Fixed(0x0014, v.to_le_bytes()),
            PropertyValue::Time(v) => Value::Fixed(0x0040, v.to_le_bytes()),
            PropertyValue::Unicode(v) => Value::Unicode(String::from_utf16_lossy(v.buffer())),
            PropertyValue::String8(v) => Value::String8(v.buffer().to_vec()),
            PropertyValue::Binary(v) => Value::Binary(v.buffer().to_vec()),
            PropertyValue::MultipleUnicode(values) => {
                let values = values.iter().map(|v| {
                    let text = v.buffer().iter().copied().take_while(|&c| c != 0);
                    text.chain([0]).flat_map(u16::to_le_bytes).collect()
                });
                Value::Multi(PT_MV_UNICODE, values.collect())
            }
            PropertyValue::MultipleString8(values) => {
                let values = values.iter().map(|v| {
                    let text = v.buffer().iter().copied().take_while(|&c| c != 0);
                    text.chain([0]).collect()
                });
                Value::Multi(PT_MV_STRING8, values.collect())
            }
            PropertyValue::MultipleBinary(values) => {
                Value::Multi(PT_MV_BINARY, values.iter().map(|v| v.buffer().to_vec()).collect())
            }
            _ => return None,
        })
    }
}

fn collect<'a>(props: impl Iterator<Item = (&'a u16, &'a PropertyValue)>) -> Vec<Prop> {
    let mut out: Vec<Prop> =
        props.filter_map(|(id, value)| Some((*id, Value::of(value)?))).collect();
    out.sort_by_key(|(id, _)| *id);
    out
}

/// Each recipient's columns of the message's recipient table.
fn recipients_of(message: &dyn Message) -> Vec<Vec<Prop>> {
    let Some(table) = message.recipient_table() else { return Vec::new() };
    let mut rows = table_rows(table.as_ref());
    rows.retain(|row| !row.is_empty());
    rows
}

/// The columns of each row, in the table's row order; a row that cannot be read is empty (so
/// the rows stay aligned with `rows_matrix`).
fn table_rows(table: &dyn TableContext) -> Vec<Vec<Prop>> {
    let context = table.context();
    let mut rows = Vec::new();
    for row in table.rows_matrix() {
        let mut props = Vec::new();
        let Ok(values) = row.columns(context) else {
            rows.push(props);
            continue;
        };
        for (column, value) in context.columns().iter().zip(values) {
            let Some(value) = value else { continue };
            if let Some(value) =
                table.read_column(&value, column.prop_type()).ok().as_ref().and_then(Value::of)
            {
                props.push((column.prop_id(), value));
            }
        }
        props.sort_by_key(|(id, _)| *id);
        rows.push(props);
    }
    rows
}

/// An attachment copied out: its properties, and what it holds.
#[derive(Clone)]
struct Attached {
    props: Vec<Prop>,
    data: Data,
}

#[derive(Clone)]
enum Data {
    Bytes(Vec<u8>),
    /// An attached Outlook item.
    Message(Box<Object>),
    /// A link or an OLE object: nothing to copy.
    None,
}

type Unread = Vec<(String, String)>;

/// Attached Outlook items nested deeper than this are not read (a damaged file could nest
/// them without end).
const MAX_ATTACHED_DEPTH: usize = 16;

fn read_attachments<M: PstMessage>(
    message: &Rc<M>,
    within: &str,
    depth: usize,
    unread: &mut Unread,
) -> Vec<Attached> {
    let Some(table) = message.attachment_table() else { return Vec::new() };
    let rows = table_rows(table.as_ref());
    let mut out = Vec::new();
    for (index, row) in table.rows_matrix().enumerate() {
        let listed = rows.get(index).cloned().unwrap_or_default();
        let name = [0x3707, 0x3704, 0x3001]
            .into_iter()
            .find_map(|id| text_prop(&listed, id))
            .unwrap_or_else(|| format!("attachment {}", index + 1));
        let name = format!("{within}{name}");
        let method = listed.iter().find_map(|(id, value)| match value {
            Value::Fixed(0x0003, bytes) if *id == PR_ATTACH_METHOD => {
                Some(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
            }
            _ => None,
        });
        let (attachment, embedded) =
            match M::attachment(message, NodeId::from(u32::from(row.id())), method) {
                Ok(opened) => opened,
                Err(e) => {
                    unread.push((name, format!("cannot read the attachment from the PST: {e}")));
                    continue;
                }
            };
        let props =
            collect(attachment.properties().iter().filter(|(id, _)| **id != PR_ATTACH_DATA));
        let data = match (attachment.data(), embedded) {
            (_, Some(_)) if depth >= MAX_ATTACHED_DEPTH => {
                let reason =
                    format!("Outlook items attached inside each other past {depth} levels");
                unread.push((name, reason));
                continue;
            }
            (_, Some(embedded)) => {
                let within = format!("{name}/");
                let object = object_of(&embedded, &within, depth + 1, unread);
                Data::Message(Box::new(object))
            }
            (Some(AttachmentData::Binary(bytes)), None) => Data::Bytes(bytes.buffer().to_vec()),
            (Some(AttachmentData::Message(_)) | None, None) => Data::None,
        };
        out.push(Attached { props, data });
    }
    out
}

fn text_prop(props: &[Prop], id: u16) -> Option<String> {
    let text = props.iter().find(|(i, _)| *i == id).and_then(|(_, value)| match value {
        Value::Unicode(v) => Some(v.clone()),
        Value::String8(v) => Some(v.iter().map(|&b| char::from(b)).collect()),
        _ => None,
    })?;
    let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!text.is_empty()).then(|| text.to_owned())
}

const PR_SUBJECT: u16 = 0x0037;
const PR_ATTACH_DATA: u16 = 0x3701;
const PR_ATTACH_METHOD: u16 = 0x3705;
const PT_BINARY: u16 = 0x0102;
const PT_OBJECT: u16 = 0x000D;
const PT_MV_STRING8: u16 = 0x101E;
const PT_MV_UNICODE: u16 = 0x101F;
const PT_MV_BINARY: u16 = 0x1102;

/// Writes a message's properties, recipients and attachments as an `.msg` ([MS-OXMSG] 2.2-2.4).
/// Its named properties, `names` giving their names in the PST, are numbered from 0x8000 in
/// the order of their names, so the same item gives the same bytes whatever the PST's ids.
fn write_msg(object: &Object, names: &HashMap<u16, Name>) -> io::Result<Vec<u8>> {
    let mut used = BTreeSet::new();
    named_ids(object, &mut used);
    let order: Vec<&Name> =
        used.iter().filter_map(|id| names.get(id)).collect::<BTreeSet<_>>().into_iter().collect();
    let renumber: HashMap<u16, u16> = used
        .iter()
        .filter_map(|id| {
            let at = order.binary_search(&names.get(id)?).ok()?;
            Some((*id, 0x8000 + at as u16))
        })
        .collect();
    let mut file = cfb::CompoundFile::create(Cursor::new(Vec::new()))?;
    write_object(&mut file, "/", object, true, &renumber)?;
    let order: Vec<Name> = order.into_iter().cloned().collect();
    crate::msg::write_name_map(&mut file, &order)?;
    file.flush()?;
    Ok(file.into_inner().into_inner())
}

/// The named properties' ids in a message, its recipients and attachments, and the messages
/// attached to it.
fn named_ids(object: &Object, out: &mut BTreeSet<u16>) {
    let attached = object.attachments.iter().map(|a| &a.props);
    for props in [&object.props].into_iter().chain(&object.recipients).chain(attached) {
        out.extend(props.iter().map(|(id, _)| *id).filter(|id| *id >= 0x8000));
    }
    for attachment in &object.attachments {
        if let Data::Message(inner) = &attachment.data {
            named_ids(inner, out);
        }
    }
}

/// Writes a message into the storage at `path` (ending in `/`): the file's root when `top`,
/// else an attachment's embedded message storage ([MS-OXMSG] 2.2.2.1).
fn write_object(
    file: &mut cfb::CompoundFile<Cursor<Vec<u8>>>,
    path: &str,
    object: &Object,
    top: bool,
    renumber: &HashMap<u16, u16>,
) -> io::Result<()> {
    let write_props = |file: &mut _, path: &str, header, props: &[Prop], message| {
        write_props(file, path, header, props, message, renumber)
    };
    // Header: reserved, next recipient and attachment ids, their counts, and at the top level
    // 8 more reserved bytes.
    let (recipients, attachments) = (&object.recipients, &object.attachments);
    let mut header = vec![0u8; if top { 32 } else { 24 }];
    header[8..12].copy_from_slice(&(recipients.len() as u32).to_le_bytes());
    header[12..16].copy_from_slice(&(attachments.len() as u32).to_le_bytes());
    header[16..20].copy_from_slice(&(recipients.len() as u32).to_le_bytes());
    header[20..24].copy_from_slice(&(attachments.len() as u32).to_le_bytes());
    write_props(file, path, header, &object.props, true)?;
    for (index, recipient) in recipients.iter().enumerate() {
        let path = format!("{path}__recip_version1.0_#{index:08X}");
        storage(file, &path)?;
        write_props(file, &format!("{path}/"), vec![0; 8], recipient, false)?;
    }
    for (index, attachment) in attachments.iter().enumerate() {
        let path = format!("{path}__attach_version1.0_#{index:08X}");
        storage(file, &path)?;
        let mut props = attachment.props.clone();
        match &attachment.data {
            Data::Bytes(data) => {
                props.push((PR_ATTACH_DATA, Value::Binary(data.clone())));
                props.sort_by_key(|(id, _)| *id);
            }
            Data::Message(message) => {
                let inner = format!("{path}/__substg1.0_{PR_ATTACH_DATA:04X}{PT_OBJECT:04X}");
                storage(file, &inner)?;
                write_object(file, &format!("{inner}/"), message, false, renumber)?;
            }
            // msg::parse reports an attachment without data as unread.
            Data::None => {}
        }
        write_props(file, &format!("{path}/"), vec![0; 8], &props, false)?;
    }
    Ok(())
}

/// Creates a storage with fixed times: the same message gives the same bytes, run after run
/// (`cfb` stamps new storages with the current time).
pub(crate) fn storage(file: &mut cfb::CompoundFile<Cursor<Vec<u8>>>, path: &str) -> io::Result<()> {
    file.create_storage(path)?;
    zero_times(file, path)
}

/// Sets a storage's creation and modification times to zero, as the format allows.
pub(crate) fn zero_times(
    file: &mut cfb::CompoundFile<Cursor<Vec<u8>>>,
    path: &str,
) -> io::Result<()> {
    // CFB times count 100 ns from 1601; cfb takes them as SystemTime.
    let zero = std::time::UNIX_EPOCH
        .checked_sub(std::time::Duration::from_secs(11_644_473_600))
        .unwrap_or(std::time::UNIX_EPOCH);
    file.set_created_time(path, zero)?;
    file.set_modified_time(path, zero)
}

/// The property stream of one object and a stream per variable-size value. For a `message`,
/// strips the subject's PST prefix marker. Named properties take their id from `renumber`;
/// those it lacks (their name is unknown) are left out.
fn write_props(
    file: &mut cfb::CompoundFile<Cursor<Vec<u8>>>,
    path: &str,
    mut stream: Vec<u8>,
    props: &[Prop],
    message: bool,
    renumber: &HashMap<u16, u16>,
) -> io::Result<()> {
    let mut props: Vec<(u16, &Value)> = props
        .iter()
        .filter_map(|(id, value)| match *id {
            id @ ..0x8000 => Some((id, value)),
            id => Some((*renumber.get(&id)?, value)),
        })
        .collect();
    props.sort_by_key(|(id, _)| *id);
    props.dedup_by_key(|(id, _)| *id);
    for (id, value) in props {
        let (kind, fixed, variable): (u16, [u8; 8], Option<Vec<u8>>) = match value {
            Value::Fixed(kind, bytes) => (*kind, *bytes, None),
            Value::Unicode(v) => {
                let text =
                    if message && id == PR_SUBJECT { strip_subject_prefix(v) } else { v.clone() };
                let text = text.trim_end_matches('\0');
                let mut bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
                bytes.extend_from_slice(&[0, 0]);
                (0x001F, [0; 8], Some(bytes))
            }
            Value::String8(v) => {
                let mut bytes = v.clone();
                if message && id == PR_SUBJECT && bytes.first() == Some(&1) {
                    bytes.drain(..bytes.len().min(2));
                }
                while bytes.last() == Some(&0) {
                    bytes.pop();
                }
                bytes.push(0);
                (0x001E, [0; 8], Some(bytes))
            }
            Value::Binary(v) => (PT_BINARY, [0; 8], Some(v.clone())),
            Value::Multi(kind, values) => {
                // A stream of lengths (with 4 reserved bytes each for binary values), then a
                // stream per value ([MS-OXMSG] 2.1.4.1.3).
                let mut lengths = Vec::new();
                for (index, value) in values.iter().enumerate() {
                    lengths.extend_from_slice(&(value.len() as u32).to_le_bytes());
                    if *kind == PT_MV_BINARY {
                        lengths.extend_from_slice(&[0; 4]);
                    }
                    let name = format!("{path}__substg1.0_{id:04X}{kind:04X}-{index:08X}");
                    file.create_stream(&name)?.write_all(value)?;
                }
                (*kind, [0; 8], Some(lengths))
            }
        };
        stream.extend_from_slice(&kind.to_le_bytes());
        stream.extend_from_slice(&id.to_le_bytes());
        // Flags: readable and writable.
        stream.extend_from_slice(&6u32.to_le_bytes());
        match variable {
            None => stream.extend_from_slice(&fixed),
            Some(bytes) => {
                stream.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                stream.extend_from_slice(&[0; 4]);
                // Strings are stored without their terminator; the size above counts it.
                let stored = match kind {
                    0x001F => &bytes[..bytes.len() - 2],
                    0x001E => &bytes[..bytes.len() - 1],
                    _ => &bytes[..],
                };
                let name = format!("{path}__substg1.0_{id:04X}{kind:04X}");
                file.create_stream(&name)?.write_all(stored)?;
            }
        }
    }
    file.create_stream(format!("{path}__properties_version1.0"))?.write_all(&stream)
}

fn widen(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0; 8];
    out[..bytes.len()].copy_from_slice(bytes);
    out
}

/// A PST keeps a subject's prefix ("RE: ") length in front of it: U+0001, then a character
/// whose code is the length. Outlook shows the subject without the two.
fn strip_subject_prefix(subject: &str) -> String {
    let mut chars = subject.chars();
    if chars.next() == Some('\u{1}') {
        chars.next();
        return chars.collect();
    }
    subject.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Unicode(s.to_owned())
    }

    fn multi_text(values: &[&str]) -> Value {
        let values = values.iter().map(|v| v.encode_utf16().chain([0]).flat_map(u16::to_le_bytes));
        Value::Multi(PT_MV_UNICODE, values.map(Iterator::collect).collect())
    }

    /// `PSETID_Appointment` and `PSETID_Address` as stored.
    const PSETID_APPOINTMENT: [u8; 16] =
        [0x02, 0x20, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0, 0, 0, 0, 0, 0, 0x46];
    const PSETID_ADDRESS: [u8; 16] =
        [0x04, 0x20, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0, 0, 0, 0, 0, 0, 0x46];

    /// `afEmbeddedMessage`.
    const ATTACH_EMBEDDED_MSG: i32 = 5;

    #[test]
    fn a_written_msg_reads_back_through_the_msg_parser() {
        // PR_CLIENT_SUBMIT_TIME 2001-05-14T16:39:00Z as FILETIME.
        let ticks = (989_858_340i64 + 11_644_473_600) * 10_000_000;
        let props = vec![
            (0x001A, text("IPM.Note")),
            (0x0037, text("\u{1}\u{4}RE: Raptor memo")),
            (0x0039, Value::Fixed(0x0040, ticks.to_le_bytes())),
            // A calendar time, the standard one stale: the named one (PST id 0x8005) is shown.
            (0x0060, Value::Fixed(0x0040, (ticks + 36_000_000_000).to_le_bytes())),
            (0x8005, Value::Fixed(0x0040, (ticks + 72_000_000_000).to_le_bytes())),
            (0x0C1A, text("Richard Sanders")),
            // Marked high importance and confidential.
            (0x0017, Value::Fixed(0x0003, widen(&2i32.to_le_bytes()))),
            (0x0036, Value::Fixed(0x0003, widen(&3i32.to_le_bytes()))),
            // Read and never sent (a draft), replied to, flagged for follow-up.
            (0x0E07, Value::Fixed(0x0003, widen(&9i32.to_le_bytes()))),
            (0x1000, text("Please keep this within legal.\r\n")),
            (0x1081, Value::Fixed(0x0003, widen(&102i32.to_le_bytes()))),
            (0x1090, Value::Fixed(0x0003, widen(&2i32.to_le_bytes()))),
            (0x1035, text("<1@enron.com>")),
            (0x5D01, text("richard.sanders@enron.com")),
            (0x8010, multi_text(&["Legal", "Raptor"])),
            (0x8020, text("a named property the PST's map does not name, left out")),
        ];
        let recipients = vec![
            vec![
                (0x0C15, Value::Fixed(0x0003, widen(&1i32.to_le_bytes()))),
                (0x3001, text("Mark Haedicke")),
                (0x39FE, text("mark.haedicke@enron.com")),
            ],
            vec![
                (0x0C15, Value::Fixed(0x0003, widen(&2i32.to_le_bytes()))),
                (0x3003, text("jdoe@velaw.com")),
            ],
        ];
        // A forward attached as an Outlook item, itself carrying a file.
        let forwarded = Object {
            props: vec![
                (0x001A, text("IPM.Note")),
                (0x0037, text("\u{1}\u{5}FW: LJM2 approval")),
                (0x0C1A, text("Mark Haedicke")),
                (0x0E07, Value::Fixed(0x0003, widen(&1i32.to_le_bytes()))),
                (0x1000, text("See the approval sheet.\r\n")),
                (0x1081, Value::Fixed(0x0003, widen(&104i32.to_le_bytes()))),
                (0x5D01, text("mark.haedicke@enron.com")),
                (0x8010, multi_text(&["Approval"])),
            ],
            recipients: vec![vec![
                (0x0C15, Value::Fixed(0x0003, widen(&1i32.to_le_bytes()))),
                (0x39FE, text("richard.sanders@enron.com")),
            ]],
            attachments: vec![Attached {
                props: vec![(0x3707, text("approval.txt"))],
                data: Data::Bytes(b"approved".to_vec()),
            }],
        };
        let method = |m: i32| (PR_ATTACH_METHOD, Value::Fixed(0x0003, widen(&m.to_le_bytes())));
        let attachments = vec![
            Attached {
                props: vec![(0x3707, text("memo.txt")), method(1)],
                data: Data::Bytes(b"the memo".to_vec()),
            },
            Attached {
                props: vec![(0x3001, text("FW: LJM2 approval")), method(ATTACH_EMBEDDED_MSG)],
                data: Data::Message(Box::new(forwarded)),
            },
        ];
        let object = Object { props, recipients, attachments };
        let names = HashMap::from([
            (0x8005, Name { guid: PSETID_APPOINTMENT, id: NameId::Number(0x820D) }),
            (0x8010, Name { guid: PS_PUBLIC_STRINGS, id: NameId::String("Keywords".into()) }),
        ]);
        let msg = write_msg(&object, &names).unwrap();
        assert!(crate::msg::is_msg(&msg));
        let email = crate::msg::parse(&msg).unwrap();
        let meta = &email.meta;
        assert_eq!(meta.subject.as_deref(), Some("RE: Raptor memo"));
        assert_eq!(meta.message_id.as_deref(), Some("<1@enron.com>"));
        assert_eq!(meta.sent.as_deref(), Some("2001-05-14T16:39:00Z"));
        assert_eq!(meta.from[0].address, "richard.sanders@enron.com");
        assert_eq!(meta.from[0].name.as_deref(), Some("Richard Sanders"));
        assert_eq!(meta.to.len(), 1);
        assert_eq!(meta.to[0].address, "mark.haedicke@enron.com");
        assert_eq!(meta.cc[0].address, "jdoe@velaw.com");
        assert!(email.text.contains("Please keep this within legal."));
        assert!(email.text.contains("\nStart: 2001-05-14T18:39:00Z\n"), "{}", email.text);
        assert!(!email.text.contains("End:"), "no end time, no line");
        assert!(email.text.contains("\nCategories: Legal; Raptor\n"), "{}", email.text);
        // Categories are the custodian's labels: the same message labelled otherwise in another
        // mailbox is the same message. Its time is not.
        let mut relabelled = object.clone();
        relabelled.props.retain(|(id, _)| *id != 0x8010);
        let relabelled = crate::msg::parse(&write_msg(&relabelled, &names).unwrap()).unwrap();
        assert_eq!(relabelled.identity, email.identity);
        let mut moved = object.clone();
        moved.props.retain(|(id, _)| *id != 0x8005);
        let moved = crate::msg::parse(&write_msg(&moved, &names).unwrap()).unwrap();
        assert_ne!(moved.identity, email.identity);
        // Two names in the copy's map: the unnamed property is left out.
        let mut file = cfb::CompoundFile::open(Cursor::new(&msg)).unwrap();
        let mut entries = Vec::new();
        let stream = "/__nameid_version1.0/__substg1.0_00030102";
        std::io::Read::read_to_end(&mut file.open_stream(stream).unwrap(), &mut entries).unwrap();
        assert_eq!(entries.len(), 16);
        let flags = [
            "importance-high",
            "outlook-draft",
            "outlook-flagged",
            "outlook-read",
            "outlook-replied",
            "sensitivity-confidential",
        ];
        assert_eq!(email.flags, flags);
        assert!(email.unread.is_empty(), "{:?}", email.unread);
        assert_eq!(email.attachments.len(), 2);
        assert_eq!(email.attachments[0].name, "memo.txt");
        assert_eq!(email.attachments[0].bytes, b"the memo");
        // The attached item comes out as an .msg of its own, with its own attachment.
        assert_eq!(email.attachments[1].name, "FW: LJM2 approval.msg");
        let inner = crate::msg::parse(&email.attachments[1].bytes).unwrap();
        assert_eq!(inner.meta.subject.as_deref(), Some("FW: LJM2 approval"));
        assert_eq!(inner.meta.from[0].address, "mark.haedicke@enron.com");
        assert_eq!(inner.meta.to[0].address, "richard.sanders@enron.com");
        assert!(inner.text.contains("See the approval sheet."));
        assert_eq!(inner.attachments.len(), 1);
        assert_eq!(inner.attachments[0].bytes, b"approved");
        assert_eq!(inner.flags, ["outlook-forwarded", "outlook-read"]);
        // The attached item, copied out, takes the name map along.
        assert!(inner.text.contains("\nCategories: Approval\n"), "{}", inner.text);
        // Same input, same bytes; and the same whatever ids the PST gave the names.
        assert!(msg == write_msg(&object, &names).unwrap(), "the same bytes again");
        // Other ids, in the other order (0x8020, which has no name, stays).
        let other = |id: u16| match id {
            0x8005 => 0x8700,
            0x8010 => 0x8600,
            id => id,
        };
        let renumbered = |props: &[Prop]| -> Vec<Prop> {
            props.iter().map(|(id, value)| (other(*id), value.clone())).collect()
        };
        let mut shifted = object.clone();
        shifted.props = renumbered(&shifted.props);
        let Data::Message(forwarded) = &mut shifted.attachments[1].data else { unreachable!() };
        forwarded.props = renumbered(&forwarded.props);
        let names: HashMap<u16, Name> = names.into_iter().map(|(id, n)| (other(id), n)).collect();
        assert!(write_msg(&shifted, &names).unwrap() == msg, "the same bytes, other ids");
    }

    /// A one-off address entry ([MS-OXCDATA] 2.2.5.1), its strings UTF-16 or 8-bit.
    fn one_off(name: &str, address: &str, unicode: bool) -> Vec<u8> {
        let mut out = vec![0; 4];
        out.extend_from_slice(&[
            0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F,
            0x54, 0x02,
        ]);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(if unicode { 0x8001u16 } else { 0x0001 }).to_le_bytes());
        for field in [name, "SMTP", address] {
            if unicode {
                out.extend(field.encode_utf16().chain([0]).flat_map(u16::to_le_bytes));
            } else {
                out.extend(field.bytes().chain([0]));
            }
        }
        out
    }

    /// A contact and two distribution lists, their details named properties: read back from
    /// the copies as header lines, which count in the identity.
    #[test]
    fn contacts_and_distribution_lists_show_their_addresses() {
        let names = HashMap::from([
            (0x8100, Name { guid: PSETID_ADDRESS, id: NameId::Number(0x8083) }),
            (0x8101, Name { guid: PSETID_ADDRESS, id: NameId::Number(0x801B) }),
            (0x8102, Name { guid: PSETID_ADDRESS, id: NameId::Number(0x8054) }),
            (0x8103, Name { guid: PSETID_ADDRESS, id: NameId::Number(0x8055) }),
        ]);
        let item = |props: Vec<Prop>| {
            let object = Object { props, recipients: Vec::new(), attachments: Vec::new() };
            crate::msg::parse(&write_msg(&object, &names).unwrap()).unwrap()
        };
        let contact = |address: &str| {
            item(vec![
                (0x001A, text("IPM.Contact")),
                (0x0037, text("Jane Roe")),
                (0x3001, text("Jane Roe")),
                (0x3A08, text("+1 713 758 2222")),
                (0x3A16, text("Vinson & Elkins")),
                (0x8100, text(address)),
                (
                    0x8101,
                    text(
                        "1001 Fannin Street
Suite 2500
Houston, TX 77002",
                    ),
                ),
            ])
        };
        let jane = contact("jroe@velaw.com");
        let lines = "\nName: Jane Roe\nCompany: Vinson & Elkins\nEmail: jroe@velaw.com\n\
                     Business phone: +1 713 758 2222\n\
                     Business address: 1001 Fannin Street, Suite 2500, Houston, TX 77002\n";
        assert!(jane.text.contains(lines), "{}", jane.text);
        // Two contacts of one name differ by their details.
        assert_ne!(jane.identity, contact("jane.roe@velaw.com").identity);

        let list = item(vec![
            (0x001A, text("IPM.DistList")),
            (0x0037, text("Raptor team")),
            (
                0x8102,
                Value::Multi(
                    PT_MV_BINARY,
                    vec![
                        one_off("Jane Roe", "jroe@velaw.com", true),
                        one_off("Richard Sanders", "richard.sanders@enron.com", false),
                        one_off("", "legal@enron.com", true),
                        b"not an entry".to_vec(),
                    ],
                ),
            ),
        ]);
        let members = "\nMembers: Jane Roe <jroe@velaw.com>; \
                       Richard Sanders <richard.sanders@enron.com>; legal@enron.com\n";
        assert!(list.text.contains(members), "{}", list.text);
        // Without the one-off list, the wrapped member entries that hold one-off addresses.
        let mut wrapped = vec![0; 4];
        wrapped.extend_from_slice(&[
            0xC0, 0x91, 0xAD, 0xD3, 0x51, 0x9D, 0xCF, 0x11, 0xA4, 0xA9, 0x00, 0xAA, 0x00, 0x47,
            0xFA, 0xA4,
        ]);
        let mut to_contact = wrapped.clone();
        to_contact.push(0xC3);
        to_contact.extend_from_slice(&[0; 24]);
        wrapped.push(0x00);
        wrapped.extend(one_off("Mark Haedicke", "mark.haedicke@enron.com", true));
        let list = item(vec![
            (0x001A, text("IPM.DistList")),
            (0x8103, Value::Multi(PT_MV_BINARY, vec![to_contact, wrapped])),
        ]);
        let members = "Members: Mark Haedicke <mark.haedicke@enron.com>\n";
        assert!(list.text.starts_with(members), "{}", list.text);
    }

    #[test]
    fn subject_prefix_marker() {
        assert_eq!(strip_subject_prefix("\u{1}\u{4}RE: x"), "RE: x");
        assert_eq!(strip_subject_prefix("\u{1}\u{1}x"), "x");
        assert_eq!(strip_subject_prefix("plain"), "plain");
    }
}
