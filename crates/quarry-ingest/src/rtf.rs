//! RTF bodies of Outlook messages: compressed RTF ([MS-OXRTFCP], PR_RTF_COMPRESSED) and a plain
//! text reading of RTF, for messages whose only body is RTF (TNEF from Outlook's rich-text mode).

/// The dictionary's initial contents ([MS-OXRTFCP] 2.1.3.1.1).
const PREBUF: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// Decompresses PR_RTF_COMPRESSED: `None` when the header is not LZFu or MELA.
#[must_use]
pub fn decompress(data: &[u8]) -> Option<Vec<u8>> {
    let u32_at =
        |at: usize| data.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let raw_size = u32_at(4)? as usize;
    let kind = u32_at(8)?;
    let body = data.get(16..)?;
    match kind {
        0x414C_454D => return Some(body[..raw_size.min(body.len())].to_vec()), // "MELA": stored
        0x7546_5A4C => {}                                                      // "LZFu"
        _ => return None,
    }
    let mut dict = [0u8; 4096];
    dict[..PREBUF.len()].copy_from_slice(PREBUF);
    let mut write = PREBUF.len();
    let mut out = Vec::with_capacity(raw_size.min(64 << 20));
    let mut at = 0;
    'stream: while at < body.len() {
        let control = body[at];
        at += 1;
        for bit in 0..8 {
            if control & (1 << bit) == 0 {
                let Some(&b) = body.get(at) else { break 'stream };
                at += 1;
                out.push(b);
                dict[write] = b;
                write = (write + 1) % 4096;
            } else {
                let Some(token) = body.get(at..at + 2) else { break 'stream };
                at += 2;
                let token = u16::from_be_bytes([token[0], token[1]]) as usize;
                let offset = token >> 4;
                if offset == write {
                    break 'stream;
                }
                for i in 0..(token & 0xF) + 2 {
                    let b = dict[(offset + i) % 4096];
                    out.push(b);
                    dict[write] = b;
                    write = (write + 1) % 4096;
                }
            }
            if out.len() >= raw_size {
                break 'stream;
            }
        }
    }
    out.truncate(raw_size);
    Some(out)
}

/// The text of an RTF document: paragraphs and tabs kept, formatting, font and colour tables,
/// pictures and other destinations dropped, `\'hh` bytes decoded in the document's code page.
#[must_use]
pub fn to_text(rtf: &[u8]) -> String {
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new(); // \'hh bytes awaiting decoding
    let mut encoding = encoding_rs::WINDOWS_1252;
    // Per group: skipped (a destination whose text is not document text), \uc skip count.
    let mut stack: Vec<(bool, usize)> = vec![(false, 1)];
    let mut skip_chars = 0usize; // characters still to skip after a \uN
    let mut i = 0;
    let flush =
        |pending: &mut Vec<u8>, out: &mut String, encoding: &'static encoding_rs::Encoding| {
            if !pending.is_empty() {
                out.push_str(&encoding.decode_without_bom_handling(pending).0);
                pending.clear();
            }
        };
    while i < rtf.len() {
        let (skipping, uc) = *stack.last().unwrap_or(&(false, 1));
        match rtf[i] {
            b'{' => {
                flush(&mut pending, &mut out, encoding);
                let destination = rtf.get(i + 1..i + 3) == Some(b"\\*");
                stack.push((skipping || destination, uc));
                i += 1;
            }
            b'}' => {
                flush(&mut pending, &mut out, encoding);
                if stack.len() > 1 {
                    stack.pop();
                }
                i += 1;
            }
            b'\\' => {
                let Some(&next) = rtf.get(i + 1) else { break };
                if next == b'\'' {
                    let byte = rtf
                        .get(i + 2..i + 4)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    i += 4;
                    if skip_chars > 0 {
                        skip_chars -= 1;
                    } else if let (Some(b), false) = (byte, skipping) {
                        pending.push(b);
                    }
                    continue;
                }
                if !next.is_ascii_alphabetic() {
                    // Control symbol: \{ \} \\ and a few others.
                    flush(&mut pending, &mut out, encoding);
                    if !skipping && matches!(next, b'{' | b'}' | b'\\') {
                        out.push(next as char);
                    } else if !skipping && next == b'~' {
                        out.push('\u{a0}');
                    }
                    i += 2;
                    continue;
                }
                let start = i + 1;
                let mut end = start;
                while end < rtf.len() && rtf[end].is_ascii_alphabetic() {
                    end += 1;
                }
                let word = &rtf[start..end];
                let mut num_end = end;
                if num_end < rtf.len() && rtf[num_end] == b'-' {
                    num_end += 1;
                }
                while num_end < rtf.len() && rtf[num_end].is_ascii_digit() {
                    num_end += 1;
                }
                let param: Option<i64> =
                    std::str::from_utf8(&rtf[end..num_end]).ok().and_then(|p| p.parse().ok());
                i = num_end;
                if rtf.get(i) == Some(&b' ') {
                    i += 1;
                }
                flush(&mut pending, &mut out, encoding);
                match word {
                    b"fonttbl" | b"colortbl" | b"stylesheet" | b"info" | b"pict" | b"header"
                    | b"footer" | b"object" | b"themedata" | b"listtable" | b"rsidtbl" => {
                        if let Some(top) = stack.last_mut() {
                            top.0 = true;
                        }
                    }
                    b"ansicpg" => {
                        if let Some(e) = param.and_then(|cp| {
                            encoding_rs::Encoding::for_label(format!("windows-{cp}").as_bytes())
                        }) {
                            encoding = e;
                        }
                    }
                    // `\binN`: N bytes of binary data follow (a picture, an object), which
                    // may hold anything, braces included: they are stepped over unread.
                    b"bin" => {
                        let n = usize::try_from(param.unwrap_or(0)).unwrap_or(0);
                        i = i.saturating_add(n).min(rtf.len());
                    }
                    b"uc" => {
                        if let Some(top) = stack.last_mut() {
                            top.1 = param.unwrap_or(1).max(0) as usize;
                        }
                    }
                    b"u" if !skipping => {
                        let code = param.unwrap_or(0);
                        let code = if code < 0 { code + 65_536 } else { code };
                        if let Some(c) = char::from_u32(code as u32) {
                            out.push(c);
                        }
                        skip_chars = uc;
                    }
                    b"par" | b"line" | b"sect" | b"row" if !skipping => out.push('\n'),
                    b"tab" | b"cell" if !skipping => out.push('\t'),
                    _ => {}
                }
            }
            b'\r' | b'\n' => i += 1,
            b => {
                if skip_chars > 0 {
                    skip_chars -= 1;
                } else if !skipping {
                    pending.push(b);
                }
                i += 1;
            }
        }
    }
    flush(&mut pending, &mut out, encoding);
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_is_the_specified_207_bytes() {
        assert_eq!(PREBUF.len(), 207);
    }

    #[test]
    fn spec_example_decompresses() {
        // [MS-OXRTFCP] 3.1.1: "{\rtf1\ansi\ansicpg1252\pard hello world}\r\n".
        let compressed: &[u8] = &[
            0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5,
            0xc7, 0xa7, 0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42,
            0x32, 0x0a, 0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0,
            0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f, 0xa0,
        ];
        let rtf = decompress(compressed).unwrap();
        assert_eq!(rtf, b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n");
        assert_eq!(to_text(&rtf), "hello world");
    }

    #[test]
    fn text_of_rtf() {
        let rtf = b"{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}}{\\*\\generator x;}Caf\\'e9 \\b bold\\b0\\par second\\tab line \\u8364?\\par}";
        assert_eq!(to_text(rtf), "Café bold\nsecond\tline €");
    }

    #[test]
    fn binary_data_is_stepped_over() {
        // Five bytes of picture data holding braces and letters: without the count they would
        // close the picture's groups early and read as a word.
        let rtf = br"{\rtf1\ansi before {\*\shppict{\pict\pngblip\bin5 }}xyz}} after\par}";
        assert_eq!(to_text(rtf), "before  after");
        // A count past the end stops at the end.
        assert_eq!(to_text(br"{\rtf1 text\bin999 ab"), "text");
    }
}
