//! Outlook `.msg` files: a compound file (CFB/OLE2) of MAPI properties ([MS-OXMSG]).
//!
//! Read into the same [`Email`] as an RFC 5322 message: envelope, body, attachments, identity,
//! so a message exported from Outlook and the same message from a server's mailbox dedupe
//! together. Property streams are `__substg1.0_TTTTYYYY` (tag, type); fixed-size values
//! (times, recipient types) sit in `__properties_version1.0`.

use crate::email::{
    Attachment, Email, Sensitivity, hex, identity, marking_flags, with_header_block,
};
use quarry_types::{Address, EmailMeta};
use std::io::{Cursor, Read};

type Cfb<'a> = cfb::CompoundFile<Cursor<&'a [u8]>>;

const PT_STRING8: u16 = 0x001E;
const PT_UNICODE: u16 = 0x001F;
const PT_BINARY: u16 = 0x0102;
const PT_OBJECT: u16 = 0x000D;
const PT_SYSTIME: u16 = 0x0040;
const PT_LONG: u16 = 0x0003;

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
    for index in 0..root.recipients.max(storage_count(&file, "__recip_version1.0_#")) {
        let path = format!("/__recip_version1.0_#{index:08X}/");
        if !file.is_storage(&path) {
            continue;
        }
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
    if let Some(headers) = root.string(&mut file, 0x007D) {
        // Internet headers of a received message: the Date as the sender wrote it.
        if let Ok((parsed, _)) = mailparse::parse_headers(headers.as_bytes()) {
            use mailparse::MailHeaderMap;
            meta.date_raw = parsed.get_first_value("Date");
            if let Some(offset) = meta.date_raw.as_deref().and_then(crate::email::utc_offset) {
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

    let mut attachments = Vec::new();
    let mut unread = Vec::new();
    for index in 0..root.attachments.max(storage_count(&file, "__attach_version1.0_#")) {
        let path = format!("/__attach_version1.0_#{index:08X}/");
        if !file.is_storage(&path) {
            continue;
        }
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
    let identity = identity(&meta, &body, &attachments);
    // A calendar item's start and end (PR_START_DATE, PR_END_DATE): when the meeting is,
    // which the sent time is not. Shown in the header block, so review and search see it.
    let schedule: Vec<(&str, String)> = [("Start", 0x0060), ("End", 0x0061)]
        .into_iter()
        .filter_map(|(label, id)| Some((label, quarry_types::iso_utc_from_unix(root.time(id)?))))
        .collect();
    let text = with_header_block(&meta, &attachments, &schedule, &body);
    flags.sort();
    flags.dedup();
    Ok(Email { meta, text, attachments, identity, flags, unread })
}

/// Copies the storage at `path` into a compound file of its own: an embedded message becomes a
/// standalone .msg. Its property stream's header grows from the embedded 24 bytes to the
/// top-level 32 ([MS-OXMSG] 2.4.1); everything else is copied as is.
fn storage_to_msg(file: &mut Cfb<'_>, path: &str) -> std::io::Result<Vec<u8>> {
    let entries: Vec<(String, bool)> = file
        .walk_storage(path)?
        .map(|e| (e.path().to_string_lossy().into_owned(), e.is_storage()))
        .collect();
    let mut out = cfb::CompoundFile::create(Cursor::new(Vec::new()))?;
    for (entry, is_storage) in entries {
        let Some(relative) = entry.strip_prefix(path).filter(|r| !r.is_empty() && *r != "/") else {
            continue;
        };
        let relative =
            if relative.starts_with('/') { relative.to_owned() } else { format!("/{relative}") };
        if is_storage {
            crate::pst::storage(&mut out, &relative)?;
            continue;
        }
        let mut data = Vec::new();
        file.open_stream(&entry)?.read_to_end(&mut data)?;
        if relative == "/__properties_version1.0" && data.len() >= 24 {
            data.splice(24..24, [0u8; 8]);
        }
        std::io::Write::write_all(&mut out.create_stream(&relative)?, &data)?;
    }
    out.flush()?;
    Ok(out.into_inner().into_inner())
}

fn storage_count(file: &Cfb<'_>, prefix: &str) -> u32 {
    file.read_root_storage().filter(|e| e.is_storage() && e.name().starts_with(prefix)).count()
        as u32
}

/// The fixed-size properties of one storage, and where its variable-size ones live.
struct Props {
    path: String,
    fixed: Vec<(u16, u16, [u8; 8])>,
    recipients: u32,
    attachments: u32,
    codepage: Option<u32>,
}

impl Props {
    fn read(file: &mut Cfb<'_>, path: &str, header: usize) -> Props {
        let mut raw = Vec::new();
        let stream = format!("{path}__properties_version1.0");
        if let Ok(mut s) = file.open_stream(&stream) {
            let _ = s.read_to_end(&mut raw);
        }
        let u32_at = |at: usize| {
            raw.get(at..at + 4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let (recipients, attachments) =
            if header == 32 { (u32_at(16), u32_at(20)) } else { (0, 0) };
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
        let mut props =
            Props { path: path.to_owned(), fixed, recipients, attachments, codepage: None };
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
        if ticks == 0 {
            return None;
        }
        Some((ticks / 10_000_000) as i64 - 11_644_473_600)
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

    #[test]
    fn not_a_compound_file() {
        assert!(!is_msg(b"plain text"));
        assert!(matches!(parse(b"plain text"), Err(MsgError::Cfb(_))));
    }
}
