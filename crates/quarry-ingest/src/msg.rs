//! Outlook `.msg` files: a compound file (CFB/OLE2) of MAPI properties ([MS-OXMSG]).
//!
//! Read into the same [`Email`] as an RFC 5322 message: envelope, body, attachments, identity,
//! so a message exported from Outlook and the same message from a server's mailbox dedupe
//! together. Property streams are `__substg1.0_TTTTYYYY` (tag, type); fixed-size values
//! (times, recipient types) sit in `__properties_version1.0`.
//!
//! Named properties (ids from 0x8000) are resolved through the file's name map
//! (`__nameid_version1.0`, [MS-OXMSG] 2.2.3): what an item other than a mail message holds
//! lives there (a contact's email addresses, a distribution list's members, a meeting's place
//! and current time, any item's categories). Those details are shown in the header block, so
//! review and search see them, and count in the item's identity.

use crate::email::{
    Attachment, Email, Sensitivity, hex, identity, marking_flags, with_header_block,
};
use quarry_types::{Address, EmailMeta};
use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

type Cfb<'a> = cfb::CompoundFile<Cursor<&'a [u8]>>;

const PT_STRING8: u16 = 0x001E;
const PT_UNICODE: u16 = 0x001F;
const PT_BINARY: u16 = 0x0102;
const PT_OBJECT: u16 = 0x000D;
const PT_SYSTIME: u16 = 0x0040;
const PT_LONG: u16 = 0x0003;
/// The PT_SYSTIME Outlook writes for "None" (a task without a due date, say): 4501-01-01.
const OUTLOOK_NONE: u64 = 0x0CB3_4557_A3DD_4000;
const PT_MV_STRING8: u16 = 0x101E;
const PT_MV_UNICODE: u16 = 0x101F;
const PT_MV_BINARY: u16 = 0x1102;

/// A named property's name ([MS-OXCDATA] 2.6.1): its property set and, within it, a number or
/// a string.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Name {
    /// The property set's GUID, as stored (the first three fields little-endian).
    pub(crate) guid: [u8; 16],
    pub(crate) id: NameId,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum NameId {
    Number(u32),
    String(String),
}

/// A property set's GUID as stored, from its text form's fields.
const fn guid(data1: u32, data2: u16, data3: u16) -> [u8; 16] {
    let (a, b, c) = (data1.to_le_bytes(), data2.to_le_bytes(), data3.to_le_bytes());
    [a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], 0xC0, 0, 0, 0, 0, 0, 0, 0x46]
}

/// The property sets of [MS-OXPROPS] this reader shows names from, and the two that the name
/// map refers to by number.
pub(crate) const PS_MAPI: [u8; 16] = guid(0x0002_0328, 0, 0);
pub(crate) const PS_PUBLIC_STRINGS: [u8; 16] = guid(0x0002_0329, 0, 0);
const PSETID_APPOINTMENT: [u8; 16] = guid(0x0006_2002, 0, 0);
const PSETID_TASK: [u8; 16] = guid(0x0006_2003, 0, 0);
const PSETID_ADDRESS: [u8; 16] = guid(0x0006_2004, 0, 0);

const NAMEID: &str = "/__nameid_version1.0";

/// Writes the name map of a file whose named properties have ids `0x8000 + i` for `names[i]`
/// ([MS-OXMSG] 2.2.3): the GUID, entry and string streams, and the hash buckets Outlook looks
/// names up in.
pub(crate) fn write_name_map(
    file: &mut cfb::CompoundFile<Cursor<Vec<u8>>>,
    names: &[Name],
) -> std::io::Result<()> {
    crate::pst::storage(file, NAMEID)?;
    let (mut guids, mut entries, mut strings) = (Vec::new(), Vec::new(), Vec::new());
    let mut buckets: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    for (index, name) in names.iter().enumerate() {
        let guid_index: u32 = match name.guid {
            PS_MAPI => 1,
            PS_PUBLIC_STRINGS => 2,
            other => {
                let at = guids.chunks(16).position(|g| g == other).unwrap_or_else(|| {
                    guids.extend_from_slice(&other);
                    guids.len() / 16 - 1
                });
                3 + at as u32
            }
        };
        let (id, kind, hash) = match &name.id {
            NameId::Number(number) => (*number, 0, *number),
            NameId::String(text) => {
                let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
                let offset = strings.len() as u32;
                strings.extend_from_slice(&(utf16.len() as u32).to_le_bytes());
                strings.extend_from_slice(&utf16);
                strings.resize(strings.len().next_multiple_of(4), 0);
                (offset, 1, name_crc(&utf16))
            }
        };
        let info = ((index as u32) << 16) | (guid_index << 1) | kind;
        entries.extend_from_slice(&id.to_le_bytes());
        entries.extend_from_slice(&info.to_le_bytes());
        let bucket =
            buckets.entry(0x1000 + (hash ^ ((guid_index << 1) | kind)) % 0x1F).or_default();
        bucket.extend_from_slice(&hash.to_le_bytes());
        bucket.extend_from_slice(&info.to_le_bytes());
    }
    let mut stream = |id: u32, data: &[u8]| {
        file.create_stream(format!("{NAMEID}/__substg1.0_{id:04X}0102"))?.write_all(data)
    };
    stream(0x0002, &guids)?;
    stream(0x0003, &entries)?;
    stream(0x0004, &strings)?;
    for (id, bucket) in &buckets {
        stream(*id, bucket)?;
    }
    Ok(())
}

/// The CRC-32 that string names are hashed with ([MS-OXMSG] 2.2.3.2.2): the usual polynomial,
/// started at zero and not inverted at the end.
fn name_crc(bytes: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    crc
}

/// The file's name map: each named property's id and name. Entries that do not parse are
/// skipped; a file without a map has no named properties to show.
fn read_name_map(file: &mut Cfb<'_>) -> Vec<(u16, Name)> {
    let mut read = |id: u32| {
        let mut out = Vec::new();
        if let Ok(mut s) = file.open_stream(format!("{NAMEID}/__substg1.0_{id:04X}0102")) {
            let _ = s.read_to_end(&mut out);
        }
        out
    };
    let (guids, entries, strings) = (read(0x0002), read(0x0003), read(0x0004));
    let u32_at = |bytes: &[u8], at: usize| {
        bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut out = Vec::new();
    for entry in entries.chunks_exact(8) {
        let (id, info) = (u32_at(entry, 0).unwrap_or(0), u32_at(entry, 4).unwrap_or(0));
        let index = info >> 16;
        let Ok(prop) = u16::try_from(0x8000 + index) else { continue };
        let guid = match (info & 0xFFFF) >> 1 {
            1 => PS_MAPI,
            2 => PS_PUBLIC_STRINGS,
            at @ 3.. => {
                let at = (at as usize - 3) * 16;
                let Some(g) = guids.get(at..at + 16) else { continue };
                g.try_into().unwrap_or_default()
            }
            _ => continue,
        };
        let id = if info & 1 == 0 {
            NameId::Number(id)
        } else {
            let at = id as usize;
            let Some(len) = u32_at(&strings, at) else { continue };
            let Some(raw) = strings.get(at + 4..at + 4 + len as usize) else { continue };
            NameId::String(crate::text::utf16le(raw))
        };
        out.push((prop, Name { guid, id }));
    }
    out
}

/// Why a compound file is not a readable message.
#[derive(Debug, thiserror::Error)]
pub enum MsgError {
    /// Not a compound file, or a damaged one.
    #[error("not a readable compound file: {0}")]
    Cfb(#[from] std::io::Error),
    /// A compound file, but not an Outlook message (a Word or Excel document, say).
    #[error("not an Outlook message")]
    NotMessage,
}

/// Whether these bytes are an Outlook message (a compound file holding message properties).
#[must_use]
pub fn is_msg(bytes: &[u8]) -> bool {
    cfb::CompoundFile::open(Cursor::new(bytes)).is_ok_and(|f| {
        f.is_stream("/__properties_version1.0") && f.is_storage("/") && has_class(&f)
    })
}

fn has_class(file: &Cfb<'_>) -> bool {
    file.is_stream(format!("/__substg1.0_001A{PT_UNICODE:04X}"))
        || file.is_stream(format!("/__substg1.0_001A{PT_STRING8:04X}"))
}

/// Parses an Outlook message.
pub fn parse(bytes: &[u8]) -> Result<Email, MsgError> {
    let mut file = cfb::CompoundFile::open(Cursor::new(bytes))?;
    if !has_class(&file) {
        return Err(MsgError::NotMessage);
    }
    let mut flags = Vec::new();
    let root = Props::read(&mut file, "/", 32);
    let mut meta = EmailMeta {
        subject: root.string(&mut file, 0x0037),
        message_id: root.string(&mut file, 0x1035),
        in_reply_to: root.string(&mut file, 0x1042),
        references: root.string(&mut file, 0x1039),
        thread_index: root.binary(&mut file, 0x0071).map(|b| base64(&b)),
        ..EmailMeta::default()
    };
    let sender_name = root.string(&mut file, 0x0C1A).or_else(|| root.string(&mut file, 0x0042));
    let sender_address = root
        .string(&mut file, 0x5D01)
        .or_else(|| root.string(&mut file, 0x0C1F).filter(|a| a.contains('@')))
        .or_else(|| root.string(&mut file, 0x0065).filter(|a| a.contains('@')))
        .unwrap_or_default();
    if sender_name.is_some() || !sender_address.is_empty() {
        meta.from.push(Address { name: sender_name, address: sender_address });
    }
    for path in numbered_storages(&file, "__recip_version1.0_#") {
        let props = Props::read(&mut file, &path, 8);
        let name = props.string(&mut file, 0x3001);
        let address = props
            .string(&mut file, 0x39FE)
            .or_else(|| props.string(&mut file, 0x3003))
            .unwrap_or_default();
        // Outlook often repeats the address as the display name.
        let name = name.filter(|n| !n.eq_ignore_ascii_case(&address));
        let address = Address { name, address };
        match props.long(0x0C15) {
            Some(2) => meta.cc.push(address),
            Some(3) => meta.bcc.push(address),
            _ => meta.to.push(address),
        }
    }
    if let Some(secs) = root.time(0x0039).or_else(|| root.time(0x0E06)) {
        meta.sent = Some(quarry_types::iso_utc_from_unix(secs));
        meta.sent_offset = Some("+00:00".to_owned());
    }
    // PR_MESSAGE_DELIVERY_TIME: when it reached the mailbox (a sent item has none).
    meta.received = root.time(0x0E06).map(quarry_types::iso_utc_from_unix);
    if let Some(headers) = root.string(&mut file, 0x007D) {
        // Internet headers of a received message: the Date as the sender wrote it.
        if let Ok((parsed, _)) = mailparse::parse_headers(headers.as_bytes()) {
            use mailparse::MailHeaderMap;
            meta.date_raw = parsed.get_first_value("Date");
            if let Some(offset) = meta.date_raw.as_deref().and_then(crate::maildate::utc_offset) {
                meta.sent_offset = Some(offset);
            }
            if meta.thread_index.is_none() {
                meta.thread_index = parsed.get_first_value("Thread-Index");
            }
        }
    }
    // What the custodian did with the message, as Outlook records it: evidence, as a Maildir
    // file's flags are ([MS-OXCMSG] PidTagMessageFlags, PidTagLastVerbExecuted,
    // PidTagFlagStatus).
    let state = root.long(0x0E07).unwrap_or(0);
    if state & 0x1 != 0 {
        flags.push("outlook-read".to_owned());
    }
    // Unsent: a draft, for a mail message; any other item (an appointment, a contact) is
    // never sent, so the bit says nothing there.
    let class = root.string(&mut file, 0x001A).unwrap_or_default().to_ascii_lowercase();
    if state & 0x8 != 0 && (class == "ipm.note" || class.starts_with("ipm.note.")) {
        flags.push("outlook-draft".to_owned());
    }
    let verb = match root.long(0x1081) {
        Some(102) => Some("outlook-replied"),
        Some(103) => Some("outlook-replied-all"),
        Some(104) => Some("outlook-forwarded"),
        _ => None,
    };
    let flagged = (root.long(0x1090) == Some(2)).then_some("outlook-flagged");
    flags.extend(verb.into_iter().chain(flagged).map(str::to_owned));
    // How the sender marked it (PidTagImportance, PidTagSensitivity), as for any email.
    let high_importance = root.long(0x0017) == Some(2);
    let sensitivity = match root.long(0x0036) {
        Some(1) => Some(Sensitivity::Personal),
        Some(2) => Some(Sensitivity::Private),
        Some(3) => Some(Sensitivity::Confidential),
        _ => None,
    };
    flags.extend(marking_flags(high_importance, sensitivity));
    meta.mih = meta.message_id.as_deref().map(|id| {
        use md5::Digest as _;
        hex(&md5::Md5::digest(id.as_bytes()))
    });
    let body = match root.string(&mut file, 0x1000) {
        Some(body) => body,
        None => match root
            .binary(&mut file, 0x1013)
            .or_else(|| root.string(&mut file, 0x1013).map(String::into_bytes))
        {
            Some(html) => crate::text::html_to_text(&crate::text::decode(&html)),
            // Rich-text messages may carry only compressed RTF.
            None => root
                .binary(&mut file, 0x1009)
                .and_then(|c| crate::rtf::decompress(&c))
                .map(|rtf| crate::rtf::to_text(&rtf))
                .unwrap_or_default(),
        },
    };
    let body = body.trim_end().to_owned();
    let names = read_name_map(&mut file);
    let details = details(&mut file, &root, &names, &class);

    let mut attachments = Vec::new();
    let mut unread = Vec::new();
    for (index, path) in numbered_storages(&file, "__attach_version1.0_#").into_iter().enumerate() {
        let props = Props::read(&mut file, &path, 8);
        let name = props
            .string(&mut file, 0x3707)
            .or_else(|| props.string(&mut file, 0x3704))
            .or_else(|| props.string(&mut file, 0x3001))
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("attachment {}", index + 1));
        if let Some(bytes) = props.binary(&mut file, 0x3701) {
            let mime_type = props.string(&mut file, 0x370E).unwrap_or_default();
            attachments.push(Attachment { name, mime_type, bytes, message: false });
        } else if file.is_storage(format!("{path}__substg1.0_3701{PT_OBJECT:04X}")) {
            // An attached Outlook item (an embedded message) is a storage of this file, not
            // bytes of its own: it is copied out into a .msg of its own, which the extractor
            // then opens as a child like any attached file.
            let storage = format!("{path}__substg1.0_3701{PT_OBJECT:04X}");
            match storage_to_msg(&mut file, &storage) {
                Ok(bytes) => {
                    let name = if name.to_lowercase().ends_with(".msg") {
                        name
                    } else {
                        format!("{name}.msg")
                    };
                    attachments.push(Attachment {
                        name,
                        mime_type: "application/vnd.ms-outlook".to_owned(),
                        bytes,
                        message: false,
                    });
                }
                Err(e) => {
                    unread.push((name, format!("cannot copy out the embedded Outlook item: {e}")));
                }
            }
        } else {
            let reason = "the attachment has no data stream (a link or a damaged attachment)";
            unread.push((name, reason.to_owned()));
        }
    }
    meta.attachments = attachments.len() as u64;
    // Two contacts, or two occurrences of a meeting, may share subject and body and differ
    // only in their details. Not in the categories: those are the custodian's labels, and the
    // same message in two mailboxes is one message.
    let content: String = details
        .iter()
        .filter(|(label, _)| *label != "Categories")
        .map(|(label, value)| format!("{label}: {value}\n"))
        .collect();
    let identity = if content.is_empty() {
        identity(&meta, &body, &attachments)
    } else {
        identity(&meta, &format!("{content}\n{body}"), &attachments)
    };
    let text = with_header_block(&meta, &attachments, &details, &body);
    flags.sort();
    flags.dedup();
    Ok(Email { meta, text, attachments, identity, flags, unread })
}

/// What an Outlook item holds beyond envelope and body, as header lines ([MS-OXOCAL],
/// [MS-OXOTASK], [MS-OXOCNTC]): a meeting's time and place, a task's due date, a contact's
/// name, company, email addresses and phone numbers, a distribution list's members, and any
/// item's categories. Values that are absent or empty give no line.
fn details(
    file: &mut Cfb<'_>,
    root: &Props,
    names: &[(u16, Name)],
    class: &str,
) -> Vec<(&'static str, String)> {
    let named = |guid: [u8; 16], id: NameId| {
        names.iter().find(|(_, name)| name.guid == guid && name.id == id).map(|(prop, _)| *prop)
    };
    let lid = |guid: [u8; 16], number: u32| named(guid, NameId::Number(number));
    let iso = quarry_types::iso_utc_from_unix;
    let mut out = Vec::new();
    // When a meeting is. The current start and end are named properties
    // (PidLidAppointmentStartWhole, PidLidAppointmentEndWhole); a changed occurrence keeps its
    // original time in the standard PR_START_DATE and PR_END_DATE, the fallback.
    for (label, number, standard) in [("Start", 0x820D, 0x0060), ("End", 0x820E, 0x0061)] {
        let named = lid(PSETID_APPOINTMENT, number).and_then(|prop| root.time(prop));
        if let Some(secs) = named.or_else(|| root.time(standard)) {
            out.push((label, iso(secs)));
        }
    }
    if let Some(place) = lid(PSETID_APPOINTMENT, 0x8208).and_then(|p| root.string(file, p)) {
        out.push(("Location", place));
    }
    if class.starts_with("ipm.task")
        && let Some(due) = lid(PSETID_TASK, 0x8105).and_then(|prop| root.time(prop))
    {
        out.push(("Due", iso(due)));
    }
    if class == "ipm.contact" || class.starts_with("ipm.contact.") {
        let standard = [("Name", 0x3001), ("Company", 0x3A16), ("Job title", 0x3A17)];
        for (label, id) in standard.into_iter().chain([("Department", 0x3A18)]) {
            if let Some(value) = root.string(file, id) {
                out.push((label, value));
            }
        }
        // PidLidEmail1EmailAddress, PidLidEmail2EmailAddress, PidLidEmail3EmailAddress.
        for number in [0x8083, 0x8093, 0x80A3] {
            if let Some(address) = lid(PSETID_ADDRESS, number).and_then(|p| root.string(file, p)) {
                out.push(("Email", address));
            }
        }
        let phones = [("Business phone", 0x3A08), ("Mobile phone", 0x3A1C), ("Home phone", 0x3A09)];
        for (label, id) in phones.into_iter().chain([("Business fax", 0x3A24)]) {
            if let Some(value) = root.string(file, id) {
                out.push((label, value));
            }
        }
        // PidLidWorkAddress, PidLidHomeAddress: several lines each.
        for (label, number) in [("Business address", 0x801B), ("Home address", 0x801A)] {
            if let Some(value) = lid(PSETID_ADDRESS, number).and_then(|p| root.string(file, p)) {
                let lines: Vec<&str> =
                    value.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
                out.push((label, lines.join(", ")));
            }
        }
    }
    if class == "ipm.distlist" || class.starts_with("ipm.distlist.") {
        // PidLidDistributionListOneOffMembers holds every member as a one-off address; the
        // wrapped entries of PidLidDistributionListMembers only where that is missing.
        let one_offs = lid(PSETID_ADDRESS, 0x8054).map(|p| root.multi_binary(file, p));
        let mut members: Vec<String> =
            one_offs.unwrap_or_default().iter().filter_map(|e| one_off(e)).collect();
        if members.is_empty() {
            let wrapped = lid(PSETID_ADDRESS, 0x8055).map(|p| root.multi_binary(file, p));
            members = wrapped.unwrap_or_default().iter().filter_map(|e| unwrapped(e)).collect();
        }
        if !members.is_empty() {
            out.push(("Members", members.join("; ")));
        }
    }
    // Outlook's categories (PidNameKeywords).
    let keywords = named(PS_PUBLIC_STRINGS, NameId::String("Keywords".to_owned()));
    let categories = keywords.map(|prop| root.multi_string(file, prop)).unwrap_or_default();
    if !categories.is_empty() {
        out.push(("Categories", categories.join("; ")));
    }
    out
}

/// The provider of one-off addresses ([MS-OXCDATA] 2.2.5.1).
const ONE_OFF_PROVIDER: [u8; 16] = [
    0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02,
];
/// The provider of a distribution list's wrapped member entries ([MS-OXOCNTC] 2.2.2.1.1).
const WRAPPED_PROVIDER: [u8; 16] = [
    0xC0, 0x91, 0xAD, 0xD3, 0x51, 0x9D, 0xCF, 0x11, 0xA4, 0xA9, 0x00, 0xAA, 0x00, 0x47, 0xFA, 0xA4,
];

/// A one-off entry id's address as `Name <address>` (or the one that is present).
fn one_off(entry: &[u8]) -> Option<String> {
    if entry.get(4..20)? != ONE_OFF_PROVIDER {
        return None;
    }
    let flags = u16::from_le_bytes([*entry.get(22)?, *entry.get(23)?]);
    let mut rest = entry.get(24..)?;
    let mut field = || -> Option<String> {
        if flags & 0x8000 != 0 {
            let end = rest.chunks_exact(2).position(|c| c == [0, 0])? * 2;
            let text = crate::text::utf16le(&rest[..end]);
            rest = &rest[end + 2..];
            Some(text)
        } else {
            let end = rest.iter().position(|&b| b == 0)?;
            let text = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&rest[..end]).0;
            rest = &rest[end + 1..];
            Some(text.into_owned())
        }
    };
    let (name, _kind, address) = (field()?, field()?, field()?);
    let (name, address) = (name.trim(), address.trim());
    Some(match (name.is_empty() || name.eq_ignore_ascii_case(address), address.is_empty()) {
        (true, true) => return None,
        (true, false) => address.to_owned(),
        (false, true) => name.to_owned(),
        (false, false) => format!("{name} <{address}>"),
    })
}

/// A wrapped member entry that holds a one-off address (one that points at a contact names no
/// address of its own).
fn unwrapped(entry: &[u8]) -> Option<String> {
    if entry.get(4..20)? != WRAPPED_PROVIDER || entry.get(20)? & 0x0F != 0 {
        return None;
    }
    one_off(entry.get(21..)?)
}

/// Copies the storage at `path` into a compound file of its own: an embedded message becomes a
/// standalone .msg. Its property stream's header grows from the embedded 24 bytes to the
/// top-level 32 ([MS-OXMSG] 2.4.1); everything else is copied as is.
fn storage_to_msg(file: &mut Cfb<'_>, path: &str) -> std::io::Result<Vec<u8>> {
    // Each entry's path in this file and in the copy. The name map is the whole file's, at its
    // root: the copy takes it along.
    let mut entries: Vec<(String, String, bool)> = Vec::new();
    for (from, prefix) in [(path, path), (NAMEID, "/")] {
        if from == NAMEID && !file.is_storage(NAMEID) {
            continue;
        }
        for entry in file.walk_storage(from)? {
            let source = entry.path().to_string_lossy().into_owned();
            let relative = if from == NAMEID {
                source.clone()
            } else {
                let Some(relative) = source.strip_prefix(prefix) else { continue };
                if relative.starts_with('/') { relative.to_owned() } else { format!("/{relative}") }
            };
            if relative != "/" {
                entries.push((source, relative, entry.is_storage()));
            }
        }
    }
    let mut out = cfb::CompoundFile::create(Cursor::new(Vec::new()))?;
    for (source, relative, is_storage) in entries {
        if is_storage {
            crate::pst::storage(&mut out, &relative)?;
            continue;
        }
        let mut data = Vec::new();
        file.open_stream(&source)?.read_to_end(&mut data)?;
        if relative == "/__properties_version1.0" && data.len() >= 24 {
            data.splice(24..24, [0u8; 8]);
        }
        out.create_stream(&relative)?.write_all(&data)?;
    }
    out.flush()?;
    Ok(out.into_inner().into_inner())
}

/// The paths of the root's storages named `prefix` and a number (recipients, attachments), in
/// the order of their numbers. The counts in the property stream's header are not trusted: a
/// damaged file could claim billions.
fn numbered_storages(file: &Cfb<'_>, prefix: &str) -> Vec<String> {
    let mut found: Vec<(u32, String)> = file
        .read_root_storage()
        .filter(|e| e.is_storage())
        .filter_map(|e| {
            let number = u32::from_str_radix(e.name().strip_prefix(prefix)?, 16).ok()?;
            Some((number, format!("/{}/", e.name())))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, path)| path).collect()
}

/// The fixed-size properties of one storage, and where its variable-size ones live.
struct Props {
    path: String,
    fixed: Vec<(u16, u16, [u8; 8])>,
    codepage: Option<u32>,
}

impl Props {
    fn read(file: &mut Cfb<'_>, path: &str, header: usize) -> Props {
        let mut raw = Vec::new();
        let stream = format!("{path}__properties_version1.0");
        if let Ok(mut s) = file.open_stream(&stream) {
            let _ = s.read_to_end(&mut raw);
        }
        let fixed = raw
            .get(header..)
            .unwrap_or_default()
            .chunks_exact(16)
            .map(|e| {
                let kind = u16::from_le_bytes([e[0], e[1]]);
                let id = u16::from_le_bytes([e[2], e[3]]);
                let mut value = [0; 8];
                value.copy_from_slice(&e[8..16]);
                (id, kind, value)
            })
            .collect();
        let mut props = Props { path: path.to_owned(), fixed, codepage: None };
        props.codepage = props.long(0x3FDE).or_else(|| props.long(0x3FFD)).map(|c| c as u32);
        props
    }

    fn long(&self, id: u16) -> Option<i32> {
        self.fixed
            .iter()
            .find(|(i, k, _)| *i == id && *k == PT_LONG)
            .map(|(_, _, v)| i32::from_le_bytes([v[0], v[1], v[2], v[3]]))
    }

    /// A PT_SYSTIME as Unix seconds.
    fn time(&self, id: u16) -> Option<i64> {
        let (_, _, v) = self.fixed.iter().find(|(i, k, _)| *i == id && *k == PT_SYSTIME)?;
        let ticks = u64::from_le_bytes(*v);
        // 0, and Outlook's "None" (4501-01-01), are no time.
        if ticks == 0 || ticks == OUTLOOK_NONE {
            return None;
        }
        let secs = quarry_types::unix_from_filetime(ticks);
        quarry_types::datable(secs).then_some(secs)
    }

    fn stream(&self, file: &mut Cfb<'_>, id: u16, kind: u16) -> Option<Vec<u8>> {
        let mut stream =
            file.open_stream(format!("{}__substg1.0_{id:04X}{kind:04X}", self.path)).ok()?;
        let mut out = Vec::new();
        stream.read_to_end(&mut out).ok()?;
        Some(out)
    }

    fn string(&self, file: &mut Cfb<'_>, id: u16) -> Option<String> {
        let text = if let Some(raw) = self.stream(file, id, PT_UNICODE) {
            crate::text::utf16le(&raw)
        } else {
            let raw = self.stream(file, id, PT_STRING8)?;
            let encoding =
                self.codepage.and_then(codepage_encoding).unwrap_or(encoding_rs::WINDOWS_1252);
            encoding.decode_without_bom_handling(&raw).0.into_owned()
        };
        let text = text.trim_end_matches('\0').trim().to_owned();
        (!text.is_empty()).then_some(text)
    }

    fn binary(&self, file: &mut Cfb<'_>, id: u16) -> Option<Vec<u8>> {
        self.stream(file, id, PT_BINARY)
    }

    /// The values of a multi-valued variable-size property: its length stream says how many
    /// ([MS-OXMSG] 2.1.4.1.3), each value is a stream of its own (`-00000000` on).
    fn values(&self, file: &mut Cfb<'_>, id: u16, kind: u16, entry: usize) -> Vec<Vec<u8>> {
        let count = self.stream(file, id, kind).map_or(0, |lengths| lengths.len() / entry);
        // A damaged length stream could claim millions; the streams that exist are the values.
        (0..count.min(65_536))
            .map_while(|index| {
                let name = format!("{}__substg1.0_{id:04X}{kind:04X}-{index:08X}", self.path);
                let mut out = Vec::new();
                file.open_stream(name).ok()?.read_to_end(&mut out).ok()?;
                Some(out)
            })
            .collect()
    }

    fn multi_binary(&self, file: &mut Cfb<'_>, id: u16) -> Vec<Vec<u8>> {
        self.values(file, id, PT_MV_BINARY, 8)
    }

    /// A multi-valued string property's non-empty values.
    fn multi_string(&self, file: &mut Cfb<'_>, id: u16) -> Vec<String> {
        let unicode = self.values(file, id, PT_MV_UNICODE, 4);
        let texts: Vec<String> = if unicode.is_empty() {
            let encoding =
                self.codepage.and_then(codepage_encoding).unwrap_or(encoding_rs::WINDOWS_1252);
            let raw = self.values(file, id, PT_MV_STRING8, 4);
            raw.iter().map(|r| encoding.decode_without_bom_handling(r).0.into_owned()).collect()
        } else {
            unicode.iter().map(|r| crate::text::utf16le(r)).collect()
        };
        texts
            .into_iter()
            .map(|t| t.trim_end_matches('\0').trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect()
    }
}

fn codepage_encoding(codepage: u32) -> Option<&'static encoding_rs::Encoding> {
    let label = match codepage {
        65001 => "utf-8",
        1200 => "utf-16le",
        932 => "shift_jis",
        936 => "gbk",
        949 => "euc-kr",
        950 => "big5",
        20127 | 28591 => "iso-8859-1",
        50220..=50222 => "iso-2022-jp",
        51932 => "euc-jp",
        cp @ 1250..=1258 => {
            return encoding_rs::Encoding::for_label(format!("windows-{cp}").as_bytes());
        }
        cp @ 28592..=28605 => {
            return encoding_rs::Encoding::for_label(format!("iso-8859-{}", cp - 28590).as_bytes());
        }
        _ => return None,
    };
    encoding_rs::Encoding::for_label(label.as_bytes())
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// Outlook's "None" time and times outside 1601 to 9999 are no time.
    #[test]
    fn systimes() {
        let ticks = |t: u64| Props {
            path: String::new(),
            fixed: vec![(0x0039, PT_SYSTIME, t.to_le_bytes())],
            codepage: None,
        };
        // 2001-05-14T16:39:00Z.
        assert_eq!(ticks(126_343_319_400_000_000).time(0x0039), Some(989_858_340));
        for none in [0, OUTLOOK_NONE, u64::MAX, 0x7FFF_FFFF_FFFF_FFFF] {
            assert_eq!(ticks(none).time(0x0039), None, "{none:#x}");
        }
    }

    /// A message with one attachment and one attached Outlook item, built with `cfb`.
    fn sample() -> Vec<u8> {
        use std::io::Write;
        let mut f = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
        let stream = |f: &mut cfb::CompoundFile<Cursor<Vec<u8>>>, path: &str, data: &[u8]| {
            f.create_stream(path).unwrap().write_all(data).unwrap();
        };
        let mut props = vec![0u8; 32];
        props[16] = 1; // recipients
        props[20] = 2; // attachments
        // PR_CLIENT_SUBMIT_TIME 2001-05-14T16:39:00Z as FILETIME.
        let ticks: u64 = (989_858_340 + 11_644_473_600) * 10_000_000;
        props.extend_from_slice(&[0x40, 0x00, 0x39, 0x00, 0, 0, 0, 0]);
        props.extend_from_slice(&ticks.to_le_bytes());
        stream(&mut f, "/__properties_version1.0", &props);
        stream(&mut f, "/__substg1.0_001A001F", &utf16("IPM.Note"));
        stream(&mut f, "/__substg1.0_0037001F", &utf16("Raptor memo"));
        stream(&mut f, "/__substg1.0_0C1A001F", &utf16("Richard Sanders"));
        stream(&mut f, "/__substg1.0_5D01001F", &utf16("richard.sanders@enron.com"));
        stream(&mut f, "/__substg1.0_1000001F", &utf16("Please keep this within legal."));
        f.create_storage("/__recip_version1.0_#00000000").unwrap();
        let mut recip = vec![0u8; 8];
        recip.extend_from_slice(&[0x03, 0x00, 0x15, 0x0C, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        stream(&mut f, "/__recip_version1.0_#00000000/__properties_version1.0", &recip);
        stream(
            &mut f,
            "/__recip_version1.0_#00000000/__substg1.0_3001001F",
            &utf16("Mark Haedicke"),
        );
        stream(
            &mut f,
            "/__recip_version1.0_#00000000/__substg1.0_39FE001F",
            &utf16("mark.haedicke@enron.com"),
        );
        f.create_storage("/__attach_version1.0_#00000000").unwrap();
        stream(&mut f, "/__attach_version1.0_#00000000/__properties_version1.0", &[0; 8]);
        stream(&mut f, "/__attach_version1.0_#00000000/__substg1.0_3707001F", &utf16("memo.txt"));
        stream(&mut f, "/__attach_version1.0_#00000000/__substg1.0_37010102", b"the memo");
        f.create_storage("/__attach_version1.0_#00000001").unwrap();
        stream(&mut f, "/__attach_version1.0_#00000001/__properties_version1.0", &[0; 8]);
        stream(
            &mut f,
            "/__attach_version1.0_#00000001/__substg1.0_3001001F",
            &utf16("Earlier note"),
        );
        let inner = "/__attach_version1.0_#00000001/__substg1.0_3701000D";
        f.create_storage(inner).unwrap();
        stream(&mut f, &format!("{inner}/__properties_version1.0"), &[0; 24]);
        stream(&mut f, &format!("{inner}/__substg1.0_001A001F"), &utf16("IPM.Note"));
        stream(&mut f, &format!("{inner}/__substg1.0_0037001F"), &utf16("Earlier note"));
        let inner_recip = format!("{inner}/__recip_version1.0_#00000000");
        f.create_storage(&inner_recip).unwrap();
        stream(&mut f, &format!("{inner_recip}/__properties_version1.0"), &[0; 8]);
        stream(&mut f, &format!("{inner_recip}/__substg1.0_3003001F"), &utf16("jdoe@velaw.com"));
        f.flush().unwrap();
        f.into_inner().into_inner()
    }

    #[test]
    fn message_recipients_attachments_and_embedded_item() {
        let bytes = sample();
        assert!(is_msg(&bytes));
        let email = parse(&bytes).unwrap();
        let m = &email.meta;
        assert_eq!(m.subject.as_deref(), Some("Raptor memo"));
        assert_eq!(m.from[0].to_string(), "Richard Sanders <richard.sanders@enron.com>");
        assert!(m.to.is_empty());
        assert_eq!(m.cc[0].to_string(), "Mark Haedicke <mark.haedicke@enron.com>");
        assert_eq!(m.sent.as_deref(), Some("2001-05-14T16:39:00Z"));
        assert!(email.text.ends_with("Please keep this within legal.\n"), "{}", email.text);
        assert_eq!(email.attachments.len(), 2);
        assert_eq!(email.attachments[0].name, "memo.txt");
        assert_eq!(email.attachments[0].bytes, b"the memo");
        assert_eq!(email.attachments[1].name, "Earlier note.msg");
        let inner = parse(&email.attachments[1].bytes).unwrap();
        assert_eq!(inner.meta.subject.as_deref(), Some("Earlier note"));
        assert!(email.unread.is_empty());
        // The copied-out item is the same bytes every time (storages carry no clock time), so
        // its hash and dedup are stable run after run.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(parse(&bytes).unwrap().attachments[1].bytes, email.attachments[1].bytes);
    }

    /// A damaged header that claims billions of recipients and attachments: the storages that
    /// exist are read, at once (this loop used to count to the claim).
    #[test]
    fn header_counts_are_not_trusted() {
        let mut bytes = sample();
        let mut file = cfb::CompoundFile::open(Cursor::new(&mut bytes)).unwrap();
        let mut props = Vec::new();
        file.open_stream("/__properties_version1.0").unwrap().read_to_end(&mut props).unwrap();
        props[16..24].fill(0xFF);
        file.create_stream("/__properties_version1.0").unwrap().write_all(&props).unwrap();
        file.flush().unwrap();
        drop(file);
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(parse(&bytes).map(|e| e.attachments.len())));
        let parsed = finished.recv_timeout(std::time::Duration::from_secs(20));
        assert!(matches!(parsed, Ok(Ok(2))), "{parsed:?}");
    }

    /// The hashes Outlook wrote for these names into the buckets of the PSTs in the corpus
    /// (`dist-list.pst`, pst-extractor's `enron.pst`).
    #[test]
    fn string_names_hash_as_outlook_hashes_them() {
        assert_eq!(name_crc(&utf16("content-class")), 0xE600_8F65);
        assert_eq!(name_crc(&utf16("STS_Id")), 0x3AE6_59DD);
        assert_eq!(name_crc(&utf16("XmlExtractedAddresses")), 0x9811_AE3C);
    }

    #[test]
    fn not_a_compound_file() {
        assert!(!is_msg(b"plain text"));
        assert!(matches!(parse(b"plain text"), Err(MsgError::Cfb(_))));
    }
}
