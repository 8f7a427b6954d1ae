//! Files embedded in a PDF become children of its item (`pdf.rs`, `embedded_files`):
//! - those of the `EmbeddedFiles` name tree, named as their specification's text string says
//!   (pdf_oxide 0.3.78 reads names as UTF-8, so a UTF-16 name came out as U+FFFD);
//! - those of file attachment annotations, which pdf_oxide does not look for;
//! - a listed file that cannot be read flags the PDF instead of vanishing;
//! - files embedded in a PDF read through a copy (lines ending in CR alone) are the file's own.
//!
//! Checked against poppler's `pdfdetach -list` and `-saveall` on the corpus files.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use lopdf::{Dictionary, Document, Object, ObjectId, Stream, dictionary};
use quarry_ingest::pdf::extract;
use std::path::PathBuf;

fn utf16(text: &str) -> Object {
    let bytes = [0xFE, 0xFF].into_iter().chain(text.encode_utf16().flat_map(u16::to_be_bytes));
    Object::String(bytes.collect(), lopdf::StringFormat::Hexadecimal)
}

/// A file specification embedding `bytes`.
fn spec(doc: &mut Document, key: &str, name: Object, bytes: &[u8]) -> ObjectId {
    let file = doc.add_object(Stream::new(
        dictionary! { "Type" => "EmbeddedFile", "Length" => bytes.len() as i64 },
        bytes.to_vec(),
    ));
    doc.add_object(dictionary! {
        "Type" => "Filespec", key => name, "EF" => dictionary! { "F" => file },
    })
}

fn file_attachment(spec: impl Into<Object>) -> Dictionary {
    dictionary! {
        "Type" => "Annot", "Subtype" => "FileAttachment", "FS" => spec.into(),
        "Rect" => vec![0.into(), 0.into(), 20.into(), 20.into()],
    }
}

/// One page with text, annotations `annots` (built once the specs exist), and a name tree
/// listing `tree`.
fn pdf(build: impl FnOnce(&mut Document) -> (Vec<(String, ObjectId)>, Vec<Object>)) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let (tree, annots) = build(&mut doc);
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let contents = doc
        .add_object(Stream::new(dictionary! {}, b"BT /F1 12 Tf 72 700 Td (Cover) Tj ET".to_vec()));
    let pages = doc.new_object_id();
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages, "Contents" => contents, "Annots" => annots,
        "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
    });
    doc.objects.insert(
        pages,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 },
        ),
    );
    let names: Vec<Object> = tree
        .into_iter()
        .flat_map(|(key, spec)| [Object::string_literal(key), spec.into()])
        .collect();
    let catalog = doc.add_object(dictionary! {
        "Type" => "Catalog", "Pages" => pages,
        "Names" => dictionary! { "EmbeddedFiles" => dictionary! { "Names" => names } },
    });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn names_and_annotation_attachments() {
    let bytes = pdf(|doc| {
        let tree = spec(doc, "UF", utf16("Übersicht – 2001.xml"), b"<tree/>");
        let latin = spec(doc, "F", Object::string_literal(b"r\xe9sum\xe9.txt".to_vec()), b"cv");
        let clip = spec(doc, "F", Object::string_literal("notes.txt"), b"annotated bytes");
        let annots = vec![
            file_attachment(clip).into(),
            // The tree's own file, attached to the page as well: one child, not two.
            file_attachment(tree).into(),
            // A file outside the document (a plain file specification): nothing to read.
            file_attachment(Object::string_literal("outside.doc")).into(),
        ];
        (vec![("1".into(), tree), ("2".into(), latin)], annots)
    });
    let pdf = extract(&bytes, &[]).unwrap();
    let got: Vec<(&str, &[u8])> =
        pdf.embedded.iter().map(|(name, bytes)| (name.as_str(), bytes.as_slice())).collect();
    assert_eq!(
        got,
        [
            ("Übersicht – 2001.xml", &b"<tree/>"[..]),
            ("résumé.txt", b"cv"),
            ("notes.txt", b"annotated bytes"),
        ]
    );
    assert!(!pdf.embedded_unreadable);
    assert_eq!(pdf.text, "Cover");
}

#[test]
fn a_listed_file_that_cannot_be_read_flags_the_pdf() {
    let bytes = pdf(|doc| {
        let missing = doc.new_object_id();
        let broken = doc.add_object(dictionary! {
            "Type" => "Filespec", "F" => Object::string_literal("gone.txt"),
            "EF" => dictionary! { "F" => missing },
        });
        (Vec::new(), vec![file_attachment(broken).into()])
    });
    let pdf = extract(&bytes, &[]).unwrap();
    assert!(pdf.embedded.is_empty());
    assert!(pdf.embedded_unreadable);
}

/// A Mac-made PDF: every line ends in a lone CR. pdf_oxide reads each object's header up to the
/// next LF, so quarry reads such a file through a copy whose headers end in LF; the files it
/// embeds are still read from the file as it is.
#[test]
fn lines_ending_in_cr_alone() {
    // An uncompressed PDF of its own embedded, whose headers end in CR too: the copy changes
    // them, the child must not.
    let inner = b"%PDF-1.4\r1 0 obj\r<</Type/Catalog>>\rendobj\r".repeat(3);
    let bytes = pdf(|doc| {
        for n in 0..300 {
            doc.add_object(Object::Integer(n));
        }
        let inner = spec(doc, "F", Object::string_literal("inner.pdf"), &inner);
        (vec![("inner.pdf".into(), inner)], Vec::new())
    });
    let as_lf = extract(&bytes, &[]).unwrap();
    assert_eq!(as_lf.text, "Cover");
    // Every LF becomes a CR, byte for byte, so every offset holds (the streams hold no LF).
    assert!(!inner.contains(&b'\n'));
    let mac: Vec<u8> = bytes.iter().map(|&b| if b == b'\n' { b'\r' } else { b }).collect();
    let as_cr = extract(&mac, &[]).unwrap();
    assert_eq!(as_cr.text, as_lf.text);
    assert_eq!(as_cr.meta.pages, Some(1));
    assert_eq!(as_cr.embedded, [("inner.pdf".to_owned(), inner)]);
    assert!(!as_cr.embedded_unreadable);
}

fn corpus() -> Option<PathBuf> {
    std::env::var_os("QUARRY_CORPUS").map(PathBuf::from)
}

/// The corpus PDFs that embed files, as `pdfdetach` lists and saves them.
#[test]
fn corpus_attachments_as_pdfdetach_reads_them() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: set QUARRY_CORPUS to the shared corpus folder");
        return;
    };
    let read = |path: &str| extract(&std::fs::read(corpus.join("pdf").join(path)).unwrap(), &[]);
    // UTF-16 names in the name tree.
    let pdf = read("pdfminer-samples/contrib/issue-625-identity-cmap.pdf").unwrap();
    let names: Vec<&str> = pdf.embedded.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["01_UBL.xml", "02_EAN_UCC.xml"]);
    // A file attached by an annotation only.
    let pdf = read("format-corpus/pdfCabinetOfHorrors/fileAttachment_fileAttachmentAnnotation.pdf")
        .unwrap();
    assert_eq!(pdf.embedded.len(), 1);
    let (name, bytes) = &pdf.embedded[0];
    assert_eq!(name, "PF.WK1");
    assert_eq!(
        blake3::hash(bytes).to_hex().as_str(),
        "5e3bc2ef64850b3965a46347de586ab7d276bff8fc9fe4f01bd8a84979e93705"
    );
    assert!(!pdf.embedded_unreadable);
}
