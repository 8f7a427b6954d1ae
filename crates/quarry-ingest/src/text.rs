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

/// Visible text of an HTML page: tags, comments, scripts and styles removed, common entities
/// decoded, block elements turned into line breaks.
#[must_use]
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        if rest.starts_with("<!--") {
            i += lower[i..].find("-->").map_or(rest.len(), |end| end + 3);
        } else if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |end| end + 1);
            let tag = lower[i + 1..i + end].trim_start_matches('/');
            let name: String = tag.chars().take_while(char::is_ascii_alphanumeric).collect();
            i += end;
            if matches!(name.as_str(), "script" | "style") && !lower[i - end..i].starts_with("</") {
                let close = format!("</{name}");
                i += lower[i..].find(&close).map_or(html.len() - i, |pos| pos);
            } else if matches!(
                name.as_str(),
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
            ) {
                out.push('\n');
            } else if matches!(name.as_str(), "td" | "th") {
                // Cells side by side: without a separator their words would run together.
                out.push('\t');
            }
        } else if rest.starts_with('&') {
            i += entity(rest, &mut out);
        } else {
            let ch = rest.chars().next().expect("rest is not empty");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Decodes the character reference at the start of `rest` (which starts with `&`) into `out`
/// and returns the bytes it took: a decimal or hexadecimal one (`&#8217;`, `&#x201C;`; 128 to
/// 159 are read as Windows-1252, as browsers do, so `&#146;` is `’`), or one of HTML 4's named
/// ones (`&ouml;`, `&rsquo;`). A no-break space is written as a space. Anything else is a
/// literal `&`.
fn entity(rest: &str, out: &mut String) -> usize {
    let body = &rest[1..];
    let end = body.bytes().take(33).position(|b| b == b';');
    let Some(end) = end.filter(|&end| end > 0) else {
        out.push('&');
        return 1;
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
        Some('\u{a0}') => out.push(' '),
        Some(c) => out.push(c),
        None => {
            out.push('&');
            return 1;
        }
    }
    end + 2
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
        assert_eq!(html_to_text(html), "\nFish & chips\n\ndone");
        // Table cells are kept apart; inline tags inside a word are not.
        let table = "<table><tr><td>Name</td><td>Value</td></tr></table><b>bo</b>ld<h4>Next</h4>";
        assert_eq!(html_to_text(table), "\n\n\tName\t\tValue\t\n\nbold\nNext\n");
    }
}
