//! TNEF (`winmail.dat`, `application/ms-tnef`): the attachments Outlook wraps for other mail
//! systems ([MS-OXTNEF]). Each attachment becomes a child item of the TNEF part, so the files
//! join the family of the message that carried them.

/// The stream's first four bytes (0x223E9F78, little-endian).
pub const SIGNATURE: &[u8] = b"\x78\x9F\x3E\x22";

const LVL_ATTACHMENT: u8 = 2;
const ATT_ATTACH_REND_DATA: u16 = 0x9002;
const ATT_ATTACH_TITLE: u16 = 0x8010;
const ATT_ATTACH_DATA: u16 = 0x800F;
const ATT_ATTACHMENT: u16 = 0x9005;
const ATT_BODY: u16 = 0x800C;
const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
const PR_ATTACH_DATA_OBJ: u16 = 0x3701;
const PR_DISPLAY_NAME: u16 = 0x3001;
const ATT_MAPI_PROPS: u16 = 0x9003;
const PR_BODY: u16 = 0x1000;
const PR_HTML: u16 = 0x1013;
const PR_RTF_COMPRESSED: u16 = 0x1009;

/// What a TNEF stream holds.
#[derive(Debug, Default)]
pub struct Tnef {
    /// The plain-text body, when the stream carries one.
    pub body: Option<String>,
    /// The HTML body (PR_HTML), when the stream carries one.
    pub html: Option<Vec<u8>>,
    /// The RTF body, decompressed from PR_RTF_COMPRESSED.
    pub rtf: Option<Vec<u8>>,
    /// Attachments: name and bytes.
    pub attachments: Vec<(String, Vec<u8>)>,
    /// Embedded objects with no bytes to extract: their names.
    pub embedded_items: Vec<String>,
    /// The stream ended inside an attribute or had bytes after its last one.
    pub damaged: bool,
}

#[derive(Default)]
struct Pending {
    title: Option<String>,
    long_name: Option<String>,
    data: Option<Vec<u8>>,
    /// The attachment's object (PR_ATTACH_DATA_OBJ): an embedded OLE object or Outlook item,
    /// next to (or instead of) the data stream, which is then often a small rendering stub.
    object: Option<Vec<u8>>,
    empty_object: bool,
}

/// Parses a TNEF stream. Fails only when it does not start with the TNEF signature.
pub fn parse(bytes: &[u8]) -> Option<Tnef> {
    let mut rest = bytes.strip_prefix(SIGNATURE)?.get(2..)?;
    let mut tnef = Tnef::default();
    let mut current: Option<Pending> = None;
    let finish = |tnef: &mut Tnef, pending: Option<Pending>| {
        let Some(p) = pending else { return };
        let n = tnef.attachments.len() + tnef.embedded_items.len() + 1;
        let name = p
            .long_name
            .or(p.title)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("attachment {n}"));
        match (p.data, p.object) {
            (Some(data), Some(object)) if data != object => {
                tnef.attachments.push((format!("{name} (object)"), object));
                tnef.attachments.insert(tnef.attachments.len() - 1, (name, data));
            }
            (Some(data), _) | (None, Some(data)) => tnef.attachments.push((name, data)),
            (None, None) if p.empty_object => tnef.embedded_items.push(name),
            (None, None) => {}
        }
    };
    while !rest.is_empty() {
        let Some(header) = rest.get(..9) else {
            tnef.damaged = true;
            break;
        };
        let level = header[0];
        let id = u16::from_le_bytes([header[1], header[2]]);
        let len = u32::from_le_bytes([header[5], header[6], header[7], header[8]]) as usize;
        let Some(data) = rest.get(9..9 + len) else {
            tnef.damaged = true;
            break;
        };
        rest = rest.get(9 + len + 2..).unwrap_or_default();
        match (level, id) {
            (LVL_ATTACHMENT, ATT_ATTACH_REND_DATA) => {
                finish(&mut tnef, current.take());
                current = Some(Pending::default());
            }
            (LVL_ATTACHMENT, ATT_ATTACH_TITLE) => {
                current.get_or_insert_default().title = Some(cstring(data));
            }
            (LVL_ATTACHMENT, ATT_ATTACH_DATA) => {
                current.get_or_insert_default().data = Some(data.to_vec());
            }
            (LVL_ATTACHMENT, ATT_ATTACHMENT) => {
                let pending = current.get_or_insert_default();
                for (prop, kind, value) in mapi_props(data) {
                    match prop {
                        PR_ATTACH_LONG_FILENAME | PR_DISPLAY_NAME
                            if pending.long_name.is_none() || prop == PR_ATTACH_LONG_FILENAME =>
                        {
                            if let Some(name) = prop_string(kind, value) {
                                pending.long_name = Some(name);
                            }
                        }
                        // An embedded object (an attached Outlook item is a compound file) is
                        // kept as its bytes, the interface id in front removed, so the
                        // extractor opens it like any attached file.
                        PR_ATTACH_DATA_OBJ if kind == 0x000D && value.is_empty() => {
                            pending.empty_object = true;
                        }
                        PR_ATTACH_DATA_OBJ if kind == 0x000D => {
                            pending.object = Some(value.to_vec());
                        }
                        PR_ATTACH_DATA_OBJ if kind == 0x0102 && pending.data.is_none() => {
                            pending.data = Some(value.to_vec());
                        }
                        _ => {}
                    }
                }
            }
            (_, ATT_BODY) => tnef.body = Some(cstring(data)),
            (1, ATT_MAPI_PROPS) => {
                for (prop, kind, value) in mapi_props(data) {
                    match prop {
                        PR_BODY if tnef.body.is_none() => tnef.body = prop_string(kind, value),
                        PR_HTML => tnef.html = Some(value.to_vec()),
                        PR_RTF_COMPRESSED => tnef.rtf = crate::rtf::decompress(value),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    finish(&mut tnef, current.take());
    Some(tnef)
}

impl Tnef {
    /// The message text: the plain body, else the HTML body as text, else the RTF body as text.
    #[must_use]
    pub fn text(&self) -> Option<String> {
        if let Some(body) = self.body.as_deref().filter(|b| !b.trim().is_empty()) {
            return Some(body.to_owned());
        }
        if let Some(html) = &self.html {
            return Some(crate::text::html_to_text(&crate::text::decode(html)));
        }
        self.rtf.as_deref().map(crate::rtf::to_text).filter(|t| !t.is_empty())
    }
}

fn cstring(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    encoding_rs::WINDOWS_1252.decode_without_bom_handling(&data[..end]).0.trim().to_owned()
}

fn prop_string(kind: u16, value: &[u8]) -> Option<String> {
    let text = match kind {
        0x001F => crate::text::utf16le(value),
        0x001E => cstring(value),
        _ => return None,
    };
    let text = text.trim_end_matches('\0').trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The properties of a MAPI property list ([MS-OXTNEF] 2.1.3.4): `(id, type, first value)`.
/// Stops quietly at the first property it cannot size.
fn mapi_props(data: &[u8]) -> Vec<(u16, u16, &[u8])> {
    let mut out = Vec::new();
    let u32_at = |d: &[u8], at: usize| {
        d.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let Some(count) = u32_at(data, 0) else { return out };
    let mut at = 4;
    for _ in 0..count {
        let Some(head) = data.get(at..at + 4) else { break };
        let kind = u16::from_le_bytes([head[0], head[1]]);
        let id = u16::from_le_bytes([head[2], head[3]]);
        at += 4;
        if id >= 0x8000 {
            // Named property: GUID, kind, then an id or a name.
            at += 16;
            match u32_at(data, at) {
                Some(0) => at += 8,
                Some(_) => {
                    let Some(len) = u32_at(data, at + 4) else { break };
                    at += 8 + len.div_ceil(4) * 4;
                }
                None => break,
            }
        }
        let multi = kind & 0x1000 != 0;
        let base = kind & 0x0FFF;
        let fixed = match base {
            0x0002 | 0x0003 | 0x0004 | 0x000A | 0x000B => Some(4),
            0x0005 | 0x0006 | 0x0007 | 0x0014 | 0x0040 => Some(8),
            0x0048 => Some(16),
            _ => None,
        };
        let values = if multi || fixed.is_none() {
            let Some(n) = u32_at(data, at) else { break };
            at += 4;
            n
        } else {
            1
        };
        let mut first: Option<&[u8]> = None;
        for _ in 0..values {
            let size = match fixed {
                Some(size) => size,
                None => {
                    let Some(len) = u32_at(data, at) else { return out };
                    at += 4;
                    len
                }
            };
            let Some(value) = data.get(at..at + size) else { return out };
            // PT_OBJECT values start with the interface id of the object.
            let value = if base == 0x000D { value.get(16..).unwrap_or_default() } else { value };
            first.get_or_insert(value);
            at += size.div_ceil(4) * 4;
        }
        out.push((id, base, first.unwrap_or_default()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(out: &mut Vec<u8>, level: u8, id: u16, kind: u16, data: &[u8]) {
        out.push(level);
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        let sum = data.iter().map(|&b| u32::from(b)).sum::<u32>() as u16;
        out.extend_from_slice(&sum.to_le_bytes());
    }

    #[test]
    fn attachments_with_titles() {
        let mut s = SIGNATURE.to_vec();
        s.extend_from_slice(&[0x01, 0x00]);
        attribute(&mut s, 1, ATT_BODY, 0x0001, b"Hello\0");
        attribute(&mut s, 2, ATT_ATTACH_REND_DATA, 0x0006, &[0; 14]);
        attribute(&mut s, 2, ATT_ATTACH_TITLE, 0x0001, b"a.txt\0");
        attribute(&mut s, 2, ATT_ATTACH_DATA, 0x0006, b"first");
        attribute(&mut s, 2, ATT_ATTACH_REND_DATA, 0x0006, &[0; 14]);
        attribute(&mut s, 2, ATT_ATTACH_DATA, 0x0006, b"second");
        let t = parse(&s).unwrap();
        assert_eq!(t.body.as_deref(), Some("Hello"));
        assert_eq!(
            t.attachments,
            [("a.txt".into(), b"first".to_vec()), ("attachment 2".into(), b"second".to_vec())]
        );
        assert!(!t.damaged);
        assert!(parse(b"not tnef").is_none());
    }
}
