//! PDFs that pdf_oxide 0.3.78 reads as empty, and quarry reads through a copy lopdf writes
//! (`pdf.rs`):
//! - AES-256 revision 5 (Acrobat 9): pdf_oxide accepts their passwords and decrypts nothing.
//!   Files made with qpdf (`tests/data/pdf/README.md`); pdfminer's samples, whose encryption
//!   dictionary sits in the trailer itself, when `QUARRY_CORPUS` is set.
//! - Streams whose filters are given by reference (`/Filter 3 0 R`).
//! - Document properties given by reference (`/Title 15 0 R`), which lopdf's metadata reader
//!   does not follow.
//! - TeX's math fonts (Type 1 fonts with a CFF program and its built-in encoding), which
//!   pdf_oxide reads in the standard encoding: quarry adds `ToUnicode` maps.
//! - Properties that the Info dictionary lacks and the XMP packet holds.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use lopdf::{Document, Object, Stream, dictionary};
use quarry_ingest::pdf::{PdfError, extract};
use std::path::{Path, PathBuf};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pdf").join(name)).unwrap()
}

/// The memo's text as quarry reads the unencrypted original.
fn memo() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sample/loose/memo.pdf");
    let text = extract(&std::fs::read(path).unwrap(), &[]).unwrap().text;
    assert!(text.starts_with("From the desk of the General Counsel"), "{text}");
    text
}

fn passwords(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|p| p.as_bytes().to_vec()).collect()
}

#[test]
fn revision_5_opens_with_the_user_or_the_owner_password() {
    let memo = memo();
    for name in ["r5.pdf", "r5-objstm.pdf"] {
        for list in [&["wrong", "user-pw"][..], &["owner-pw"]] {
            let pdf = extract(&data(name), &passwords(list)).unwrap();
            assert_eq!(pdf.text, memo, "{name} {list:?}");
            assert!(pdf.encrypted && pdf.decrypted, "{name} {list:?}");
            // The properties come from the decrypted copy.
            assert_eq!(pdf.meta.title.as_deref(), Some("Raptor memo"), "{name} {list:?}");
            assert_eq!(pdf.meta.author.as_deref(), Some("General Counsel"), "{name} {list:?}");
            assert_eq!(pdf.meta.pages, Some(1), "{name} {list:?}");
        }
        let refused = extract(&data(name), &passwords(&["wrong"]));
        assert!(matches!(refused, Err(PdfError::Encrypted { tried: 1 })), "{name} {refused:?}");
    }
}

#[test]
fn revision_5_with_the_empty_user_password_opens_without_a_list() {
    let pdf = extract(&data("r5-empty.pdf"), &[]).unwrap();
    assert_eq!(pdf.text, memo());
    assert!(pdf.encrypted && !pdf.decrypted);
}

fn corpus() -> Option<PathBuf> {
    std::env::var_os("QUARRY_CORPUS").map(PathBuf::from)
}

/// pdfminer's `encryption/` samples: every one is `base.pdf` ("Secret!") encrypted. Their
/// AES-256 files are revision 5 with the encryption dictionary written in the trailer. Their
/// user password is `baz` and their owner password `foo` (the corpus manifest has them the
/// other way round; poppler opens them with `-upw baz` or `-opw foo`).
#[test]
fn pdfminer_aes_256_samples() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: set QUARRY_CORPUS to the shared corpus folder");
        return;
    };
    let dir = corpus.join("pdf/pdfminer-samples/encryption");
    for name in ["aes-256.pdf", "aes-256-m.pdf", "aes-128.pdf", "rc4-128.pdf"] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        for password in ["baz", "foo"] {
            let pdf = extract(&bytes, &passwords(&[password])).unwrap();
            assert_eq!(pdf.text, "Secret!", "{name} {password}");
            // `pdfinfo -upw baz`: Producer LibreOffice 4.1, created 2014-05-09 17:37:27 UTC.
            assert_eq!(pdf.meta.producer.as_deref(), Some("LibreOffice 4.1"), "{name} {password}");
            assert_eq!(pdf.meta.created.as_deref(), Some("2014-05-09T17:37:27Z"), "{name}");
        }
    }
}

/// A one-page PDF whose content stream is ASCIIHex-encoded, its `/Filter` an indirect object.
fn indirect_filter_pdf() -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let content = b"BT /F1 12 Tf 72 700 Td (Filters given by reference) Tj ET";
    let hex: String = content.iter().map(|b| format!("{b:02X}")).collect::<String>() + ">";
    let filter = doc.add_object(Object::Name(b"ASCIIHexDecode".to_vec()));
    let stream = Stream::new(dictionary! { "Filter" => filter }, hex.into_bytes());
    let contents = doc.add_object(stream);
    let pages = doc.new_object_id();
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages, "Contents" => contents,
        "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
    });
    doc.objects.insert(
        pages,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn filters_given_by_reference_are_followed() {
    let bytes = indirect_filter_pdf();
    let doc = Document::load_mem(&bytes).unwrap();
    let by_reference = doc.objects.values().filter_map(|o| o.as_stream().ok());
    let by_reference =
        by_reference.filter(|s| s.dict.get(b"Filter").is_ok_and(|f| f.as_reference().is_ok()));
    assert_eq!(by_reference.count(), 1, "the test file refers to its filter");
    let pdf = extract(&bytes, &[]).unwrap();
    assert_eq!(pdf.text, "Filters given by reference");
    assert!(!pdf.fallback && !pdf.encrypted);
}

/// pdfminer's `issue-1062-filters.pdf`, a SAP NetWeaver invoice: every stream's filter is an
/// object of its own. pdftotext reads 470 words from it.
#[test]
fn sap_invoice_with_indirect_filters() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: set QUARRY_CORPUS to the shared corpus folder");
        return;
    };
    let path = corpus.join("pdf/pdfminer-samples/contrib/issue-1062-filters.pdf");
    let pdf = extract(&std::fs::read(path).unwrap(), &[]).unwrap();
    assert!(
        pdf.text.starts_with("Lenze B.V. Postbus 3101, 5203 DC 's-Hertogenbosch"),
        "{}",
        pdf.text
    );
    assert_eq!(pdf.meta.producer.as_deref(), Some("SAP NetWeaver 740"));
    assert_eq!(pdf.meta.pages, Some(2));
}

#[test]
fn properties_given_by_reference_are_followed() {
    let mut doc = Document::load_mem(&indirect_filter_pdf()).unwrap();
    // UTF-16BE with its byte-order mark, as a text string may be.
    let title: Vec<u8> =
        [0xFE, 0xFF].into_iter().chain("Mémo".encode_utf16().flat_map(u16::to_be_bytes)).collect();
    let title = doc.add_object(Object::String(title, lopdf::StringFormat::Hexadecimal));
    let author = doc.add_object(Object::string_literal("General Counsel"));
    let created = doc.add_object(Object::string_literal("D:20010514163900Z"));
    let info = doc.add_object(dictionary! {
        "Title" => title, "Author" => author, "CreationDate" => created,
    });
    doc.trailer.set("Info", info);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    let pdf = extract(&bytes, &[]).unwrap();
    assert_eq!(pdf.meta.title.as_deref(), Some("Mémo"));
    assert_eq!(pdf.meta.author.as_deref(), Some("General Counsel"));
    assert_eq!(pdf.meta.created.as_deref(), Some("2001-05-14T16:39:00Z"));
    assert_eq!(pdf.meta.producer, None);
}

#[test]
fn properties_info_lacks_come_from_xmp() {
    let mut doc = Document::load_mem(&indirect_filter_pdf()).unwrap();
    let packet = r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">XMP title</rdf:li></rdf:Alt></dc:title>
<dc:creator><rdf:Seq><rdf:li>John Doe</rdf:li></rdf:Seq></dc:creator>
<xmp:ModifyDate>2023-04-10T07:46:54+02:00</xmp:ModifyDate>
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"#;
    let metadata = doc.add_object(Stream::new(
        dictionary! { "Type" => "Metadata", "Subtype" => "XML" },
        packet.as_bytes().to_vec(),
    ));
    let info = doc.add_object(dictionary! { "Author" => Object::string_literal("Info author") });
    doc.trailer.set("Info", info);
    let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    doc.get_dictionary_mut(root).unwrap().set("Metadata", metadata);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    let meta = extract(&bytes, &[]).unwrap().meta;
    // Info first, as pdfinfo reads it; XMP for what Info lacks.
    assert_eq!(meta.author.as_deref(), Some("Info author"));
    assert_eq!(meta.title.as_deref(), Some("XMP title"));
    assert_eq!(meta.modified.as_deref(), Some("2023-04-10T05:46:54Z"));
    assert_eq!(meta.subject, None);
}

/// py-pdf's sample 020, written by PyMuPDF: Info holds only the creation date.
#[test]
fn xmp_only_properties() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: set QUARRY_CORPUS to the shared corpus folder");
        return;
    };
    let path = corpus.join("pdf/py-pdf-sample-files/020-xmp/output_with_metadata_pymupdf.pdf");
    let meta = extract(&std::fs::read(path).unwrap(), &[]).unwrap().meta;
    assert_eq!(meta.title.as_deref(), Some("Sample PDF with XMP Metadata"));
    assert_eq!(meta.author.as_deref(), Some("John Doe"));
    assert_eq!(meta.subject.as_deref(), Some("This is a text"));
}

/// pdf.js's `pdfjsbad1586.pdf` (macOS 10.7 TextEdit, Quartz PDFContext): every property is an
/// object of its own. `pdfinfo` gives these.
#[test]
fn quartz_properties() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: set QUARRY_CORPUS to the shared corpus folder");
        return;
    };
    let pdf = extract(&std::fs::read(corpus.join("pdf/pdfjs/pdfjsbad1586.pdf")).unwrap(), &[]);
    let meta = pdf.unwrap().meta;
    assert_eq!(meta.title.as_deref(), Some("Untitled"));
    assert_eq!(meta.author.as_deref(), Some("Yury"));
    assert_eq!(meta.creator.as_deref(), Some("TextEdit"));
    assert_eq!(meta.producer.as_deref(), Some("Mac OS X 10.7.3 Quartz PDFContext"));
    assert_eq!(meta.created.as_deref(), Some("2012-02-24T01:02:52Z"));
    assert_eq!(meta.modified.as_deref(), Some("2012-02-24T01:02:52Z"));
}

/// pdfTeX's lecture notes `GeoTopo` (py-pdf's sample 009): its math is set in CMMI and CMSY, CFF
/// programs read by their built-in encoding. py-pdf's hand-checked transcript has
/// `a) Ein Weg in X ist eine stetige Abbildung γ : [0, 1]→ X.`; pdf_oxide alone gave
/// `Abbildung \n : [0; 1] ! X .`
#[test]
fn tex_math_fonts() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: set QUARRY_CORPUS to the shared corpus folder");
        return;
    };
    let path = corpus.join("pdf/py-pdf-sample-files/009-pdflatex-geotopo/GeoTopo-komprimiert.pdf");
    let pdf = extract(&std::fs::read(path).unwrap(), &[]).unwrap();
    assert!(pdf.text.contains("Ein Weg in X ist eine stetige Abbildung γ : [0, 1] → X"));
    assert!(pdf.text.matches('γ').count() > 200);
    assert_eq!(pdf.meta.pages, Some(117));
}
