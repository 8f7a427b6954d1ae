//! S/MIME: a message signed or encrypted as a whole travels as one PKCS #7 / CMS object
//! (`smime.p7m`, `application/pkcs7-mime`; RFC 8551, RFC 5652). Without opening it, review
//! sees an email with no body and an opaque attachment.
//!
//! - *Signed* with the content inside (opaque signing, which Outlook uses unless told to sign
//!   in clear text): the signed MIME entity is read out and becomes a child, read like any
//!   message: its body and attachments come through. The signature is not verified (review
//!   needs the words; whether a signature was valid in 2001 is another question).
//! - *Encrypted* (enveloped or authenticated-enveloped data): the content needs a recipient's
//!   private key, which the case does not have: an `encrypted` exception, native kept.
//! - Signed without content (a detached signature `smime.p7s`, a certificate bundle `.p7c`):
//!   nothing to read.
//!
//! CMS is BER: lengths may be indefinite and an octet string may come in segments, as Outlook
//! writes it. The reader below handles both, within the object's own bytes, to a fixed depth.

/// What a CMS object holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Cms {
    /// Signed data, with the signed content when it is inside (else `None`).
    Signed(Option<Vec<u8>>),
    /// Enveloped (encrypted) data.
    Encrypted,
    /// Another content type (data, digested, ...).
    Other,
}

/// Why bytes that look like CMS could not be read as CMS.
#[derive(Debug, thiserror::Error)]
#[error("not a readable S/MIME (CMS) object: {0}")]
pub struct SmimeError(&'static str);

const DER_OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
const OCTET_STRING: u8 = 0x04;
const CONSTRUCTED: u8 = 0x20;
/// `[0]` explicit, constructed.
const CONTEXT_0: u8 = 0xA0;
/// BER nesting deeper than this is refused (a hostile object could nest without end).
const MAX_DEPTH: usize = 32;

/// 1.2.840.113549.1.7.2, 1.2.840.113549.1.7.3 and 1.2.840.113549.1.9.16.1.23, DER-encoded.
const SIGNED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
const ENVELOPED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x03];
const AUTH_ENVELOPED_DATA: &[u8] =
    &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x01, 0x17];

/// Whether these leading bytes are a CMS `ContentInfo` of signed or enveloped data.
#[must_use]
pub fn is_cms(head: &[u8]) -> bool {
    let Ok((outer, _)) = header(head) else { return false };
    if outer.tag != SEQUENCE {
        return false;
    }
    let inner = &head[outer.header..];
    let Ok((oid, _)) = header(inner) else { return false };
    let value = inner.get(oid.header..oid.header + oid.length.unwrap_or(0));
    oid.tag == DER_OID
        && value.is_some_and(|v| [SIGNED_DATA, ENVELOPED_DATA, AUTH_ENVELOPED_DATA].contains(&v))
}

/// Reads a CMS `ContentInfo`.
pub fn parse(bytes: &[u8]) -> Result<Cms, SmimeError> {
    let info = element(bytes, 0)?.0;
    let parts = children(&info)?;
    let [oid, content, ..] = parts.as_slice() else { return Err(SmimeError("no content")) };
    if oid.tag != DER_OID {
        return Err(SmimeError("no content type"));
    }
    match oid.content {
        ENVELOPED_DATA | AUTH_ENVELOPED_DATA => Ok(Cms::Encrypted),
        SIGNED_DATA => {
            if content.tag != CONTEXT_0 {
                return Err(SmimeError("signed data without its [0] content"));
            }
            // SignedData: version, digest algorithms, encapsulated content info, ...
            let signed = children(content)?;
            let signed = signed.first().ok_or(SmimeError("empty signed data"))?;
            let fields = children(signed)?;
            let encapsulated = fields.get(2).ok_or(SmimeError("no encapsulated content"))?;
            let encapsulated = children(encapsulated)?;
            match encapsulated.get(1) {
                Some(explicit) if explicit.tag == CONTEXT_0 => {
                    let octets = children(explicit)?;
                    let octets = octets.first().ok_or(SmimeError("empty signed content"))?;
                    let mut out = Vec::new();
                    octet_string(octets, 0, &mut out)?;
                    Ok(Cms::Signed(Some(out)))
                }
                _ => Ok(Cms::Signed(None)),
            }
        }
        _ => Ok(Cms::Other),
    }
}

/// A tag and length read from the front of some bytes: `length` is `None` when indefinite.
struct Header {
    tag: u8,
    header: usize,
    length: Option<usize>,
}

fn header(bytes: &[u8]) -> Result<(Header, ()), SmimeError> {
    let &tag = bytes.first().ok_or(SmimeError("truncated"))?;
    if tag & 0x1F == 0x1F {
        return Err(SmimeError("a high tag number"));
    }
    let &first = bytes.get(1).ok_or(SmimeError("truncated"))?;
    let (header, length) = match first {
        0x80 => (2, None),
        short @ 0..=0x7F => (2, Some(usize::from(short))),
        long => {
            let count = usize::from(long & 0x7F);
            if count > 4 {
                return Err(SmimeError("a length over 4 GB"));
            }
            let digits = bytes.get(2..2 + count).ok_or(SmimeError("truncated"))?;
            let length = digits.iter().fold(0usize, |n, &d| (n << 8) | usize::from(d));
            (2 + count, Some(length))
        }
    };
    Ok((Header { tag, header, length }, ()))
}

/// One element: its tag, and its content (for an indefinite length, up to its end marker).
struct Element<'a> {
    tag: u8,
    content: &'a [u8],
}

/// Reads the element at the front of `bytes`: the element, and how many bytes it took.
fn element(bytes: &[u8], depth: usize) -> Result<(Element<'_>, usize), SmimeError> {
    if depth > MAX_DEPTH {
        return Err(SmimeError("nested too deep"));
    }
    let (head, ()) = header(bytes)?;
    let body = &bytes[head.header..];
    match head.length {
        Some(length) => {
            let content = body.get(..length).ok_or(SmimeError("truncated"))?;
            Ok((Element { tag: head.tag, content }, head.header + length))
        }
        None => {
            if head.tag & CONSTRUCTED == 0 {
                return Err(SmimeError("an indefinite length on a primitive value"));
            }
            // Children up to the end-of-contents marker (two zero bytes).
            let mut at = 0;
            loop {
                match body.get(at..at + 2) {
                    Some([0, 0]) => break,
                    Some(_) => at += element(&body[at..], depth + 1)?.1,
                    None => return Err(SmimeError("truncated")),
                }
            }
            Ok((Element { tag: head.tag, content: &body[..at] }, head.header + at + 2))
        }
    }
}

/// The elements a constructed element holds.
fn children<'a>(parent: &Element<'a>) -> Result<Vec<Element<'a>>, SmimeError> {
    children_at(parent, 0)
}

fn children_at<'a>(parent: &Element<'a>, depth: usize) -> Result<Vec<Element<'a>>, SmimeError> {
    if parent.tag & CONSTRUCTED == 0 {
        return Err(SmimeError("a value where a structure belongs"));
    }
    let mut out = Vec::new();
    let mut rest = parent.content;
    while !rest.is_empty() {
        let (child, taken) = element(rest, depth + 1)?;
        out.push(child);
        rest = &rest[taken..];
    }
    Ok(out)
}

/// An octet string's bytes: a primitive one's content, a constructed one's segments in order.
fn octet_string(value: &Element<'_>, depth: usize, out: &mut Vec<u8>) -> Result<(), SmimeError> {
    match value.tag {
        OCTET_STRING => out.extend_from_slice(value.content),
        tag if tag == OCTET_STRING | CONSTRUCTED => {
            if depth > MAX_DEPTH {
                return Err(SmimeError("nested too deep"));
            }
            for segment in children_at(value, depth)? {
                octet_string(&segment, depth + 1, out)?;
            }
        }
        _ => return Err(SmimeError("signed content that is not an octet string")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER element of this tag and content.
    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n @ 0..=0x7F => out.push(n as u8),
            n @ 0x80..=0xFF => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(content);
        out
    }

    /// A BER element of indefinite length holding these elements.
    fn ber(tag: u8, parts: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![tag, 0x80];
        for part in parts {
            out.extend_from_slice(part);
        }
        out.extend([0, 0]);
        out
    }

    fn signed(content: Option<Vec<u8>>, indefinite: bool) -> Vec<u8> {
        let data_oid = der(DER_OID, &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01]);
        let mut encapsulated = vec![data_oid];
        if let Some(content) = content {
            encapsulated.push(if indefinite {
                ber(CONTEXT_0, &[content])
            } else {
                der(CONTEXT_0, &content)
            });
        }
        let fields = [
            der(0x02, &[1]),
            der(0x31, &[]),
            if indefinite {
                ber(SEQUENCE, &encapsulated)
            } else {
                der(SEQUENCE, &encapsulated.concat())
            },
            der(0x31, &[]),
        ];
        let signed =
            if indefinite { ber(SEQUENCE, &fields) } else { der(SEQUENCE, &fields.concat()) };
        let info = [
            der(DER_OID, SIGNED_DATA),
            if indefinite { ber(CONTEXT_0, &[signed]) } else { der(CONTEXT_0, &signed) },
        ];
        if indefinite { ber(SEQUENCE, &info) } else { der(SEQUENCE, &info.concat()) }
    }

    const ENTITY: &[u8] = b"Content-Type: text/plain\r\n\r\nPlease keep this within legal.\r\n";

    #[test]
    fn signed_content_is_read_out_of_der_and_ber() {
        let plain = signed(Some(der(OCTET_STRING, ENTITY)), false);
        assert!(is_cms(&plain));
        assert_eq!(parse(&plain).unwrap(), Cms::Signed(Some(ENTITY.to_vec())));
        // As Outlook writes it: indefinite lengths, the content in segments.
        let (a, b) = ENTITY.split_at(10);
        let segmented =
            ber(OCTET_STRING | CONSTRUCTED, &[der(OCTET_STRING, a), der(OCTET_STRING, b)]);
        let outlook = signed(Some(segmented), true);
        assert!(is_cms(&outlook));
        assert_eq!(parse(&outlook).unwrap(), Cms::Signed(Some(ENTITY.to_vec())));
        // A detached signature holds no content.
        assert_eq!(parse(&signed(None, false)).unwrap(), Cms::Signed(None));
    }

    #[test]
    fn enveloped_data_is_encrypted() {
        let enveloped = der(
            SEQUENCE,
            &[der(DER_OID, ENVELOPED_DATA), der(CONTEXT_0, &der(SEQUENCE, &[]))].concat(),
        );
        assert!(is_cms(&enveloped));
        assert_eq!(parse(&enveloped).unwrap(), Cms::Encrypted);
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let good = signed(Some(der(OCTET_STRING, ENTITY)), true);
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let mut bytes = good.clone();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state as usize) % bytes.len();
            bytes[at] ^= (state >> 32) as u8 | 1;
            let _ = parse(&bytes);
        }
        // Nested without end.
        let mut deep = Vec::new();
        for _ in 0..10_000 {
            deep.extend([SEQUENCE, 0x80]);
        }
        assert!(parse(&deep).is_err());
        assert!(!is_cms(b"plain text"));
    }
}
