//! RFC 5322 / MIME messages: envelope metadata, body text, attachments and the identity hash.
//!
//! mailparse gives the raw MIME tree (which the family needs: every attachment and embedded
//! message becomes a child item) and decodes charsets through encoding_rs, legacy CJK ones
//! included. This module turns that tree into what review needs; it does no I/O, so the
//! extractor decides where bytes go.

use crate::text;
use mailparse::{DispositionType, MailAddr, MailHeader, ParsedMail};
use quarry_types::{Address, EmailMeta};
use std::fmt::Write as _;

/// A parsed message.
#[derive(Debug)]
pub struct Email {
    /// Envelope headers.
    pub meta: EmailMeta,
    /// The text to store: a header block, a blank line, then the body.
    pub text: String,
    /// Attachments and embedded messages, in MIME order.
    pub attachments: Vec<Attachment>,
    /// The identity hash (hex blake3; see [`identity`]).
    pub identity: String,
    /// Things that went wrong without stopping the parse (`body-decode-error`, ...).
    pub flags: Vec<String>,
    /// Members quarry cannot read yet (an Outlook item embedded in a .msg): name and reason.
    /// Each becomes an `unsupported` exception in the family, so it is accounted for.
    pub unread: Vec<(String, String)>,
}

/// One attachment or embedded message, decoded from its transfer encoding.
#[derive(Debug)]
pub struct Attachment {
    /// Its file name, or a made-up `attachment N.ext` when the message gives none.
    pub name: String,
    /// Its MIME type.
    pub mime_type: String,
    /// The decoded bytes.
    pub bytes: Vec<u8>,
    /// An embedded `message/rfc822` part.
    pub message: bool,
}

/// Parses one message. Fails only when the header block itself cannot be read.
pub fn parse(raw: &[u8]) -> Result<Email, mailparse::MailParseError> {
    // Classic Mac OS line ends (CR only) are read as LF; the native keeps its bytes.
    let head = &raw[..raw.len().min(64 << 10)];
    let normalized;
    let raw = if memchr::memchr(b'\n', head).is_none() && memchr::memchr(b'\r', head).is_some() {
        normalized = raw.iter().map(|&b| if b == b'\r' { b'\n' } else { b }).collect::<Vec<u8>>();
        &normalized[..]
    } else {
        raw
    };
    let mail = mailparse::parse_mail(raw)?;
    let headers = &mail.headers;
    let mut flags = Vec::new();
    let value = |key: &str| named(headers, key).next().map(header_value).filter(|v| !v.is_empty());

    let mut meta = EmailMeta {
        from: addresses(headers, "From"),
        to: addresses(headers, "To"),
        cc: addresses(headers, "Cc"),
        bcc: addresses(headers, "Bcc"),
        subject: value("Subject"),
        message_id: value("Message-ID").map(|v| v.trim().to_owned()),
        in_reply_to: value("In-Reply-To"),
        references: value("References"),
        thread_index: value("Thread-Index"),
        x_folder: value("X-Folder"),
        x_origin: value("X-Origin"),
        x_filename: value("X-FileName"),
        ..EmailMeta::default()
    };
    // Exports from Lotus Notes (the Enron set among them) carry the sender's display name in
    // X-From while From holds only the address.
    if let ([from], Some(x_from)) = (meta.from.as_mut_slice(), value("X-From"))
        && from.name.is_none()
        && !x_from.contains('@')
    {
        from.name = Some(x_from.trim().to_owned());
    }
    if let Some(date) = value("Date") {
        match crate::maildate::sent(&date) {
            Some((secs, offset)) => {
                meta.sent = Some(quarry_types::iso_utc_from_unix(secs));
                meta.sent_offset = offset;
            }
            None => flags.push("date-unparsed".to_owned()),
        }
        meta.date_raw = Some(date);
    }
    // The last hop's Received header comes first; its date follows the last `;`.
    meta.received = named(headers, "Received")
        .next()
        .map(header_value)
        .and_then(|trace| Some(crate::maildate::sent(trace.rsplit_once(';')?.1)?.0))
        .map(quarry_types::iso_utc_from_unix);
    // How the sender marked it: Importance (RFC 2156), else X-Priority or Priority; Sensitivity.
    let importance = match value("Importance").map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("high") => Some(true),
        Some(_) => Some(false),
        None => match value("X-Priority").and_then(|v| v.trim().bytes().next()) {
            Some(b'1' | b'2') => Some(true),
            Some(_) => Some(false),
            None => value("Priority").map(|v| v.trim().eq_ignore_ascii_case("urgent")),
        },
    };
    let sensitivity = match value("Sensitivity").map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("personal") => Some(Sensitivity::Personal),
        Some("private") => Some(Sensitivity::Private),
        Some("company-confidential") => Some(Sensitivity::Confidential),
        _ => None,
    };
    flags.extend(marking_flags(importance == Some(true), sensitivity));

    let mut walk = Walk { bodies: Vec::new(), attachments: Vec::new(), flags: &mut flags };
    walk.part(&mail);
    let body = walk.bodies.join("\n\n");
    let attachments = walk.attachments;
    meta.attachments = attachments.len() as u64;

    let identity = identity(&meta, &body, &attachments);
    meta.mih = meta.message_id.as_deref().map(|id| {
        use md5::Digest as _;
        hex(&md5::Md5::digest(id.as_bytes()))
    });
    let text = with_header_block(&meta, &attachments, &[], &body);
    flags.sort();
    flags.dedup();
    Ok(Email { meta, text, attachments, identity, flags, unread: Vec::new() })
}

/// The email identity (FORMATS.md §4): blake3 over the normalized sender, recipients (To, Cc,
/// Bcc: addresses lower-cased and sorted, display names ignored), subject (whitespace
/// collapsed), sent time in UTC seconds, body with all whitespace removed, and the sorted
/// blake3 hashes of the attachments. Copies of one message that differ only in transport
/// headers (Message-ID, X-Folder, Received, line endings, wrapping) share it.
#[must_use]
pub fn identity(meta: &EmailMeta, body: &str, attachments: &[Attachment]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"quarry-email-identity-v1\0");
    for list in [&meta.from, &meta.to, &meta.cc, &meta.bcc] {
        let mut addrs: Vec<String> = list
            .iter()
            .map(|a| {
                if a.address.is_empty() {
                    a.name.clone().unwrap_or_default().to_lowercase()
                } else {
                    a.address.trim().to_lowercase()
                }
            })
            .collect();
        addrs.sort();
        addrs.dedup();
        hasher.update(addrs.join(";").as_bytes());
        hasher.update(b"\0");
    }
    let subject = meta.subject.as_deref().unwrap_or("");
    hasher.update(subject.split_whitespace().collect::<Vec<_>>().join(" ").as_bytes());
    hasher.update(b"\0");
    hasher.update(meta.sent.as_deref().or(meta.date_raw.as_deref()).unwrap_or("").as_bytes());
    hasher.update(b"\0");
    // One update over a whitespace-free copy: blake3 per character costs ten times the parse.
    hasher.update(&without_whitespace(body));
    hasher.update(b"\0");
    let mut hashes: Vec<blake3::Hash> =
        attachments.iter().map(|a| blake3::hash(&a.bytes)).collect();
    hashes.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for hash in hashes {
        hasher.update(hash.as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

/// `text` with every Unicode whitespace character removed (the identity hashes every body:
/// measured as the largest cost of the parse). ASCII bytes are tested without a branch: each
/// is written, and the write is kept only when it is not whitespace, so the one branch per
/// byte (ASCII or not) is the one the processor predicts.
fn without_whitespace(text: &str) -> Vec<u8> {
    // Bits 9-13 (tab, line feed, vertical tab, form feed, carriage return) and 32 (space).
    const ASCII_SPACE: u64 = 0x1_0000_3E00;
    let bytes = text.as_bytes();
    let mut out = vec![0; bytes.len()];
    let mut len = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii() {
            let space = (b <= b' ') & ((ASCII_SPACE >> (b & 63)) & 1 == 1);
            out[len] = b;
            len += usize::from(!space);
            i += 1;
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            let end = i + c.len_utf8();
            if !c.is_whitespace() {
                out[len..len + end - i].copy_from_slice(&bytes[i..end]);
                len += end - i;
            }
            i = end;
        }
    }
    out.truncate(len);
    out
}

struct Walk<'f> {
    bodies: Vec<String>,
    attachments: Vec<Attachment>,
    flags: &'f mut Vec<String>,
}

impl Walk<'_> {
    fn part(&mut self, part: &ParsedMail<'_>) {
        let mime = mime_type(part);
        if mime.starts_with("multipart/") && !part.subparts.is_empty() {
            if mime == "multipart/alternative" {
                // One rendition is the body: plain text if there is one (the sender's own
                // words, not a renderer's), else the richest other. The others' text is the
                // same content again; anything else in them (the images of an HTML rendition)
                // is still a member of the family.
                let chosen = part
                    .subparts
                    .iter()
                    .find(|p| is_body_text(p, "text/plain"))
                    .or_else(|| part.subparts.iter().rev().find(|p| !is_attachment(p)))
                    .unwrap_or(&part.subparts[0]);
                self.part(chosen);
                for other in part.subparts.iter().filter(|p| !std::ptr::eq(*p, chosen)) {
                    let bodies = self.bodies.len();
                    self.part(other);
                    self.bodies.truncate(bodies);
                }
                return;
            }
            for sub in &part.subparts {
                self.part(sub);
            }
            return;
        }
        if mime.starts_with("multipart/") {
            // A multipart with no parts (a missing or wrong boundary): its body is all there is.
            self.flags.push("mime-empty-multipart".to_owned());
            self.bodies.push(text::decode(body_bytes(part, self.flags).as_slice()));
            return;
        }
        // A text part with a file name is a file the sender attached, shown inline or not,
        // unless the message has no body before it: then it is the body (a bounce's
        // `deliveryproblems.txt`). So Python's `get_body` and `iter_attachments` split them,
        // and stalwart lists them; mail clients list them as attachments.
        let named_file = file_name(part).is_some() && !self.bodies.is_empty();
        if (is_body_text(part, "text/plain") || is_body_text(part, "text/html")) && !named_file {
            let body = match part.get_body() {
                Ok(body) => self.misdeclared(part, body),
                Err(_) => {
                    self.flags.push("body-decode-error".to_owned());
                    text::decode(part.raw_bytes)
                }
            };
            let body = if mime == "text/html" { text::html_to_text(&body) } else { body };
            let body = body.trim_end().to_owned();
            if !body.is_empty() {
                self.bodies.push(body);
            }
            return;
        }
        let message = mime == "message/rfc822" || mime == "message/global";
        // An embedded message's transfer encoding is undone; its own MIME tree is left for the
        // extractor, which opens it as a child email.
        let bytes = body_bytes(part, self.flags);
        let name = file_name(part).unwrap_or_else(|| {
            let n = self.attachments.len() + 1;
            let ext = if message { "eml" } else { extension(&mime) };
            format!("attachment {n}.{ext}")
        });
        self.attachments.push(Attachment { name, mime_type: mime, bytes, message });
    }

    /// A text part's body as its declared charset decodes it, unless that decoding failed
    /// (U+FFFD where bytes did not fit the charset) and another reading fits every byte; then
    /// that reading, and the message is flagged `charset-mislabelled`:
    /// - bytes that are valid UTF-8 are read as UTF-8: mail relabelled in transit or by a
    ///   converter, such as UTF-8 declared as ISO-2022-JP (a 7-bit charset: any byte above
    ///   0x7F is out of it);
    /// - declared UTF-8 whose bytes hold no valid multi-byte sequence at all, only stray bytes
    ///   above 0x7F, is read as Windows-1252 (Latin-1 text labelled UTF-8: `Fr=F6sche`).
    ///   One bad byte in otherwise valid UTF-8 is damage, and stays U+FFFD.
    ///
    /// A charset in which every byte decodes (ISO-8859-1 and the like) is never second-guessed.
    fn misdeclared(&mut self, part: &ParsedMail<'_>, body: String) -> String {
        if !body.contains('\u{fffd}') {
            return body;
        }
        let Ok(raw) = part.get_body_raw() else { return body };
        let read = match std::str::from_utf8(&raw) {
            Ok(utf8) => utf8.to_owned(),
            Err(_) => {
                let charset = part.ctype.charset.trim().to_ascii_lowercase();
                let lossy = String::from_utf8_lossy(&raw);
                let stray_bytes_only = lossy.chars().all(|c| c.is_ascii() || c == '\u{fffd}');
                if !matches!(charset.as_str(), "utf-8" | "utf8") || !stray_bytes_only {
                    return body;
                }
                encoding_rs::WINDOWS_1252.decode_without_bom_handling(&raw).0.into_owned()
            }
        };
        if read.contains('\u{fffd}') {
            return body;
        }
        if !self.flags.iter().any(|f| f == "charset-mislabelled") {
            self.flags.push("charset-mislabelled".to_owned());
        }
        read
    }
}

fn body_bytes(part: &ParsedMail<'_>, flags: &mut Vec<String>) -> Vec<u8> {
    // uuencode, a transfer encoding older than MIME's that mailparse passes through as text.
    use mailparse::MailHeaderMap;
    let encoding = part.headers.get_first_value("Content-Transfer-Encoding").unwrap_or_default();
    if matches!(encoding.trim().to_ascii_lowercase().as_str(), "x-uuencode" | "uuencode" | "x-uue")
    {
        let raw = part.get_body_raw().unwrap_or_default();
        return uudecode(&raw).unwrap_or_else(|| {
            flags.push("body-decode-error".to_owned());
            raw
        });
    }
    part.get_body_raw().unwrap_or_else(|_| {
        // A broken transfer encoding: keep the encoded bytes rather than lose the part.
        flags.push("body-decode-error".to_owned());
        use mailparse::body::Body;
        match part.get_body_encoded() {
            Body::Base64(b) | Body::QuotedPrintable(b) => b.get_raw().to_vec(),
            Body::SevenBit(b) | Body::EightBit(b) => b.get_raw().to_vec(),
            Body::Binary(b) => b.get_raw().to_vec(),
        }
    })
}

/// The data of a uuencoded body: the lines between `begin <mode> <name>` and `end`, each a
/// length character and groups of four characters for three bytes (each character 0x20 plus
/// six bits; the backquote stands for zero). `None` when there is no `begin` line, a line is
/// shorter than its length says or holds a character out of the range, or `end` is missing.
fn uudecode(raw: &[u8]) -> Option<Vec<u8>> {
    let mut lines = raw.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    lines.find(|l| l.starts_with(b"begin "))?;
    let six = |c: u8| (0x20..=0x60).contains(&c).then_some((c.wrapping_sub(0x20)) & 0x3F);
    let mut out = Vec::with_capacity(raw.len() * 3 / 4);
    for line in lines {
        if line == b"end" {
            return Some(out);
        }
        let Some(&first) = line.first() else { continue };
        let len = usize::from(six(first)?);
        // Writers drop trailing spaces: pad with what they stood for (zero bits).
        let chars: Vec<u8> = line[1..]
            .iter()
            .copied()
            .chain(std::iter::repeat(b' '))
            .take(len.div_ceil(3) * 4)
            .map(six)
            .collect::<Option<_>>()?;
        let mut bytes = Vec::with_capacity(len + 2);
        for group in chars.chunks(4) {
            let n = (u32::from(group[0]) << 18)
                | (u32::from(group[1]) << 12)
                | (u32::from(group[2]) << 6)
                | u32::from(group[3]);
            bytes.extend_from_slice(&n.to_be_bytes()[1..]);
        }
        out.extend_from_slice(&bytes[..len]);
    }
    None
}

/// A text part meant to be read as the message (not a file attached to it).
fn is_body_text(part: &ParsedMail<'_>, mime: &str) -> bool {
    mime_type(part) == mime && !is_attachment(part)
}

/// The part's media type, lower-cased. A value that is not `type/subtype` (`Content-Type:
/// text`, which some mailers write) is read as `text/plain`, as RFC 2045 §5.2 says and as mail
/// clients show it; mailparse passes it through as written, and the body became an attachment.
/// A part with such a value and a file name (`application-x-gzip; name="document.xml.gz"`) is
/// a file all the same, and is read as `application/octet-stream`.
fn mime_type(part: &ParsedMail<'_>) -> String {
    let mime = part.ctype.mimetype.trim().to_ascii_lowercase();
    match mime.split_once('/') {
        Some((kind, sub)) if !kind.is_empty() && !sub.is_empty() && !sub.contains('/') => mime,
        _ if file_name(part).is_some() => "application/octet-stream".to_owned(),
        _ => "text/plain".to_owned(),
    }
}

fn is_attachment(part: &ParsedMail<'_>) -> bool {
    let disposition = part.get_content_disposition();
    disposition.disposition == DispositionType::Attachment
        || (disposition.disposition != DispositionType::Inline && file_name(part).is_some())
}

/// The part's file name: Content-Disposition `filename` (RFC 2231 continuations and charsets
/// decoded by mailparse), else Content-Type `name`.
fn file_name(part: &ParsedMail<'_>) -> Option<String> {
    let disposition = part.get_content_disposition();
    disposition
        .params
        .get("filename")
        .or_else(|| part.ctype.params.get("name"))
        .map(|n| decode_words(n).trim().to_owned())
        .filter(|n| !n.is_empty())
}

fn extension(mime: &str) -> &'static str {
    match mime {
        "application/pdf" => "pdf",
        "application/zip" | "application/x-zip-compressed" => "zip",
        "text/plain" => "txt",
        "text/html" => "html",
        "text/calendar" => "ics",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "application/ms-tnef" => "dat",
        _ => "bin",
    }
}

/// A header's value, unfolded and decoded (RFC 2047 encoded words, then a lenient second pass
/// for the encoded words mailparse leaves raw: no surrounding space, unknown charset).
fn header_value(header: &MailHeader<'_>) -> String {
    let raw = header.get_value_raw();
    plain_value(raw).unwrap_or_else(|| decoded_value(header))
}

/// A header value with nothing to unfold or decode, which mailparse would give back unchanged:
/// most of them, and cheaper read as it stands.
fn plain_value(raw: &[u8]) -> Option<String> {
    let plain = raw.is_ascii() && !raw.iter().any(|&b| b == b'\r' || b == b'\n');
    (plain && !contains(raw, b"=?")).then(|| String::from_utf8_lossy(raw).trim().to_owned())
}

fn decoded_value(header: &MailHeader<'_>) -> String {
    let raw = header.get_value_raw();
    if !raw.is_ascii() && contains(raw, b"=?") {
        // Raw 8-bit bytes inside an encoded word, which mailparse drops: decode the raw value
        // (UTF-8, else Windows-1252), unfold it, then decode the words around those bytes.
        let text = match std::str::from_utf8(raw) {
            Ok(text) => text.to_owned(),
            Err(_) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0.into_owned(),
        };
        let unfolded: String = text.chars().filter(|&c| c != '\r' && c != '\n').collect();
        return decode_words(&unfolded).trim().to_owned();
    }
    let value = header.get_value();
    let value = if value.contains("=?") { decode_words(&value) } else { value };
    value.trim().to_owned()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// Decodes RFC 2047 encoded words wherever they sit in `s`; undecodable ones stay as written.
#[must_use]
pub fn decode_words(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, from) = rest.split_at(start);
        let decoded = encoded_word(from);
        // Whitespace between two encoded words is not part of the text (RFC 2047 §6.2).
        if !(last_was_word && decoded.is_some() && before.trim().is_empty()) {
            out.push_str(before);
        }
        match decoded {
            Some((text, used)) => {
                out.push_str(&text);
                rest = &from[used..];
                last_was_word = true;
            }
            None => {
                out.push_str("=?");
                rest = &from[2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes one `=?charset?B|Q?text?=` at the start of `s`: the text and the bytes consumed.
fn encoded_word(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix("=?")?;
    let q1 = body.find('?')?;
    let charset = body[..q1].split('*').next()?; // RFC 2231 language suffix
    let encoding = body.get(q1 + 1..q1 + 2)?;
    if body.get(q1 + 2..q1 + 3)? != "?" {
        return None;
    }
    let payload_start = q1 + 3;
    let end = body[payload_start..].find("?=")? + payload_start;
    let payload = &body[payload_start..end];
    let charset = encoding_rs::Encoding::for_label(charset.trim().as_bytes())
        .unwrap_or(encoding_rs::WINDOWS_1252);
    // Mailers that put raw 8-bit bytes inside an encoded word leave characters the header
    // decoder already turned into Unicode: those pass through, the encoded bytes around them
    // are decoded in the word's charset.
    let mut text = String::new();
    for (ascii, run) in runs(payload) {
        if !ascii {
            text.push_str(run);
            continue;
        }
        let bytes = match encoding {
            "B" | "b" => base64_decode(run)?,
            "Q" | "q" => q_decode(run),
            _ => return None,
        };
        text.push_str(&charset.decode_without_bom_handling(&bytes).0);
    }
    Some((text, 2 + end + 2))
}

/// Splits `s` into maximal runs of ASCII and non-ASCII characters.
fn runs(s: &str) -> impl Iterator<Item = (bool, &str)> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let ascii = first.is_ascii();
        let len = rest.find(|c: char| c.is_ascii() != ascii).unwrap_or(rest.len());
        let (run, tail) = rest.split_at(len);
        rest = tail;
        Some((ascii, run))
    })
}

fn q_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' => {
                match bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'='),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// The mailboxes of every header named `key`, decoded; a header the address parser rejects
/// is kept as written, so no recipient is lost to a syntax error.
fn addresses(headers: &[MailHeader<'_>], key: &str) -> Vec<Address> {
    let mut out = Vec::new();
    for header in named(headers, key) {
        if let Some(plain) = plain_addresses(header.get_value_raw()) {
            out.extend(plain.map(|a| Address { name: None, address: a.to_owned() }));
            continue;
        }
        match mailparse::addrparse_header(header) {
            Ok(list) => {
                for addr in list.into_inner() {
                    match addr {
                        MailAddr::Single(info) => out.push(address(info)),
                        MailAddr::Group(group) => out.extend(group.addrs.into_iter().map(address)),
                    }
                }
            }
            Err(_) => {
                let raw = header_value(header);
                out.extend(
                    raw.split([',', ';'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Address { name: None, address: s.to_owned() }),
                );
            }
        }
    }
    out
}

/// The headers named `key`, in order. mailparse's own lookup decodes every header's name to
/// compare it; comparing the bytes is the same test (an ASCII name matches only ASCII bytes),
/// without the decoding, which showed in the profile.
fn named<'h, 'a>(
    headers: &'h [MailHeader<'a>],
    key: &str,
) -> impl Iterator<Item = &'h MailHeader<'a>> {
    headers.iter().filter(move |h| h.get_key_raw().eq_ignore_ascii_case(key.as_bytes()))
}

/// A list of bare addresses (`a@example.com, b@example.com`, folded or not), which is most of
/// what mail systems write: the addresses, as mailparse's address parser would give them.
/// `None` for anything else (display names, quotes, comments, groups, encoded words, empty
/// entries), which the parser reads.
fn plain_addresses(raw: &[u8]) -> Option<impl Iterator<Item = &str>> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"@.-_+&'!#$%*/^`{|}~".contains(&b);
    let space = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    if !raw.iter().all(|&b| plain(b) || space(b) || b == b',') {
        return None;
    }
    let text = std::str::from_utf8(raw).ok()?;
    let ok = text.split(',').all(|a| {
        let a = a.trim_matches(|c: char| space(c as u8));
        !a.is_empty() && a.contains('@') && a.bytes().all(plain)
    });
    ok.then(|| text.split(',').map(str::trim))
}

fn address(info: mailparse::SingleInfo) -> Address {
    let name = info
        .display_name
        .map(|n| decode_words(&n).trim().trim_matches(['"', '\'']).trim().to_owned())
        .filter(|n| !n.is_empty());
    Address { name, address: info.addr.trim().to_owned() }
}

/// The stored text of a message: the headers a reader expects above the body.
/// How the sender marked a message's sensitivity (none is no mark).
#[derive(Clone, Copy)]
pub(crate) enum Sensitivity {
    Personal,
    Private,
    Confidential,
}

/// The sender's marks as item flags, the same for every format: `importance-high`,
/// `sensitivity-personal`, `sensitivity-private`, `sensitivity-confidential` (a message marked
/// confidential is a lead for the privilege screen, not a decision). Low importance is not
/// kept: converted mailboxes mark most messages low by default (69 of the 71 of the EDRM Enron
/// PST), and a flag on nearly everything would hide the marks that matter.
pub(crate) fn marking_flags(
    high_importance: bool,
    sensitivity: Option<Sensitivity>,
) -> impl Iterator<Item = String> {
    let importance = high_importance.then_some("importance-high");
    let sensitivity = sensitivity.map(|s| match s {
        Sensitivity::Personal => "sensitivity-personal",
        Sensitivity::Private => "sensitivity-private",
        Sensitivity::Confidential => "sensitivity-confidential",
    });
    importance.into_iter().chain(sensitivity).map(str::to_owned)
}

pub(crate) fn with_header_block(
    meta: &EmailMeta,
    attachments: &[Attachment],
    more: &[(&str, String)],
    body: &str,
) -> String {
    let mut out = String::with_capacity(body.len() + 256);
    let list =
        |addrs: &[Address]| addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    for (label, addrs) in
        [("From", &meta.from), ("To", &meta.to), ("Cc", &meta.cc), ("Bcc", &meta.bcc)]
    {
        if !addrs.is_empty() {
            let _ = writeln!(out, "{label}: {}", list(addrs));
        }
    }
    if let Some(date) = &meta.date_raw {
        let _ = writeln!(out, "Date: {date}");
    }
    if let Some(subject) = &meta.subject {
        let _ = writeln!(out, "Subject: {subject}");
    }
    for (label, value) in more {
        let _ = writeln!(out, "{label}: {value}");
    }
    if !attachments.is_empty() {
        let names: Vec<&str> = attachments.iter().map(|a| a.name.as_str()).collect();
        let _ = writeln!(out, "Attachments: {}", names.join("; "));
    }
    out.push('\n');
    out.push_str(body);
    if !body.is_empty() {
        out.push('\n');
    }
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edrm_mih_test_vector() {
        let raw =
            b"Message-ID: <CALckR-a8UDkRjO4xJyjd_s0GPxQWw@mail.gmail.com>\nSubject: x\n\nbody\n";
        let email = parse(raw).unwrap();
        assert_eq!(email.meta.mih.as_deref(), Some("1de319c276884bd0c9e2f1621ada26cc"));
    }

    #[test]
    fn envelope_and_body() {
        let raw = concat!(
            "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\r\n",
            "To: a@example.com, \"Doe, Jane\" <jane@example.com>\r\n",
            "Cc: undisclosed-recipients:;\r\n",
            "Subject: =?utf-8?B?w6TDtsO8?= report\r\n",
            "Date: Tue, 12 Dec 2000 04:03:00 -0800 (PST)\r\n",
            "Content-Type: multipart/mixed; boundary=XX\r\n\r\n",
            "--XX\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n",
            "--YY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello   world\r\n",
            "--YY\r\nContent-Type: text/html\r\n\r\n<p>Hello <b>world</b></p>\r\n--YY--\r\n",
            "--XX\r\nContent-Type: application/pdf; name=\"memo.pdf\"\r\n",
            "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n",
        );
        let email = parse(raw.as_bytes()).unwrap();
        let m = &email.meta;
        assert_eq!(m.from[0].name.as_deref(), Some("André Pirard"));
        assert_eq!(m.from[0].address, "PIRARD@vm1.ulg.ac.be");
        assert_eq!(m.to.len(), 2);
        assert_eq!(m.to[1].name.as_deref(), Some("Doe, Jane"));
        assert_eq!(m.subject.as_deref(), Some("äöü report"));
        assert_eq!(m.sent.as_deref(), Some("2000-12-12T12:03:00Z"));
        assert_eq!(m.sent_offset.as_deref(), Some("-08:00"));
        assert_eq!(m.attachments, 1);
        assert_eq!(email.attachments[0].name, "memo.pdf");
        assert_eq!(email.attachments[0].bytes, b"%PDF-1.4\n");
        assert!(email.text.ends_with("\nHello   world\n"), "{}", email.text);
        assert!(email.text.contains("Attachments: memo.pdf\n"));
    }

    /// The received date is the topmost Received header's: the last hop, the recipient's
    /// server. A message never received (a sent item) has none.
    #[test]
    fn received_is_the_last_hops_date() {
        let raw = concat!(
            "Received: from relay.example.com (relay.example.com [192.0.2.1])\r\n",
            "\tby mx.example.jp (8.14.4) with ESMTP id o91AFNQX000234\r\n",
            "\tfor <bob@example.jp>; Fri, 1 Oct 2010 19:15:24 +0900 (JST)\r\n",
            "Received: from laptop by relay.example.com; Fri, 01 Oct 2010 10:15:20 +0000\r\n",
            "From: a@example.com\r\nDate: Fri, 01 Oct 2010 10:15:19 +0000\r\n\r\nBody\r\n",
        );
        let email = parse(raw.as_bytes()).unwrap();
        assert_eq!(email.meta.received.as_deref(), Some("2010-10-01T10:15:24Z"));
        assert_eq!(email.meta.sent.as_deref(), Some("2010-10-01T10:15:19Z"));
        let sent = parse(b"From: a@example.com\nDate: Fri, 01 Oct 2010 10:15:19 +0000\n\nBody\n");
        assert_eq!(sent.unwrap().meta.received, None);
        // A trace without a date, or with one that is no date, gives none.
        for trace in ["from a by b", "from a by b; 30 Feb 2010 10:00:00 +0000"] {
            let raw = format!("Received: {trace}\nFrom: a@example.com\n\nBody\n");
            assert_eq!(parse(raw.as_bytes()).unwrap().meta.received, None, "{trace}");
        }
    }

    #[test]
    fn text_under_a_charset_it_does_not_fit_is_read_as_what_it_is() {
        let message = |charset: &str, body: &[u8]| {
            let head = format!(
                "From: a@b.com\nSubject: s\nContent-Type: text/plain; charset={charset}\n\n"
            );
            parse(&[head.as_bytes(), body].concat()).unwrap()
        };
        let japanese = "送信先のメールボックスが一杯のため".as_bytes();
        // UTF-8 declared as ISO-2022-JP (sisimai's lhost-kddi-01.eml): a 7-bit charset, so
        // every byte above 0x7F fails it.
        let read = message("ISO-2022-JP", japanese);
        assert!(
            read.text.trim_end().ends_with("送信先のメールボックスが一杯のため"),
            "{}",
            read.text
        );
        assert_eq!(read.flags, ["charset-mislabelled"]);
        // Latin-1 declared as UTF-8 (stalwart's legacy/033.eml): stray high bytes only.
        let read = message("utf-8", b"Die Hasen und die Fr\xf6sche");
        assert!(read.text.trim_end().ends_with("Die Hasen und die Frösche"), "{}", read.text);
        assert_eq!(read.flags, ["charset-mislabelled"]);
        // One bad byte in valid UTF-8 is damage: it stays U+FFFD.
        let read = message(
            "utf-8",
            "Frösche \u{e9}"
                .as_bytes()
                .iter()
                .chain(b"\xff")
                .copied()
                .collect::<Vec<u8>>()
                .as_slice(),
        );
        assert!(read.text.trim_end().ends_with("Frösche é\u{fffd}"), "{}", read.text);
        assert!(read.flags.is_empty(), "{:?}", read.flags);
        // Stray bytes under another charset that rejects them: left as decoded.
        let read = message("ISO-2022-JP", b"caf\xe9");
        assert!(read.text.trim_end().ends_with("caf\u{fffd}"), "{}", read.text);
        assert!(read.flags.is_empty(), "{:?}", read.flags);
        // A charset in which every byte decodes is not second-guessed.
        let read = message("iso-8859-1", "café".as_bytes());
        assert!(read.text.trim_end().ends_with("cafÃ©"), "{}", read.text);
        assert!(read.flags.is_empty(), "{:?}", read.flags);
        // Real ISO-2022-JP is read as such.
        let read = message("ISO-2022-JP", b"\x1b$B%F%9%H\x1b(B");
        assert!(read.text.trim_end().ends_with("テスト"), "{}", read.text);
        assert!(read.flags.is_empty(), "{:?}", read.flags);
    }

    #[test]
    fn uuencoded_attachments_are_decoded() {
        // `binascii.b2a_uu` of "abc" and of "Hello, uuencoded world!\n".
        assert_eq!(uudecode(b"begin 644 a.txt\n#86)C\n`\nend\n").unwrap(), b"abc");
        let hello = b"begin 644 h.txt\r\n82&5L;&\\L('5U96YC;V1E9\"!W;W)L9\"$*\r\n`\r\nend\r\n";
        assert_eq!(uudecode(hello).unwrap(), b"Hello, uuencoded world!\n");
        // Trailing spaces dropped on the way (`b2a_uu(b"  ")` is `"("  `).
        assert_eq!(uudecode(b"begin 644 x\n\"(\"\n`\nend\n").unwrap(), b"  ");
        assert_eq!(uudecode(b"no begin line\nend\n"), None);
        assert_eq!(uudecode(b"begin 644 a.txt\n#86)C\n"), None, "no end");
        assert_eq!(uudecode(b"begin 644 a.txt\n#86)\x7f\nend\n"), None, "out of range");

        let raw = b"From: a@b.com\nSubject: s\nContent-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: text/plain\n\nSee attached.\n--X\nContent-Type: application/octet-stream; name=a.txt\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 a.txt\n#86)C\n`\nend\n--X--\n";
        let email = parse(raw).unwrap();
        assert_eq!(email.attachments.len(), 1);
        assert_eq!(email.attachments[0].name, "a.txt");
        assert_eq!(email.attachments[0].bytes, b"abc");
        assert!(email.flags.is_empty(), "{:?}", email.flags);
    }

    #[test]
    fn the_senders_marks_are_flags() {
        let marked = |headers: &str| {
            let raw = format!("From: a@b.com\nSubject: s\n{headers}\n\nbody\n");
            parse(raw.as_bytes()).unwrap().flags
        };
        let high_confidential = ["importance-high", "sensitivity-confidential"];
        assert_eq!(
            marked("Importance: High\nSensitivity: Company-Confidential"),
            high_confidential
        );
        assert_eq!(marked("X-Priority: 1 (Highest)"), ["importance-high"]);
        assert_eq!(marked("X-Priority: 5 (Lowest)"), Vec::<String>::new(), "low is not kept");
        assert_eq!(
            marked("Priority: urgent\nSensitivity: private"),
            ["importance-high", "sensitivity-private"]
        );
        assert_eq!(marked("Importance: normal\nX-Priority: 3"), Vec::<String>::new());
        // Importance wins over X-Priority when both are there.
        assert_eq!(marked("Importance: low\nX-Priority: 1"), Vec::<String>::new());
    }

    #[test]
    fn classic_mac_line_ends() {
        let email = parse(b"From: a@example.com\rSubject: Mac\r\rline one\rline two\r").unwrap();
        assert_eq!(email.meta.subject.as_deref(), Some("Mac"));
        assert!(email.text.ends_with("\nline one\nline two\n"), "{}", email.text);
    }

    #[test]
    fn a_media_type_without_subtype_is_plain_text() {
        // cpython's test_email msg_14.txt: `Content-Type: text`.
        let raw = "From: a@example.com\nMIME-Version: 1.0\nContent-Type: text; charset=us-ascii\n\nHi,\nno subtype here.\n";
        let email = parse(raw.as_bytes()).unwrap();
        assert!(email.text.ends_with("\nHi,\nno subtype here.\n"), "{}", email.text);
        assert!(email.attachments.is_empty());
        let part = "From: a@example.com\nContent-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: text\n\nbody words\n--X--\n";
        let email = parse(part.as_bytes()).unwrap();
        assert!(email.text.ends_with("\nbody words\n"), "{}", email.text);
        assert!(email.attachments.is_empty());
        // With a file name it is a file (MimeKit's missing-subtype.txt).
        let named =
            "From: a@example.com\nContent-Type: application-x-gzip; name=\"d.xml.gz\"\n\nblah\n";
        let email = parse(named.as_bytes()).unwrap();
        assert_eq!(email.attachments.len(), 1);
        assert_eq!(email.attachments[0].name, "d.xml.gz");
        assert_eq!(email.attachments[0].mime_type, "application/octet-stream");
    }

    #[test]
    fn named_text_parts_after_the_body_are_attachments() {
        // Apple Mail sends files inline with their names (stalwart's legacy/030.eml).
        let raw = concat!(
            "From: a@example.com\nContent-Type: multipart/mixed; boundary=M\n\n",
            "--M\nContent-Type: text/plain\n\nSee the fable.\n",
            "--M\nContent-Type: text/plain; name=\"hare.txt\"\nContent-Disposition: inline; ",
            "filename=\"hare.txt\"\n\nThe hare and the tortoise.\n--M--\n",
        );
        let email = parse(raw.as_bytes()).unwrap();
        assert!(email.text.ends_with("\nSee the fable.\n"), "{}", email.text);
        assert_eq!(email.attachments.len(), 1);
        assert_eq!(email.attachments[0].name, "hare.txt");
        assert_eq!(email.attachments[0].bytes, b"The hare and the tortoise.");
        // With no body before it, a named text part is the body (a bounce's report).
        let raw =
            "From: a@example.com\nContent-Type: text/plain; name=\"report.txt\"\n\nUnknown user.\n";
        let email = parse(raw.as_bytes()).unwrap();
        assert!(email.text.ends_with("\nUnknown user.\n"), "{}", email.text);
        assert!(email.attachments.is_empty());
    }

    #[test]
    fn images_of_the_html_rendition_are_attachments() {
        let raw = concat!(
            "From: a@example.com\nContent-Type: multipart/alternative; boundary=A\n\n",
            "--A\nContent-Type: text/plain\n\nplain words\n",
            "--A\nContent-Type: multipart/related; boundary=R\n\n",
            "--R\nContent-Type: text/html\n\n<p>html words<img src=cid:x></p>\n",
            "--R\nContent-Type: image/png\nContent-ID: <x>\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n",
            "--R--\n--A--\n",
        );
        let email = parse(raw.as_bytes()).unwrap();
        assert!(email.text.ends_with("\nplain words\n"), "{}", email.text);
        assert_eq!(email.attachments.len(), 1);
        assert_eq!(email.attachments[0].name, "attachment 1.png");
        assert_eq!(email.attachments[0].bytes, b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn identity_ignores_transport_differences() {
        let a = "Message-ID: <1@x>\nX-Folder: sent\nFrom: a@x.com\nTo: B@x.com, c@x.com\nSubject: Hi  there\nDate: Tue, 12 Dec 2000 04:03:00 -0800\n\nline one\nline two\n";
        let b = "Message-ID: <2@x>\r\nX-Folder: inbox\r\nFrom: \"A\" <A@X.com>\r\nTo: c@x.com, b@x.com\r\nSubject: Hi there\r\nDate: Tue, 12 Dec 2000 12:03:00 +0000\r\n\r\nline one line\r\n two\r\n";
        let c = a.replace("line two", "line 2");
        let (a, b, c) = (
            parse(a.as_bytes()).unwrap(),
            parse(b.as_bytes()).unwrap(),
            parse(c.as_bytes()).unwrap(),
        );
        assert_eq!(a.identity, b.identity);
        assert_ne!(a.identity, c.identity);
    }

    #[test]
    fn whitespace_removal_matches_unicode() {
        let text = "a b\tc\r\nd\u{a0}e\u{2003}f\u{85}g é\u{0b}h\u{1f}";
        let expected: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(without_whitespace(text), expected.as_bytes());
        // Every order of runs and single characters, ending on either.
        let pieces = ["Subject:", " ", "\u{1c}", "ü", "\u{3000}", "\r\n", "x", "\u{0}", "~~"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let text = format!("{a}{b}{c}{a}");
                    let expected: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                    assert_eq!(without_whitespace(&text), expected.as_bytes(), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn plain_addresses_and_values_are_only_the_simple_ones() {
        let list = |raw: &str| {
            plain_addresses(raw.as_bytes()).map(|l| l.map(str::to_owned).collect::<Vec<_>>())
        };
        assert_eq!(list("a@x.com"), Some(vec!["a@x.com".to_owned()]));
        assert_eq!(
            list(" a@x.com,\r\n\tb.c@y.org "),
            Some(vec!["a@x.com".to_owned(), "b.c@y.org".to_owned()])
        );
        for other in ["", "a@x.com,", "a@x.com,,b@x.com", "john doe@x.com", "A <a@x.com>", "x"] {
            assert_eq!(list(other), None, "{other:?}");
        }
        for other in ["\"A\" a@x.com", "a@x.com (A)", "g: a@x.com;", "=?utf-8?q?a?=@x.com"] {
            assert_eq!(list(other), None, "{other:?}");
        }
        assert_eq!(plain_value(b" Hi  there ").as_deref(), Some("Hi  there"));
        for other in [&b"Hi\r\n there"[..], b"=?utf-8?q?a?=", "\u{e9}".as_bytes()] {
            assert_eq!(plain_value(other), None);
        }
    }

    /// The fast paths give what mailparse gives, header for header, over real mail.
    #[test]
    fn plain_paths_agree_with_mailparse_on_the_corpus() {
        let Some(corpus) = std::env::var_os("QUARRY_CORPUS") else {
            eprintln!("skipped: set QUARRY_CORPUS to the shared corpus folder");
            return;
        };
        let dir = std::path::Path::new(&corpus).join("email/enron-mbox");
        let (mut lists, mut values) = (0, 0);
        for entry in std::fs::read_dir(dir).unwrap() {
            let file = std::fs::File::open(entry.unwrap().path()).unwrap();
            let mut reader = crate::mbox::Reader::new(std::io::BufReader::new(file));
            while let Some(message) = reader.next_message().unwrap() {
                let (headers, _) = mailparse::parse_headers(&message.bytes).unwrap();
                for header in &headers {
                    let raw = header.get_value_raw();
                    if let Some(plain) = plain_value(raw) {
                        assert_eq!(plain, decoded_value(header), "{header:?}");
                        values += 1;
                    }
                    if let Some(plain) = plain_addresses(raw) {
                        let parsed = mailparse::addrparse_header(header)
                            .unwrap_or_else(|e| panic!("{header:?}: {e}"));
                        let parsed: Vec<String> = parsed
                            .into_inner()
                            .into_iter()
                            .map(|a| match a {
                                MailAddr::Single(info) => info.addr,
                                MailAddr::Group(g) => panic!("{header:?}: group {g:?}"),
                            })
                            .collect();
                        assert_eq!(plain.collect::<Vec<_>>(), parsed, "{header:?}");
                        lists += 1;
                    }
                }
            }
        }
        assert!(lists > 40_000 && values > 250_000, "{lists} address lists, {values} values");
    }

    #[test]
    fn lenient_encoded_words() {
        assert_eq!(decode_words("Re:=?UTF-8?B?w6TDtsO8?=Fwd"), "Re:äöüFwd");
        assert_eq!(decode_words("=?iso-8859-1?q?a?= =?iso-8859-1?q?b?="), "ab");
        assert_eq!(decode_words("=?x-unknown?q?plain?="), "plain");
        assert_eq!(decode_words("no =? word"), "no =? word");
        assert_eq!(decode_words("=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?="), "テスト");
        assert_eq!(decode_words("=?iso-8859-1?Q?Fr\u{f6}sche_=E9t=E9?="), "Frösche été");
    }
}
