//! PDF: text per page, document properties, embedded files, encryption.
//!
//! Text comes from pdf_oxide, chosen by measurement (docs/BENCHMARKS.md, DEPENDENCIES.md §2:
//! word recall against poppler's pdftotext 0.965 where lopdf's own extractor reaches 0.859);
//! lopdf reads the Info dictionary and page count, and is the fallback text extractor when
//! pdf_oxide cannot open a damaged file. Both run inside the isolated worker; a panic in either
//! is caught here and becomes a `parser_crash` for this one PDF.

use pdf_oxide::PdfDocument;
use quarry_types::DocumentMeta;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Page separator in stored text (form feed, as pdftotext writes).
pub const PAGE_BREAK: char = '\u{c}';

/// What a PDF yielded.
#[derive(Debug, Default)]
pub struct Pdf {
    /// Properties from the Info dictionary (those it lacks from the XMP packet), and the page
    /// count.
    pub meta: DocumentMeta,
    /// Text of every page, pages separated by [`PAGE_BREAK`].
    pub text: String,
    /// Pages whose text could not be extracted.
    pub failed_pages: u64,
    /// Files embedded in the PDF: name and bytes.
    pub embedded: Vec<(String, Vec<u8>)>,
    /// A password from the case's list opened it.
    pub decrypted: bool,
    /// It is encrypted (opened with the empty password or one from the list).
    pub encrypted: bool,
    /// pdf_oxide could not open it; lopdf's extractor produced the text.
    pub fallback: bool,
    /// The document lists embedded files that could not be read out.
    pub embedded_unreadable: bool,
    /// Embedded files that are encrypted when the document itself is not (Acrobat's "encrypt
    /// only file attachments") and that no known password opens: their names.
    pub embedded_encrypted: Vec<String>,
    /// The document's XMP packet (its catalog's `/Metadata` stream), as read with the pages.
    xmp: Option<Vec<u8>>,
}

/// Why a PDF yielded nothing.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// Encrypted, and neither the empty password nor any known one opens it.
    #[error(
        "encrypted PDF; neither the empty password nor any of the {tried} known passwords opens it"
    )]
    Encrypted {
        /// How many passwords were tried.
        tried: usize,
    },
    /// Neither parser could read it.
    #[error("not a readable PDF: {0}")]
    Corrupt(String),
    /// A parser panicked.
    #[error("the PDF parser crashed: {0}")]
    Panic(String),
}

/// Extracts one PDF.
pub fn extract(bytes: &[u8], passwords: &[Vec<u8>]) -> Result<Pdf, PdfError> {
    match catch_unwind(AssertUnwindSafe(|| extract_lines(bytes, passwords))) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            Err(PdfError::Panic(message))
        }
    }
}

/// Reads a PDF whose object headers end in a lone carriage return through a copy in which
/// they end in a line feed, when pdf_oxide would otherwise crawl.
///
/// A PDF line may end in CR, LF or CR LF (ISO 32000-1 7.2.3), and Mac-made PDFs end every line
/// in CR. pdf_oxide 0.3.78 reads each object's header up to the next LF, then splits all it read
/// into words: where LFs are rare, every object costs a read to the next one. govdocs
/// `316267.pdf` (2.2 MB, 13,688 objects, 104 pages) made it scan 3.4 GB, 10 to 24 s of work
/// where pdftotext takes 0.3 s. Replacing a CR by an LF keeps every offset, and only the CRs
/// right after an object header are replaced.
///
/// The copy is made only when the headers would cost more than [`CRAWL`] times the file's size
/// to read (one file of the corpus's 164: the next is at 16 times), so no other file is
/// touched. Embedded files are bytes to keep and hash: in an unencrypted PDF they are read from
/// the file as it is, in case one of them is an uncompressed PDF whose own headers the copy
/// changed.
fn extract_lines(bytes: &[u8], passwords: &[Vec<u8>]) -> Result<Pdf, PdfError> {
    let Some(copy) = line_feeds_after_headers(bytes) else {
        return extract_inner(bytes, passwords);
    };
    let mut pdf = extract_inner(&copy, passwords)?;
    if !pdf.encrypted
        && let Ok(doc) = PdfDocument::from_bytes(bytes.to_vec())
    {
        pdf.embedded.clear();
        pdf.embedded_unreadable = false;
        embedded_files(&doc, &mut pdf);
    }
    Ok(pdf)
}

/// How many times its own size pdf_oxide may scan to read a PDF's object headers before
/// [`extract_lines`] gives it a copy with line feeds.
const CRAWL: u64 = 64;

/// A copy of `bytes` in which each object header (`12 0 obj`) that ends in a lone CR ends in an
/// LF instead, when reading those headers up to the next LF would scan more than [`CRAWL`]
/// times the file; else `None`.
fn line_feeds_after_headers(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut headers = Vec::new();
    let mut scanned = 0u64;
    let mut next_lf = 0;
    for at in memchr::memmem::find_iter(bytes, b"obj\r") {
        let cr = at + 3;
        if bytes.get(cr + 1) == Some(&b'\n') || !is_header(&bytes[..at]) {
            continue;
        }
        if next_lf <= cr {
            next_lf = memchr::memchr(b'\n', &bytes[cr..]).map_or(bytes.len(), |i| cr + i);
        }
        scanned += (next_lf - cr) as u64;
        headers.push(cr);
    }
    if scanned <= CRAWL * bytes.len() as u64 {
        return None;
    }
    let mut copy = bytes.to_vec();
    for cr in headers {
        copy[cr] = b'\n';
    }
    Some(copy)
}

/// Whether `before` ends as an object header does before its `obj`: white space (or the file's
/// start), an object number, white space, a generation number, white space.
fn is_header(before: &[u8]) -> bool {
    let trailing =
        |bytes: &[u8], class: fn(&u8) -> bool| bytes.iter().rev().take_while(|b| class(b)).count();
    let mut rest = before;
    for _ in 0..2 {
        let spaces = trailing(rest, |b| matches!(b, b' ' | b'\t'));
        rest = &rest[..rest.len() - spaces];
        let digits = trailing(rest, u8::is_ascii_digit);
        if spaces == 0 || digits == 0 || digits > 10 {
            return false;
        }
        rest = &rest[..rest.len() - digits];
    }
    rest.last().is_none_or(|&b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | b'\x0c' | b'\0'))
}

fn read_pages(doc: &PdfDocument, pdf: &mut Pdf) -> Result<(), PdfError> {
    let pages = doc.page_count().map_err(|e| PdfError::Corrupt(e.to_string()))?;
    pdf.meta.pages = Some(pages as u64);
    // Reading order without table reconstruction: review and search need the words, and the
    // table detector (pdf_oxide's default) doubled the time per page (docs/BENCHMARKS.md).
    let options =
        pdf_oxide::converters::ConversionOptions { extract_tables: false, ..Default::default() };
    for page in 0..pages {
        if page > 0 {
            pdf.text.push(PAGE_BREAK);
        }
        match doc.extract_text_with_options(page, &options) {
            Ok(text) => pdf.text.push_str(text.trim_end()),
            Err(_) => pdf.failed_pages += 1,
        }
    }
    embedded_files(doc, pdf);
    pdf.xmp = doc
        .catalog()
        .ok()
        .and_then(|catalog| catalog.as_dict()?.get("Metadata")?.as_reference())
        .and_then(|metadata| doc.load_object(metadata).ok()?.decode_stream_data().ok());
    Ok(())
}

/// A file specification that carries an embedded file (ISO 32000-1 7.11.3-4).
struct FileSpec {
    /// `UF`, else `F`: the bytes of a PDF text string.
    name: Option<Vec<u8>>,
    /// Its key in the `EmbeddedFiles` name tree, if it is there.
    key: Option<Vec<u8>>,
    /// The embedded file stream (`EF` → `F`, else `UF`).
    stream: Option<pdf_oxide::object::ObjectRef>,
    /// It has an `EF` entry: it embeds a file rather than pointing to one outside.
    embeds: bool,
}

impl FileSpec {
    fn read(doc: &PdfDocument, spec: &pdf_oxide::object::Object, key: Option<Vec<u8>>) -> Self {
        let resolve = |o: &pdf_oxide::object::Object| doc.resolve_object(o).ok();
        let dict = spec.as_dict();
        let string = |k: &str| {
            let value = resolve(dict?.get(k)?)?;
            value.as_string().map(<[u8]>::to_vec)
        };
        let stream = dict.and_then(|d| resolve(d.get("EF")?)).and_then(|ef| {
            let ef = ef.as_dict()?;
            ef.get("F").or_else(|| ef.get("UF"))?.as_reference()
        });
        let embeds = dict.is_some_and(|d| d.contains_key("EF"));
        FileSpec { name: string("UF").or_else(|| string("F")), key, stream, embeds }
    }

    /// The name a reviewer sees: `UF`, else `F`, else the tree key, decoded as a PDF text
    /// string.
    fn file_name(&self) -> String {
        self.name
            .as_deref()
            .or(self.key.as_deref())
            .map_or_else(|| "attachment".into(), text_string)
    }
}

/// The files a document embeds, as children of its item:
/// - those of its `EmbeddedFiles` name tree (7.7.4), whose bytes pdf_oxide reads and decrypts.
///   pdf_oxide reads their names as UTF-8, so a name written as UTF-16 (`FE FF 00 30 00 31 …`,
///   as Acrobat writes any name outside Latin-1) or in PDFDocEncoding came out as U+FFFD
///   characters; each gets the name its specification holds, decoded as a PDF text string;
/// - those of file attachment annotations (12.5.6.15: the paper clip on a page), which
///   pdf_oxide does not look for. Read here from unencrypted documents; in an encrypted one
///   they are counted as unreadable.
///
/// A specification whose file cannot be read flags the item `embedded-files-unreadable`: a
/// file that the document lists is never dropped without a trace.
fn embedded_files(doc: &PdfDocument, pdf: &mut Pdf) {
    let resolve = |o: &pdf_oxide::object::Object| doc.resolve_object(o).ok();
    // The name tree, depth-first as pdf_oxide walks it, each node at most 32 levels deep.
    let mut tree = Vec::new();
    let root = doc
        .catalog()
        .ok()
        .and_then(|catalog| resolve(catalog.as_dict()?.get("Names")?))
        .and_then(|names| resolve(names.as_dict()?.get("EmbeddedFiles")?));
    let mut pending: Vec<(pdf_oxide::object::Object, usize)> =
        root.into_iter().map(|r| (r, 0)).collect();
    while let Some((node, depth)) = pending.pop() {
        let Some(node) = node.as_dict() else { continue };
        if depth > 32 || tree.len() > 100_000 {
            break;
        }
        if let Some(pairs) = node.get("Names").and_then(resolve) {
            for pair in pairs.as_array().map_or(&[][..], Vec::as_slice).chunks(2) {
                let key =
                    pair.first().and_then(resolve).and_then(|k| k.as_string().map(<[u8]>::to_vec));
                if let Some(spec) = pair.get(1).and_then(resolve) {
                    tree.push(FileSpec::read(doc, &spec, key));
                }
            }
        }
        if let Some(kids) = node.get("Kids").and_then(resolve) {
            let kids = kids.as_array().map_or(&[][..], Vec::as_slice);
            pending.extend(kids.iter().rev().filter_map(|kid| Some((resolve(kid)?, depth + 1))));
        }
    }
    match doc.extract_embedded_files() {
        Ok(files) => {
            let mut unnamed: Vec<&FileSpec> = tree.iter().filter(|s| s.stream.is_some()).collect();
            let read = files.len();
            for (name, bytes) in files {
                // pdf_oxide's name for a spec: `UF`, else `F`, as lossy UTF-8, else "attachment".
                let theirs = |spec: &&FileSpec| {
                    spec.name
                        .as_deref()
                        .map_or_else(|| "attachment".into(), String::from_utf8_lossy)
                        == name
                };
                let name = match unnamed.iter().position(theirs) {
                    Some(at) => unnamed.remove(at).file_name(),
                    None => name,
                };
                pdf.embedded.push((name, bytes));
            }
            if read < tree.iter().filter(|s| s.stream.is_some()).count() {
                pdf.embedded_unreadable = true;
            }
        }
        Err(_) => pdf.embedded_unreadable = true,
    }
    let in_tree: Vec<_> = tree.iter().filter_map(|s| s.stream).collect();
    let pages = doc.page_count().unwrap_or(0);
    let mut attached: Vec<FileSpec> = Vec::new();
    for page in 0..pages {
        let Some(annots) =
            doc.get_page(page).ok().and_then(|page| resolve(page.as_dict()?.get("Annots")?))
        else {
            continue;
        };
        for annot in annots.as_array().map_or(&[][..], Vec::as_slice) {
            let Some(annot) = resolve(annot) else { continue };
            let Some(annot) = annot.as_dict() else { continue };
            if annot.get("Subtype").and_then(|s| s.as_name()) != Some("FileAttachment") {
                continue;
            }
            let Some(spec) = annot.get("FS").and_then(resolve) else { continue };
            let spec = FileSpec::read(doc, &spec, None);
            if !spec.embeds {
                continue;
            }
            // The same file listed twice (in the tree too, or on two pages) is one child.
            let seen = |stream| {
                in_tree.contains(&stream) || attached.iter().any(|a| a.stream == Some(stream))
            };
            match spec.stream {
                Some(stream) if seen(stream) => {}
                _ => attached.push(spec),
            }
        }
    }
    for spec in attached {
        let bytes = spec
            .stream
            .filter(|_| !doc.is_encrypted())
            .and_then(|stream| doc.load_object(stream).ok()?.decode_stream_data().ok());
        match bytes {
            Some(bytes) => pdf.embedded.push((spec.file_name(), bytes)),
            None => pdf.embedded_unreadable = true,
        }
    }
}

/// lopdf's own text extraction, page by page (the fallback engine: flag `text-fallback`).
fn lopdf_pages(doc: &lopdf::Document, pdf: &mut Pdf) {
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    pdf.meta.pages = Some(pages.len() as u64);
    for (i, page) in pages.iter().enumerate() {
        if i > 0 {
            pdf.text.push(PAGE_BREAK);
        }
        match doc.extract_text(&[*page]) {
            Ok(text) => pdf.text.push_str(text.trim_end()),
            Err(_) => pdf.failed_pages += 1,
        }
    }
    pdf.fallback = true;
}

fn extract_inner(bytes: &[u8], passwords: &[Vec<u8>]) -> Result<Pdf, PdfError> {
    let mut pdf = Pdf::default();
    let mut password: Option<&[u8]> = None;
    // What the properties are read from: the bytes, or a plain view of them (below).
    let mut readable = std::borrow::Cow::Borrowed(bytes);
    // lopdf's full parse of an unencrypted file, when a fallback below needed it: made once.
    let mut parsed: Option<lopdf::Document> = None;
    match PdfDocument::from_bytes(bytes.to_vec()) {
        Ok(doc) if doc.is_encrypted() => {
            // The empty password first (permissions-only encryption), then the case's list.
            // Some handlers accept a password and still decrypt nothing (seen with AES-256 on
            // pdf_oxide 0.3.78): a password counts once text comes out; an encrypted PDF that
            // opens but yields no text under any password is kept, flagged `encrypted`.
            let candidates = std::iter::once(&[][..]).chain(passwords.iter().map(Vec::as_slice));
            let mut opened: Option<Pdf> = None;
            // The first password pdf_oxide accepted, and why its pages did not read, if not.
            let mut accepted = None;
            let mut unreadable = None;
            let mut first = Some(doc);
            for candidate in candidates {
                let Some(doc) =
                    first.take().or_else(|| PdfDocument::from_bytes(bytes.to_vec()).ok())
                else {
                    continue;
                };
                if !doc.authenticate(candidate).unwrap_or(false) {
                    continue;
                }
                accepted.get_or_insert(candidate);
                let mut attempt = Pdf { decrypted: !candidate.is_empty(), ..Pdf::default() };
                if let Err(e) = read_pages(&doc, &mut attempt) {
                    unreadable.get_or_insert(e);
                    continue;
                }
                let has_text = has_text(&attempt.text);
                if has_text || opened.is_none() {
                    password = Some(candidate);
                    opened = Some(attempt);
                }
                if has_text {
                    break;
                }
            }
            // pdf_oxide accepted a password and read no text with it: it derives the wrong key
            // for AES-256 revision 5 (Acrobat 9), and refuses the pages of such a file when
            // they sit in object streams. lopdf decrypts those: its plain copy is read instead.
            if let Some(candidate) = accepted
                && !opened.as_ref().is_some_and(|pdf| has_text(&pdf.text))
                && let Some(plain) = decrypted_copy(bytes, candidate)
                && let Ok(doc) = PdfDocument::from_bytes(plain.clone())
            {
                let mut attempt = Pdf { decrypted: !candidate.is_empty(), ..Pdf::default() };
                if read_pages(&doc, &mut attempt).is_ok()
                    && (has_text(&attempt.text) || opened.is_none())
                {
                    opened = Some(attempt);
                    // The properties are read from the plain copy, which needs no password.
                    password = None;
                    readable = std::borrow::Cow::Owned(plain);
                }
            }
            if opened.is_none()
                && let Some(e) = unreadable
            {
                return Err(PdfError::Corrupt(format!(
                    "encrypted PDF: a known password opens it, but its pages cannot be read: {e}"
                )));
            }
            match (opened, attachments_only(bytes)) {
                (Some(attempt), _) => {
                    pdf = attempt;
                    pdf.encrypted = true;
                }
                // Only the embedded files are encrypted: the pages and properties are read,
                // each embedded file becomes an `encrypted` exception of its own.
                (None, Some(plain)) => {
                    let doc = PdfDocument::from_bytes(plain.clone())
                        .map_err(|e| PdfError::Corrupt(e.to_string()))?;
                    read_pages(&doc, &mut pdf)?;
                    // The embedded files' bytes are ciphertext: only their names are read.
                    pdf.embedded.clear();
                    if let Ok(plain) = lopdf::Document::load_mem(&plain) {
                        pdf.embedded_encrypted = embedded_names(&plain);
                        pdf.embedded_unreadable = false;
                    }
                    pdf.encrypted = true;
                    readable = std::borrow::Cow::Owned(plain);
                }
                (None, None) => return Err(PdfError::Encrypted { tried: passwords.len() }),
            }
        }
        Ok(doc) => {
            // TeX's math fonts: the text comes from a copy that says how to read them, the
            // embedded files from the file itself.
            if memchr::memmem::find(bytes, b"/Type1C").is_some() {
                parsed = lopdf::Document::load_mem(bytes).ok();
            }
            let tex = parsed.as_ref().and_then(cff_to_unicode);
            match tex.and_then(|copy| PdfDocument::from_bytes(copy).ok()) {
                Some(copy) if read_pages(&copy, &mut pdf).is_ok() => {
                    pdf.embedded.clear();
                    pdf.embedded_unreadable = false;
                    embedded_files(&doc, &mut pdf);
                }
                _ => {
                    pdf = Pdf::default();
                    read_pages(&doc, &mut pdf)?;
                }
            }
            // No text: perhaps none there (a scan), perhaps filters pdf_oxide did not follow.
            if !has_text(&pdf.text) && parsed.is_none() {
                parsed = lopdf::Document::load_mem(bytes).ok();
            }
            if !has_text(&pdf.text)
                && let Some(copy) = parsed.as_ref().and_then(direct_filters)
                && let Ok(doc) = PdfDocument::from_bytes(copy)
            {
                let mut attempt = Pdf::default();
                if read_pages(&doc, &mut attempt).is_ok() && has_text(&attempt.text) {
                    pdf = attempt;
                }
            }
        }
        Err(oxide) => {
            // Salvage with lopdf, which repairs some damage pdf_oxide refuses.
            let doc = lopdf::Document::load_mem(bytes)
                .map_err(|e| PdfError::Corrupt(format!("{oxide}; lopdf: {e}")))?;
            if doc.is_encrypted() {
                return Err(PdfError::Encrypted { tried: passwords.len() });
            }
            lopdf_pages(&doc, &mut pdf);
            parsed = Some(doc);
        }
    }
    if pdf.text.contains(|c| ('\u{fb00}'..='\u{fb06}').contains(&c)) {
        pdf.text = expand_ligatures(&pdf.text);
    }
    if pdf.encrypted && !has_text(&pdf.text) {
        pdf.text.clear();
    }
    let lossy = password.map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
    let mut info = lopdf::Document::load_metadata_mem_with_password(&readable, &lossy).ok();
    // lopdf reads no properties of a file whose encryption dictionary sits in the trailer
    // itself (see `decrypted_copy`): they are read from the plain copy.
    let unread = |info: &lopdf::PdfMetadata| {
        info.encrypted
            && [&info.title, &info.author, &info.subject, &info.creator, &info.producer]
                .iter()
                .all(|field| field.is_none())
            && info.creation_date.is_none()
    };
    if pdf.encrypted
        && matches!(readable, std::borrow::Cow::Borrowed(_))
        && info.as_ref().is_none_or(unread)
        && let Some(plain) = decrypted_copy(bytes, password.unwrap_or_default())
    {
        info = lopdf::Document::load_metadata_mem(&plain).ok().or(info);
    }
    let clean = |s: Option<String>| {
        s.map(|s| s.trim_matches(char::from(0)).trim().to_owned()).filter(|s| !s.is_empty())
    };
    if let Some(info) = info {
        pdf.meta.title = clean(info.title);
        pdf.meta.author = clean(info.author);
        pdf.meta.subject = clean(info.subject);
        pdf.meta.creator = clean(info.creator);
        pdf.meta.producer = clean(info.producer);
        pdf.meta.created = info.creation_date.as_deref().and_then(pdf_date);
        pdf.meta.modified = info.modification_date.as_deref().and_then(pdf_date);
        if pdf.meta.pages.is_none() {
            pdf.meta.pages = Some(u64::from(info.page_count));
        }
    }
    // lopdf's metadata reader gives nothing for a value stored as an object of its own
    // (`/Title 15 0 R`; macOS's Quartz PDFContext writes every one so): when it found no
    // property at all, they are read from the whole document, references followed.
    let m = &pdf.meta;
    let none = [&m.title, &m.author, &m.subject, &m.creator, &m.producer, &m.created, &m.modified]
        .iter()
        .all(|field| field.is_none());
    let whole = || {
        let options = lopdf::LoadOptions::with_password(&lossy);
        lopdf::Document::load_mem_with_options(&readable, options).ok()
    };
    if none && let Some(fields) = parsed.or_else(whole).as_ref().and_then(info_fields) {
        let field = |key: &[u8]| fields.iter().find(|(k, _)| k == key).map(|(_, v)| text_string(v));
        pdf.meta.title = clean(field(b"Title"));
        pdf.meta.author = clean(field(b"Author"));
        pdf.meta.subject = clean(field(b"Subject"));
        pdf.meta.creator = clean(field(b"Creator"));
        pdf.meta.producer = clean(field(b"Producer"));
        pdf.meta.created = field(b"CreationDate").as_deref().and_then(pdf_date);
        pdf.meta.modified = field(b"ModDate").as_deref().and_then(pdf_date);
    }
    // What the Info dictionary lacks, from the XMP packet: PDF 2.0 deprecates Info, and some
    // writers put the title and authors in XMP alone. Info comes first, as pdfinfo reads it.
    let m = &mut pdf.meta;
    let lacking =
        [&m.title, &m.author, &m.subject, &m.creator, &m.producer, &m.created, &m.modified]
            .iter()
            .any(|field| field.is_none());
    if lacking && let Some(xmp) = pdf.xmp.take().map(|packet| crate::xmp::read(&packet)) {
        let fields = [
            (&mut m.title, xmp.title),
            (&mut m.author, xmp.author),
            (&mut m.subject, xmp.subject),
            (&mut m.creator, xmp.creator),
            (&mut m.producer, xmp.producer),
            (&mut m.created, xmp.created),
            (&mut m.modified, xmp.modified),
        ];
        for (field, from_xmp) in fields {
            if field.is_none() {
                *field = clean(from_xmp);
            }
        }
    }
    Ok(pdf)
}

/// The string values of the trailer's Info dictionary, references followed (the dictionary's
/// own, and each value's), from lopdf's full parse.
fn info_fields(doc: &lopdf::Document) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let (_, info) = doc.dereference(doc.trailer.get(b"Info").ok()?).ok()?;
    let fields = info.as_dict().ok()?.iter().filter_map(|(key, value)| {
        let (_, value) = doc.dereference(value).ok()?;
        Some((key.clone(), value.as_str().ok()?.to_vec()))
    });
    Some(fields.collect())
}

/// Whether extracted text holds anything a reader would call text.
fn has_text(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

/// An encrypted PDF decrypted by lopdf with `password` (or the empty one) and written out
/// unencrypted, for pdf_oxide to read; `None` when lopdf cannot open it with either.
///
/// lopdf 0.47 reads an encryption dictionary only when the trailer refers to it. One written
/// in the trailer itself (pdfminer's AES samples) is ignored, and the file then loads with no
/// objects. Such a file is read again with the dictionary moved to an object of its own,
/// appended at the end, and the cross-reference table rebuilt by scanning.
fn decrypted_copy(bytes: &[u8], password: &[u8]) -> Option<Vec<u8>> {
    // lopdf takes passwords as text; AES-256 passwords are UTF-8 (SASLprep) anyway.
    let password = std::str::from_utf8(password).ok()?;
    let options = lopdf::LoadOptions::with_password(password);
    let mut doc = match lopdf::Document::load_mem_with_options(bytes, options) {
        Ok(doc) => doc,
        Err(_) => {
            let moved = encrypt_dictionary_moved(bytes)?;
            let mut options = lopdf::LoadOptions::with_password(password);
            options.force_reconstruct = true;
            lopdf::Document::load_mem_with_options(&moved, options).ok()?
        }
    };
    doc.trailer.remove(b"Encrypt");
    let mut out = Vec::new();
    doc.save_to(&mut out).ok()?;
    Some(out)
}

/// The text with the Latin ligatures a typesetter uses (`ﬁ`, `ﬂ`, `ﬀ`, `ﬃ`, `ﬄ`, `ﬅ`, `ﬆ`: one
/// glyph each in the font, so one character in the PDF's text) written as their letters, as
/// pdftotext writes them. Search folds them anyway; a text export, and whatever reads it, would
/// otherwise hold `ﬁrst` where the page says *first*.
fn expand_ligatures(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\u{fb00}' => out.push_str("ff"),
            '\u{fb01}' => out.push_str("fi"),
            '\u{fb02}' => out.push_str("fl"),
            '\u{fb03}' => out.push_str("ffi"),
            '\u{fb04}' => out.push_str("ffl"),
            '\u{fb05}' | '\u{fb06}' => out.push_str("st"),
            c => out.push(c),
        }
    }
    out
}

/// A copy of the PDF, written by lopdf, in which every Type 1 font whose program is CFF
/// (`FontFile3`, `/Type1C`) and that names neither an encoding nor a `ToUnicode` map gets a
/// `ToUnicode` map read from its program's own encoding; `None` when there is no such font.
///
/// pdfTeX embeds TeX's math fonts (CMMI, CMSY, CMEX, MSBM) so, and ISO 32000-1 9.6.6.1 says
/// their built-in encoding applies. pdf_oxide 0.3.78 picks the reader of a font program by the
/// font's `/Subtype` rather than by its file: it reads a CFF program as a Type 1 one, finds no
/// encoding, and falls back to the standard encoding. Greek letters came out as nothing, `,` as
/// `;` and `→` as `!` (in py-pdf's GeoTopo lecture notes, 316 `γ` were lost). Its own CFF
/// reader, given the program, gets the encoding right: a `ToUnicode` map, which every reader
/// prefers, carries that reading to it.
///
/// The stream dictionary of a font program is never inside an object stream, so a file without
/// `/Type1C` in its bytes has no such font and is not parsed for it.
fn cff_to_unicode(doc: &lopdf::Document) -> Option<Vec<u8>> {
    let get = |dict: &lopdf::Dictionary, key: &[u8]| -> Option<lopdf::Object> {
        doc.dereference(dict.get(key).ok()?).ok().map(|(_, o)| o.clone())
    };
    let mut maps = Vec::new();
    for (&id, object) in &doc.objects {
        let Ok(font) = object.as_dict() else { continue };
        let name = |key: &[u8]| get(font, key).and_then(|o| o.as_name().ok().map(<[u8]>::to_vec));
        if name(b"Type").as_deref() != Some(b"Font")
            || !matches!(name(b"Subtype").as_deref(), Some(b"Type1" | b"MMType1"))
            || font.has(b"Encoding")
            || font.has(b"ToUnicode")
        {
            continue;
        }
        let Some(lopdf::Object::Stream(program)) =
            get(font, b"FontDescriptor").and_then(|d| get(d.as_dict().ok()?, b"FontFile3"))
        else {
            continue;
        };
        if program.dict.get(b"Subtype").and_then(lopdf::Object::as_name).ok() != Some(b"Type1C") {
            continue;
        }
        let data = program.decompressed_content().unwrap_or_else(|_| program.content.clone());
        let Some(encoding) = pdf_oxide::fonts::cff_encoding::parse_cff_encoding(&data) else {
            continue;
        };
        maps.push((id, to_unicode_cmap(&encoding)));
    }
    if maps.is_empty() {
        return None;
    }
    let mut doc = doc.clone();
    for (id, cmap) in maps {
        let cmap = doc.add_object(lopdf::Stream::new(lopdf::Dictionary::new(), cmap));
        if let Ok(lopdf::Object::Dictionary(font)) = doc.get_object_mut(id) {
            font.set("ToUnicode", cmap);
        }
    }
    let mut out = Vec::new();
    doc.save_to(&mut out).ok()?;
    Some(out)
}

/// A `ToUnicode` CMap (ISO 32000-1 9.10.3) for one-byte codes.
fn to_unicode_cmap(encoding: &std::collections::HashMap<u8, char>) -> Vec<u8> {
    let mut codes: Vec<(u8, char)> = encoding.iter().map(|(&code, &c)| (code, c)).collect();
    codes.sort_unstable();
    let mut out = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<00> <FF>\nendcodespacerange\n",
    );
    // At most 100 mappings a block.
    for block in codes.chunks(100) {
        out.push_str(&format!("{} beginbfchar\n", block.len()));
        for (code, c) in block {
            let mut units = [0u16; 2];
            let utf16: String =
                c.encode_utf16(&mut units).iter().map(|u| format!("{u:04X}")).collect();
            out.push_str(&format!("<{code:02X}> <{utf16}>\n"));
        }
        out.push_str("endbfchar\n");
    }
    out.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    out.into_bytes()
}

/// A copy of the PDF, written by lopdf, with every stream's `/Filter` and `/DecodeParms` given
/// directly where the file refers to other objects for them (SAP NetWeaver writes
/// `/Filter 3 0 R`, as ISO 32000-1 allows): pdf_oxide 0.3.78 does not follow such references
/// and reads those streams as empty. `None` when no stream refers to its filters.
fn direct_filters(doc: &lopdf::Document) -> Option<Vec<u8>> {
    let mut changes = Vec::new();
    for (&id, object) in &doc.objects {
        let lopdf::Object::Stream(stream) = object else { continue };
        for key in [&b"Filter"[..], b"DecodeParms"] {
            let Ok(value) = stream.dict.get(key) else { continue };
            let direct = match value {
                lopdf::Object::Reference(_) => doc.dereference(value).ok()?.1.clone(),
                lopdf::Object::Array(items)
                    if items.iter().any(|i| matches!(i, lopdf::Object::Reference(_))) =>
                {
                    let items = items.iter().map(|i| doc.dereference(i).map(|(_, o)| o.clone()));
                    lopdf::Object::Array(items.collect::<Result<_, _>>().ok()?)
                }
                _ => continue,
            };
            changes.push((id, key, direct));
        }
    }
    if changes.is_empty() {
        return None;
    }
    let mut doc = doc.clone();
    for (id, key, direct) in changes {
        if let Ok(lopdf::Object::Stream(stream)) = doc.get_object_mut(id) {
            stream.dict.set(key, direct);
        }
    }
    let mut out = Vec::new();
    doc.save_to(&mut out).ok()?;
    Some(out)
}

/// The object number the moved encryption dictionary takes: above what files use, and not
/// above 1,000,000, past which lopdf's rebuild ignores objects.
const MOVED_ENCRYPT: &[u8] = b"999999 0";

/// `bytes` with the last trailer's direct `/Encrypt <<…>>` dictionary replaced by a reference
/// (padded with spaces, so every offset holds) and appended as that object; `None` when the
/// last `/Encrypt` is not followed by a dictionary or the dictionary is shorter than the
/// reference.
fn encrypt_dictionary_moved(bytes: &[u8]) -> Option<Vec<u8>> {
    let key = memchr::memmem::find_iter(bytes, b"/Encrypt")
        .filter(|&at| bytes.get(at + 8).is_some_and(|&b| b == b'<' || b.is_ascii_whitespace()))
        .last()?;
    let start = key + 8 + bytes[key + 8..].iter().take_while(|b| b.is_ascii_whitespace()).count();
    let end = dictionary_end(bytes, start)?;
    let reference = [b" ", MOVED_ENCRYPT, b" R"].concat();
    if end - start < reference.len() {
        return None;
    }
    let mut moved = bytes.to_vec();
    moved[start..end].fill(b' ');
    moved[start..start + reference.len()].copy_from_slice(&reference);
    moved.extend_from_slice(&[b"\n", MOVED_ENCRYPT, b" obj\n"].concat());
    moved.extend_from_slice(&bytes[start..end]);
    moved.extend_from_slice(b"\nendobj\n");
    Some(moved)
}

/// The end (exclusive) of the dictionary that starts at `start` (at its `<<`), stepping over
/// strings: literal ones, whose bytes may look like `>>` (ISO 32000-1 7.3.4.2: balanced
/// parentheses, backslash escapes), and hex ones; `None` when it does not start there or does
/// not end.
fn dictionary_end(bytes: &[u8], start: usize) -> Option<usize> {
    if !bytes[start..].starts_with(b"<<") {
        return None;
    }
    let (mut depth, mut at) = (0usize, start);
    while at < bytes.len() {
        match bytes[at] {
            b'(' => {
                let mut nested = 0usize;
                while at < bytes.len() {
                    match bytes[at] {
                        b'\\' => at += 1,
                        b'(' => nested += 1,
                        b')' => {
                            nested -= 1;
                            if nested == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    at += 1;
                }
            }
            b'<' if bytes.get(at + 1) == Some(&b'<') => {
                depth += 1;
                at += 1;
            }
            // A hex string: its closing `>` may be followed by the dictionary's `>>`.
            b'<' => at += memchr::memchr(b'>', &bytes[at..])?,
            b'>' if bytes.get(at + 1) == Some(&b'>') => {
                depth -= 1;
                at += 1;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// A PDF that encrypts only its embedded files (Acrobat's "encrypt only file attachments":
/// crypt filters, `V` 4 or 5, whose `StmF` and `StrF` are `Identity`; ISO 32000-1 7.6.5): its
/// pages and properties are plain, and readable without the password. Its bytes with the
/// trailer's `/Encrypt` entry blanked out (the same length, so every offset holds), which the
/// readers then open as an unencrypted document; `None` for any other PDF.
fn attachments_only(bytes: &[u8]) -> Option<Vec<u8>> {
    let doc = lopdf::Document::load_mem(bytes).ok()?;
    let reference = doc.trailer.get(b"Encrypt").ok()?.as_reference().ok()?;
    let encrypt = doc.get_dictionary(reference).ok()?;
    if encrypt.get(b"V").and_then(lopdf::Object::as_i64).ok()? < 4 {
        return None;
    }
    let plain = |key: &[u8]| {
        encrypt.get(key).map_or(true, |filter| filter.as_name().is_ok_and(|n| n == b"Identity"))
    };
    if !plain(b"StmF") || !plain(b"StrF") {
        return None;
    }
    // `/Encrypt 12 0 R`, wherever a trailer or cross-reference stream names it.
    let mut out = bytes.to_vec();
    let mut blanked = false;
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&out[from..], b"/Encrypt").map(|i| i + from) {
        from = at + 1;
        let mut rest = &out[at + 8..];
        let mut number = || -> Option<u64> {
            let skip = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
            let digits = rest[skip..].iter().take_while(|b| b.is_ascii_digit()).count();
            let value = std::str::from_utf8(&rest[skip..skip + digits]).ok()?.parse().ok()?;
            rest = &rest[skip + digits..];
            Some(value)
        };
        let (id, generation) = (number(), number());
        let skip = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if id == Some(u64::from(reference.0))
            && generation == Some(u64::from(reference.1))
            && rest.get(skip) == Some(&b'R')
        {
            let end = out.len() - rest.len() + skip + 1;
            out[at..end].fill(b' ');
            blanked = true;
        }
    }
    blanked.then_some(out)
}

/// The names of the files a document embeds (its `EmbeddedFiles` name tree, ISO 32000-1
/// 7.7.4 and 7.9.6), read without opening them: each file specification's `UF`, else `F`, else
/// its key in the tree.
fn embedded_names(doc: &lopdf::Document) -> Vec<String> {
    fn resolve<'a>(
        doc: &'a lopdf::Document,
        object: &'a lopdf::Object,
    ) -> Option<&'a lopdf::Object> {
        doc.dereference(object).ok().map(|(_, o)| o)
    }
    let tree = doc
        .catalog()
        .ok()
        .and_then(|catalog| resolve(doc, catalog.get(b"Names").ok()?))
        .and_then(|names| resolve(doc, names.as_dict().ok()?.get(b"EmbeddedFiles").ok()?));
    let mut out = Vec::new();
    // Depth-first, each node at most once and 32 levels deep (a damaged tree may loop).
    let mut pending: Vec<(&lopdf::Object, usize)> = tree.into_iter().map(|t| (t, 0)).collect();
    let mut seen = 0;
    while let Some((node, depth)) = pending.pop() {
        seen += 1;
        let Ok(node) = node.as_dict() else { continue };
        if depth > 32 || seen > 100_000 {
            break;
        }
        if let Some(pairs) = node.get(b"Names").ok().and_then(|n| resolve(doc, n)?.as_array().ok())
        {
            for pair in pairs.chunks(2) {
                let key = pair.first().and_then(|k| resolve(doc, k)?.as_str().ok());
                let spec = pair.get(1).and_then(|v| resolve(doc, v)?.as_dict().ok());
                let named = spec.and_then(|spec| {
                    let name =
                        |k: &[u8]| spec.get(k).ok().and_then(|v| resolve(doc, v)?.as_str().ok());
                    name(b"UF").or_else(|| name(b"F"))
                });
                if let Some(name) = named.or(key) {
                    out.push(text_string(name));
                }
            }
        }
        if let Some(kids) = node.get(b"Kids").ok().and_then(|k| resolve(doc, k)?.as_array().ok()) {
            pending
                .extend(kids.iter().rev().filter_map(|kid| Some((resolve(doc, kid)?, depth + 1))));
        }
    }
    out
}

/// A PDF text string: UTF-16BE after a byte-order mark, else PDFDocEncoding (read as Latin-1,
/// which it equals for letters and digits).
fn text_string(bytes: &[u8]) -> String {
    match bytes.strip_prefix(&[0xFE, 0xFF]) {
        Some(utf16) => {
            let units: Vec<u16> =
                utf16.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            String::from_utf16_lossy(&units)
        }
        None => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// A PDF date (`D:YYYYMMDDHHmmSSOHH'mm'`, every part after the year optional) as ISO 8601:
/// in UTC (`Z`) when it carries an offset, else as written, without a zone.
#[must_use]
pub fn pdf_date(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.strip_prefix("D:").unwrap_or(s);
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() < 4 {
        return None;
    }
    let field = |from: usize, default: u32| -> u32 {
        digits.get(from..from + 2).and_then(|d| d.parse().ok()).unwrap_or(default)
    };
    // Year 0 is a placeholder some writers put for "no date".
    let year: i64 = digits[..4].parse().ok().filter(|&year| year > 0)?;
    let (month, day, hour, minute, second) =
        (field(4, 1), field(6, 1), field(8, 0), field(10, 0), field(12, 0));
    // Checked against the calendar: 31 April is no date.
    let local = quarry_types::unix_from_civil(year, month, day, hour, minute, second)?;
    let rest = &s[digits.len()..];
    let offset = match rest.chars().next() {
        Some('Z') => Some(0),
        // `HH'mm'` by the standard; writers also leave out the apostrophes (`-0100`) or the
        // minutes. An offset that reads as neither is left out: the time is kept as written.
        Some(sign @ ('+' | '-')) => {
            let offset: String = rest[1..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '\'')
                .filter(char::is_ascii_digit)
                .collect();
            let part = |from: usize| offset.get(from..from + 2).and_then(|d| d.parse::<i64>().ok());
            match (offset.len(), part(0), part(2)) {
                (2, Some(hours), _) if hours <= 23 => Some(hours * 60),
                (4, Some(hours), Some(minutes)) if hours <= 23 && minutes <= 59 => {
                    Some(hours * 60 + minutes)
                }
                _ => None,
            }
            .map(|minutes| if sign == '-' { -minutes } else { minutes })
        }
        _ => None,
    };
    Some(match offset {
        Some(minutes) => quarry_types::iso_utc_from_unix(local - minutes * 60),
        None => {
            let iso = quarry_types::iso_utc_from_unix(local);
            iso.trim_end_matches('Z').to_owned()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(pdf_date("D:20010514163900-07'00'").as_deref(), Some("2001-05-14T23:39:00Z"));
        assert_eq!(pdf_date("D:20010514163900Z").as_deref(), Some("2001-05-14T16:39:00Z"));
        assert_eq!(pdf_date("D:2001").as_deref(), Some("2001-01-01T00:00:00"));
        assert_eq!(pdf_date("D:20000229").as_deref(), Some("2000-02-29T00:00:00"));
        assert_eq!(pdf_date("garbage"), None);
        // Offsets without apostrophes, or without minutes (pdf.js's TAMReview.pdf has the
        // first: pdfinfo reads it as 2010-03-16 03:13:32 UTC).
        assert_eq!(pdf_date("D:20100316021332-0100").as_deref(), Some("2010-03-16T03:13:32Z"));
        assert_eq!(pdf_date("D:20100316021332+0530").as_deref(), Some("2010-03-15T20:43:32Z"));
        assert_eq!(pdf_date("D:20100316021332+02").as_deref(), Some("2010-03-16T00:13:32Z"));
        assert_eq!(pdf_date("D:20100316021332+02'").as_deref(), Some("2010-03-16T00:13:32Z"));
        // Offsets that read as no offset: the time as written.
        assert_eq!(pdf_date("D:20100316021332-99'00'").as_deref(), Some("2010-03-16T02:13:32"));
        assert_eq!(pdf_date("D:20100316021332+1").as_deref(), Some("2010-03-16T02:13:32"));
        assert_eq!(pdf_date("D:00000101000000Z"), None);
        // Not on the calendar, or not a time: no date, rather than another day.
        for date in ["D:20010230", "D:20010431120000Z", "D:20010514126000Z", "D:20010514120099Z"] {
            assert_eq!(pdf_date(date), None, "{date}");
        }
    }

    #[test]
    fn dictionary_ends_step_over_strings() {
        // The literal string holds `>>`, an escaped `)` and a nested pair; the hex string's `>`
        // is followed by the dictionary's own `>>`.
        let text = b"x<</U(a>>\\)b(c)>>)/O<ab>>>tail";
        assert_eq!(dictionary_end(text, 1), Some(text.len() - 4));
        assert_eq!(dictionary_end(b"<</A<</B 1>>>>", 0), Some(14));
        assert_eq!(dictionary_end(b"<</A (open >>", 0), None);
        assert_eq!(dictionary_end(b"/A", 0), None);
    }

    #[test]
    fn a_direct_encryption_dictionary_is_moved_to_an_object() {
        let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer\n<</Root 1 0 R/Encrypt<</Filter/Standard/EncryptMetadata true/U(>>)>>/Size 2>>\n%%EOF\n";
        let dictionary = "<</Filter/Standard/EncryptMetadata true/U(>>)>>";
        let moved = String::from_utf8(encrypt_dictionary_moved(pdf).unwrap()).unwrap();
        // Same offsets: the reference, padded to the dictionary's length.
        let reference = format!("{:<1$}", " 999999 0 R", dictionary.len());
        let original = String::from_utf8(pdf.to_vec()).unwrap();
        let (head, tail) = moved.split_at(pdf.len());
        assert_eq!(head, original.replace(dictionary, &reference));
        assert_eq!(tail, format!("\n999999 0 obj\n{dictionary}\nendobj\n"));
        // A reference already: nothing to move.
        assert!(encrypt_dictionary_moved(b"trailer<</Encrypt 5 0 R>>").is_none());
    }

    #[test]
    fn ligatures_are_letters() {
        assert_eq!(
            expand_ligatures("ﬁrst ﬂow oﬀ oﬃce baﬄe ﬅ ﬆ"),
            "first flow off office baffle st st"
        );
        assert_eq!(expand_ligatures("ﬁ\u{c}é"), "fi\u{c}é");
    }

    #[test]
    fn object_headers() {
        assert!(is_header(b"12 0 "));
        assert!(is_header(b"endobj\r12 0 "));
        assert!(is_header(b"x\n7\t0\t"));
        assert!(!is_header(b"end"));
        assert!(!is_header(b"x12 0 "));
        assert!(!is_header(b"12 0"));
        assert!(!is_header(b"120 "));
        assert!(!is_header(b"12345678901 0 "));
    }

    #[test]
    fn line_feeds_only_where_headers_would_crawl() {
        // 200 objects, their headers ending in a lone CR, and no LF anywhere: each header read
        // runs to the end of the file.
        let mut pdf = b"%PDF-1.4\r".to_vec();
        let mut crs = Vec::new();
        for id in 1..=200 {
            pdf.extend_from_slice(format!("{id} 0 obj\r").as_bytes());
            crs.push(pdf.len() - 1);
            pdf.extend_from_slice(b"<</Type/X>>\rendobj\r");
        }
        let copy = line_feeds_after_headers(&pdf).unwrap();
        let changed: Vec<usize> = (0..pdf.len()).filter(|&i| copy[i] != pdf[i]).collect();
        assert_eq!(changed, crs);
        assert!(changed.iter().all(|&i| pdf[i] == b'\r' && copy[i] == b'\n'));
        // The same with an LF after every object: nothing to gain.
        let lines = String::from_utf8(pdf.clone()).unwrap().replace("endobj\r", "endobj\r\n");
        assert!(line_feeds_after_headers(lines.as_bytes()).is_none());
        // A few headers read to the end cost less than the bound.
        assert!(line_feeds_after_headers(&pdf[..crs[40]]).is_none());
    }

    #[test]
    fn to_unicode_maps_are_read() {
        let map: std::collections::HashMap<u8, char> =
            [(b'a', 'γ'), (b'b', '→'), (b'c', '𝔄'), (b'd', '\u{fb01}')].into_iter().collect();
        let cmap = String::from_utf8(to_unicode_cmap(&map)).unwrap();
        assert!(cmap.contains("4 beginbfchar\n<61> <03B3>\n<62> <2192>\n<63> <D835DD04>\n"));
        // pdf_oxide reads a simple font's codes through it.
        use lopdf::dictionary;
        let mut doc = lopdf::Document::with_version("1.5");
        let cmap = doc.add_object(lopdf::Stream::new(lopdf::Dictionary::new(), cmap.into()));
        let font = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "ToUnicode" => cmap,
        });
        let content = b"BT /F1 12 Tf 72 700 Td (abcd) Tj ET".to_vec();
        let contents = doc.add_object(lopdf::Stream::new(lopdf::Dictionary::new(), content));
        let pages = doc.new_object_id();
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages, "Contents" => contents,
            "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
        });
        doc.objects.insert(
            pages,
            lopdf::Object::Dictionary(
                dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1 },
            ),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
        doc.trailer.set("Root", catalog);
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap();
        // The ligature comes out as its letters.
        assert_eq!(extract(&bytes, &[]).unwrap().text, "γ→𝔄fi");
        // A font without a CFF program is left alone: no copy.
        assert!(cff_to_unicode(&lopdf::Document::load_mem(&bytes).unwrap()).is_none());
    }

    #[test]
    fn not_a_pdf_is_corrupt() {
        assert!(matches!(extract(b"%PDF-1.4\nnothing else", &[]), Err(PdfError::Corrupt(_))));
    }
}
