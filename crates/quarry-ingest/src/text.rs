//! Text from text-like natives: charset decoding and HTML tag stripping.
//!
//! Decoding order: a byte-order mark wins; then strict UTF-8; otherwise Windows-1252, the
//! superset of Latin-1 that real legacy office text uses. The choice is deterministic, so the
//! same bytes always give the same text wherever they were found.

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// Decodes text bytes to a string (see the module docs for the charset rule).
#[must_use]
pub fn decode(bytes: &[u8]) -> String {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        return encoding.decode_without_bom_handling(&bytes[bom_len..]).0.into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(e) if e.error_len().is_none() && e.valid_up_to() + 4 > bytes.len() => {
            // A multi-byte character cut off at the end (a truncated file): keep the rest.
            UTF_8.decode_without_bom_handling(bytes).0.into_owned()
        }
        Err(_) => WINDOWS_1252.decode_without_bom_handling(bytes).0.into_owned(),
    }
}

/// Visible text of an HTML page: tags, comments, scripts and styles removed, character
/// references decoded, block elements turned into line breaks and table cells into tabs.
///
/// White space is read as a browser reads it: outside `<pre>`, a run of spaces, tabs and line
/// breaks in the source is one space, and none at the start or end of a line. Mailers wrap
/// HTML source at 76 columns and indent it freely, so the source's own line breaks fall in the
/// middle of sentences; kept as written, they broke the text mid-sentence and left screens of
/// blank lines between paragraphs. At most one blank line separates blocks. Only white space
/// changes, so an email's identity, which ignores white space, is the same either way.
#[must_use]
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut pre = 0usize;
    // A run of white space seen and not yet written: it becomes one space before the next
    // character, unless a line or cell starts first.
    let mut space = false;
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        let ch = if rest.starts_with("<!--") {
            i += lower[i..].find("-->").map_or(rest.len(), |end| end + 3);
            continue;
        } else if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |end| end + 1);
            let closing = lower[i + 1..].starts_with('/');
            let tag = lower[i + 1..i + end].trim_start_matches('/');
            let name: String = tag.chars().take_while(char::is_ascii_alphanumeric).collect();
            i += end;
            if matches!(name.as_str(), "script" | "style") && !closing {
                let close = format!("</{name}");
                i += lower[i..].find(&close).map_or(html.len() - i, |pos| pos);
            } else if is_block(&name) {
                if name == "pre" {
                    pre = if closing { pre.saturating_sub(1) } else { pre + 1 };
                }
                space = false;
                line_break(&mut out);
            } else if matches!(name.as_str(), "td" | "th") {
                // Cells side by side: without a separator their words would run together.
                space = false;
                trim_line_end(&mut out);
                if !(out.is_empty() || out.ends_with(['\n', '\t'])) {
                    out.push('\t');
                }
            }
            continue;
        } else if rest.starts_with('&') {
            let (ch, len) = entity(rest);
            i += len;
            ch
        } else {
            let ch = rest.chars().next().expect("rest is not empty");
            i += ch.len_utf8();
            ch
        };
        // A no-break space, written out or as a reference, collapses like any other here:
        // text, not layout, is the aim.
        let ch = if ch == '\u{a0}' { ' ' } else { ch };
        if pre > 0 {
            if ch != '\r' {
                out.push(ch);
            }
        } else if ch.is_ascii_whitespace() {
            space = true;
        } else {
            if space && !(out.is_empty() || out.ends_with(['\n', '\t'])) {
                out.push(' ');
            }
            space = false;
            out.push(ch);
        }
    }
    trim_line_end(&mut out);
    let end = out.trim_end_matches('\n').len();
    out.truncate(end);
    out
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "br" | "p"
            | "div"
            | "tr"
            | "li"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "table"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "hr"
            | "pre"
            | "blockquote"
            | "title"
    )
}

/// Ends the line, unless the text is empty or already ends with a blank line.
fn line_break(out: &mut String) {
    trim_line_end(out);
    if !(out.is_empty() || out.ends_with("\n\n")) {
        out.push('\n');
    }
}

fn trim_line_end(out: &mut String) {
    let end = out.trim_end_matches([' ', '\t']).len();
    out.truncate(end);
}

/// Reads the character reference at the start of `rest` (which starts with `&`): the character
/// and the bytes it took: a decimal or hexadecimal one (`&#8217;`, `&#x201C;`; 128 to 159 are
/// read as Windows-1252, as browsers do, so `&#146;` is `’`), or one of HTML 4's named ones
/// (`&ouml;`, `&rsquo;`). Anything else is a literal `&`.
fn entity(rest: &str) -> (char, usize) {
    let body = &rest[1..];
    let end = body.bytes().take(33).position(|b| b == b';');
    let Some(end) = end.filter(|&end| end > 0) else {
        return ('&', 1);
    };
    let name = &body[..end];
    let decoded = if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse::<u32>().ok(),
        };
        code.map(|code| match code {
            0x80..=0x9F => {
                let byte = [u8::try_from(code).unwrap_or(b'?')];
                WINDOWS_1252
                    .decode_without_bom_handling(&byte)
                    .0
                    .chars()
                    .next()
                    .unwrap_or('\u{fffd}')
            }
            0 => '\u{fffd}',
            _ => char::from_u32(code).unwrap_or('\u{fffd}'),
        })
    } else {
        crate::entities::NAMED
            .binary_search_by(|(known, _)| known.cmp(&name))
            .ok()
            .map(|at| crate::entities::NAMED[at].1)
    };
    match decoded {
        Some(c) => (c, end + 2),
        None => ('&', 1),
    }
}

/// UTF-16LE bytes (MAPI's PT_UNICODE) as text; an odd last byte and bad pairs are replaced.
#[must_use]
pub fn utf16le(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_by_bom_then_utf8_then_1252() {
        assert_eq!(decode(b"\xEF\xBB\xBFcaf\xC3\xA9"), "café");
        assert_eq!(decode(b"\xFF\xFEc\x00a\x00f\x00\xE9\x00"), "café");
        assert_eq!(decode(b"caf\xC3\xA9"), "café");
        assert_eq!(decode(b"caf\xE9 \x93quoted\x94"), "café \u{201c}quoted\u{201d}");
        assert_eq!(decode(b"caf\xC3"), "caf\u{fffd}");
    }

    #[test]
    fn decodes_character_references() {
        assert_eq!(html_to_text("Fr&ouml;sche &amp; H&auml;schen"), "Frösche & Häschen");
        assert_eq!(html_to_text("don&#8217;t &#x201C;q&#X201d; &rsquo;s"), "don’t “q” ’s");
        // 128 to 159 as Windows-1252, as browsers read them.
        assert_eq!(html_to_text("it&#146;s &#150; &#128;5"), "it’s – €5");
        assert_eq!(html_to_text("a&nbsp;b&#160;c"), "a b c");
        // Unknown or unterminated references stay as written.
        assert_eq!(
            html_to_text("&bogus; &amp &#xZZ; AT&T &#0;"),
            "&bogus; &amp &#xZZ; AT&T \u{fffd}"
        );
        assert_eq!(html_to_text("&"), "&");
    }

    #[test]
    fn strips_html() {
        let html = "<html><head><style>p{x:1}</style><script>var a='<p>';</script></head>\
                    <body><p>Fish &amp; chips</p><!-- note --><br>done</body></html>";
        assert_eq!(html_to_text(html), "Fish & chips\n\ndone");
        // Table cells are kept apart; inline tags inside a word are not.
        let table = "<table><tr><td>Name</td><td>Value</td></tr></table><b>bo</b>ld<h4>Next</h4>";
        assert_eq!(html_to_text(table), "Name\tValue\n\nbold\nNext");
    }

    #[test]
    fn reads_white_space_as_a_browser_does() {
        // Source wrapped and indented by the mailer, as quoted-printable HTML decodes.
        let html = "<html>\r\n <body>\r\n  <p class=3DMsoNormal>We were unable to deliver your\r\n  \
                    message to <b>the\r\n following</b>   address.</p>\r\n\r\n  \r\n \
                    <p>&nbsp;</p>\r\n<p> \t </p>\r\n<div>Regards,<br>\r\n  Postmaster </div>\r\n";
        assert_eq!(
            html_to_text(html),
            "We were unable to deliver your message to the following address.\n\nRegards,\nPostmaster"
        );
        // Inside <pre> the source's spacing is the text.
        let pre = "<p>Log:</p><pre>  a  b\r\n    c</pre>  after";
        assert_eq!(html_to_text(pre), "Log:\n\n  a  b\n    c\nafter");
        // A cell's white space does not start the cell; cells of a row stay on one line.
        let row = "<tr>\n <td>\u{a0}Name </td>\n <td>\n  Value&nbsp;\n </td>\n</tr>";
        assert_eq!(html_to_text(row), "Name\tValue");
    }
}
