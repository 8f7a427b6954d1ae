//! Document properties from an XMP packet (ISO 16684-1; a PDF's `/Metadata` stream, ISO
//! 32000-2 14.3.2).
//!
//! PDF 2.0 deprecates the Info dictionary in favour of XMP, and writers that follow it (or that
//! only write XMP, such as PyMuPDF's `set_xml_metadata`) leave Info without a title or an
//! author. Properties are read by namespace, whatever prefixes the packet uses, as element
//! content or as attributes of `rdf:Description`.

use quarry_types::DocumentMeta;
use quick_xml::XmlVersion;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

const DC: &str = "http://purl.org/dc/elements/1.1/";
const XMP: &str = "http://ns.adobe.com/xap/1.0/";
const PDF: &str = "http://ns.adobe.com/pdf/1.3/";
const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const XML: &str = "http://www.w3.org/XML/1998/namespace";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Prop {
    Title,
    Author,
    Subject,
    Creator,
    Producer,
    Created,
    Modified,
}

fn prop(namespace: &str, local: &str) -> Option<Prop> {
    Some(match (namespace, local) {
        (DC, "title") => Prop::Title,
        (DC, "creator") => Prop::Author,
        (DC, "description") => Prop::Subject,
        (XMP, "CreatorTool") => Prop::Creator,
        (PDF, "Producer") => Prop::Producer,
        (XMP, "CreateDate") => Prop::Created,
        (XMP, "ModifyDate") => Prop::Modified,
        _ => return None,
    })
}

/// Reads the properties of a packet; what cannot be read (not UTF-8, malformed XML from the
/// point of damage on) is left out:
/// - title: `dc:title` (the `x-default` language, else the first);
/// - author: `dc:creator`, the authors in order joined by `; `;
/// - subject: `dc:description` (the `x-default` language, else the first);
/// - creator: `xmp:CreatorTool`; producer: `pdf:Producer`;
/// - created, modified: `xmp:CreateDate`, `xmp:ModifyDate`, in UTC when they carry an offset,
///   as [`crate::pdf::pdf_date`] writes PDF dates.
///
/// The page count is not an XMP property: it is left `None`.
#[must_use]
pub fn read(packet: &[u8]) -> DocumentMeta {
    let mut reader = quick_xml::NsReader::from_reader(packet);
    let mut buf = Vec::new();
    // (property, language, value), in the packet's order.
    let mut values: Vec<(Prop, Option<String>, String)> = Vec::new();
    // The property element being read, whether an `rdf:li` of it has been read, the language
    // of the open `rdf:li`, and the text gathered since the last element began.
    let mut open: Option<(Prop, bool)> = None;
    let mut lang: Option<String> = None;
    let mut text = String::new();
    loop {
        let (namespace, event) = match reader.read_resolved_event_into(&mut buf) {
            Ok((ResolveResult::Bound(ns), event)) => (ns.0.to_owned(), event),
            Ok((_, event)) => (String::new(), event),
            Err(_) => break,
        };
        match event {
            Event::Start(ref element) | Event::Empty(ref element) => {
                // An empty element has no content: it opens nothing.
                let starts = matches!(event, Event::Start(_));
                let local = element.local_name();
                let local = local.as_ref();
                if namespace == RDF && local == "Description" {
                    // Simple properties may be written as attributes.
                    for attribute in element.attributes().flatten() {
                        let (ns, name) = reader.resolver().resolve_attribute(attribute.key);
                        let ResolveResult::Bound(ns) = ns else { continue };
                        if let (Some(p), Ok(value)) = (
                            prop(ns.0, name.as_ref()),
                            attribute.normalized_value(XmlVersion::Implicit1_0),
                        ) {
                            values.push((p, None, value.trim().to_owned()));
                        }
                    }
                } else if let Some(p) = prop(&namespace, local).filter(|_| starts) {
                    open = Some((p, false));
                } else if namespace == RDF && local == "li" {
                    lang = element.attributes().flatten().find_map(|a| {
                        let (ns, name) = reader.resolver().resolve_attribute(a.key);
                        let xml_lang = matches!(ns, ResolveResult::Bound(n) if n.0 == XML)
                            && name.as_ref() == "lang";
                        xml_lang
                            .then(|| {
                                a.normalized_value(XmlVersion::Implicit1_0)
                                    .ok()
                                    .map(|v| v.into_owned())
                            })
                            .flatten()
                    });
                }
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.into_inner()),
            Event::GeneralRef(r) => {
                let named = match r.xml10_content().as_ref() {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ => None,
                };
                if let Some(c) = named.or_else(|| r.resolve_char_ref().ok().flatten()) {
                    text.push(c);
                }
            }
            Event::End(element) => {
                let local = element.local_name();
                let local = local.as_ref();
                match &mut open {
                    Some((p, items)) if namespace == RDF && local == "li" => {
                        values.push((*p, lang.take(), text.trim().to_owned()));
                        *items = true;
                    }
                    Some((p, items)) if prop(&namespace, local) == Some(*p) => {
                        if !*items {
                            values.push((*p, None, text.trim().to_owned()));
                        }
                        open = None;
                    }
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    values.retain(|(_, _, v)| !v.is_empty());
    let one = |p: Prop| -> Option<String> {
        let of = || values.iter().filter(move |(q, _, _)| *q == p);
        of().find(|(_, lang, _)| lang.as_deref() == Some("x-default"))
            .or_else(|| of().next())
            .map(|(_, _, v)| v.clone())
    };
    let authors: Vec<&str> =
        values.iter().filter(|(p, _, _)| *p == Prop::Author).map(|(_, _, v)| v.as_str()).collect();
    let date = |p: Prop| one(p).and_then(|d| crate::pdf::pdf_date(&as_pdf_date(&d)));
    DocumentMeta {
        title: one(Prop::Title),
        author: (!authors.is_empty()).then(|| authors.join("; ")),
        subject: one(Prop::Subject),
        creator: one(Prop::Creator),
        producer: one(Prop::Producer),
        created: date(Prop::Created),
        modified: date(Prop::Modified),
        pages: None,
    }
}

/// An XMP date (`2023-04-10T07:46:54+02:00`, any part after the year optional) as a PDF date
/// (`D:20230410074654+02'00'`), for `pdf::pdf_date` to convert.
fn as_pdf_date(date: &str) -> String {
    let date = date.trim();
    let (stamp, zone) = match date.find(['Z', '+']).or_else(|| date.rfind('-').filter(|&at| at > 9))
    {
        Some(at) => date.split_at(at),
        None => (date, ""),
    };
    // Fractions of a second are dropped: PDF dates stop at seconds.
    let stamp = stamp.split('.').next().unwrap_or(stamp);
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    let zone = match zone.split_once(':') {
        Some((hours, minutes)) => format!("{hours}'{minutes}'"),
        None => zone.to_owned(),
    };
    format!("D:{digits}{zone}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_and_attributes_by_namespace() {
        // As PyMuPDF writes it (py-pdf's sample 020), with a Producer attribute and other
        // prefixes for the same namespaces.
        let packet = r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
 <rdf:Description rdf:about="" xmlns:d="http://purl.org/dc/elements/1.1/"
   xmlns:xap="http://ns.adobe.com/xap/1.0/" xmlns:p="http://ns.adobe.com/pdf/1.3/"
   p:Producer="Acme &amp; Co" xap:CreateDate="2023-04-10T07:46:54+02:00">
  <d:creator><rdf:Seq><rdf:li>John Doe</rdf:li><rdf:li>Jane Roe</rdf:li></rdf:Seq></d:creator>
  <d:title><rdf:Alt><rdf:li xml:lang="de">Muster</rdf:li>
   <rdf:li xml:lang="x-default">Sample PDF with XMP Metadata</rdf:li></rdf:Alt></d:title>
  <d:description><rdf:Alt><rdf:li xml:lang="x-default">This is a text</rdf:li></rdf:Alt></d:description>
  <xap:CreatorTool>Writer</xap:CreatorTool>
  <xap:ModifyDate/><xap:MetadataDate/>
  <p:Keywords/><d:subject><rdf:Bag><rdf:li>a keyword</rdf:li></rdf:Bag></d:subject>
 </rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"#;
        let xmp = read(packet.as_bytes());
        assert_eq!(
            xmp,
            DocumentMeta {
                title: Some("Sample PDF with XMP Metadata".into()),
                author: Some("John Doe; Jane Roe".into()),
                subject: Some("This is a text".into()),
                creator: Some("Writer".into()),
                producer: Some("Acme & Co".into()),
                created: Some("2023-04-10T05:46:54Z".into()),
                modified: None,
                pages: None,
            }
        );
        // Damage keeps what came before it.
        let cut = &packet.as_bytes()[..packet.find("<d:title>").unwrap()];
        assert_eq!(read(cut).author.as_deref(), Some("John Doe; Jane Roe"));
        assert_eq!(read(b"\xff\xfe not xml"), DocumentMeta::default());
    }

    #[test]
    fn damaged_packets_read_without_panic() {
        let packet = br#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/" pdf:Producer="P &#x41; &amp;"><dc:title><rdf:Alt><rdf:li xml:lang="x-default">T<![CDATA[<c>]]></rdf:li></rdf:Alt></dc:title></rdf:Description></rdf:RDF></x:xmpmeta>"#;
        let whole = read(packet);
        assert_eq!(whole.title.as_deref(), Some("T<c>"));
        assert_eq!(whole.producer.as_deref(), Some("P A &"));
        // Every truncation, and every byte replaced by each of a few others.
        for end in 0..packet.len() {
            let _ = read(&packet[..end]);
        }
        for at in 0..packet.len() {
            for b in [b'<', b'>', b'&', b'"', b'/', b':', 0, 0xff] {
                let mut damaged = packet.to_vec();
                damaged[at] = b;
                let _ = read(&damaged);
            }
        }
    }

    #[test]
    fn dates() {
        assert_eq!(as_pdf_date("2023-04-10T07:46:54+02:00"), "D:20230410074654+02'00'");
        assert_eq!(as_pdf_date("2023-04-10T07:46:54.25Z"), "D:20230410074654Z");
        assert_eq!(as_pdf_date("2023-04-10T07:46:54-05:30"), "D:20230410074654-05'30'");
        assert_eq!(as_pdf_date("2023-04-10"), "D:20230410");
        assert_eq!(as_pdf_date("1990"), "D:1990");
    }
}
