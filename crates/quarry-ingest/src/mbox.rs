//! Splitting Unix mailboxes into messages, streaming (a mailbox may be far larger than memory).
//!
//! A message starts at a `From ` line whose rest looks like a sender and a date
//! (`From MAILER-DAEMON Mon Apr 18 14:23:22 2022`), Netscape's `From - ` or a lone address: a
//! body line that merely starts with "From " and was not escaped does not split a message. No
//! blank line is required before it: mailboxes that relied on Content-Length headers (Netscape,
//! Solaris) omit it. Escaped
//! body lines are unescaped by the mboxrd rule (`>From ` -> `From `, `>>From ` -> `>From `),
//! which also undoes mboxo's escaping.

use std::io::{self, BufRead};

/// One message of a mailbox.
#[derive(Debug)]
pub struct Message {
    /// 1-based ordinal in the mailbox.
    pub number: u64,
    /// The separator line, without its line end (`From sender date`).
    pub separator: String,
    /// The message bytes, separator removed and body lines unescaped.
    pub bytes: Vec<u8>,
}

/// Reads messages one at a time.
pub struct Reader<R> {
    inner: R,
    line: Vec<u8>,
    /// A separator read ahead: the start of the next message.
    pending: Option<String>,
    number: u64,
    started: bool,
}

impl<R: BufRead> Reader<R> {
    /// A reader over a mailbox.
    pub fn new(inner: R) -> Self {
        Reader { inner, line: Vec::new(), pending: None, number: 0, started: false }
    }

    /// The next message, `None` at the end. Bytes before the first separator (not an mbox
    /// layout, or a damaged start) are returned as message 1 with an empty separator, so
    /// nothing is dropped.
    pub fn next_message(&mut self) -> io::Result<Option<Message>> {
        let mut bytes = Vec::new();
        let mut separator = self.pending.take();
        loop {
            self.line.clear();
            let n = self.inner.read_until(b'\n', &mut self.line)?;
            if n == 0 {
                break;
            }
            let mut line = &self.line[..];
            if !self.started {
                line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            }
            if is_separator(line) {
                let text = String::from_utf8_lossy(trim_eol(line)).into_owned();
                if !self.started || (separator.is_none() && bytes.is_empty()) {
                    self.started = true;
                    separator = Some(text);
                    continue;
                }
                self.pending = Some(text);
                break;
            }
            self.started = true;
            let unescaped = line.strip_prefix(b">").filter(|rest| {
                rest[rest.iter().take_while(|&&b| b == b'>').count()..].starts_with(b"From ")
            });
            bytes.extend_from_slice(unescaped.unwrap_or(line));
        }
        if separator.is_none() && bytes.is_empty() {
            return Ok(None);
        }
        // The blank line before the next separator belongs to the mailbox, not the message.
        if self.pending.is_some() {
            if bytes.ends_with(b"\r\n\r\n") {
                bytes.truncate(bytes.len() - 2);
            } else if bytes.ends_with(b"\n\n") {
                bytes.truncate(bytes.len() - 1);
            }
        }
        self.number += 1;
        Ok(Some(Message { number: self.number, separator: separator.unwrap_or_default(), bytes }))
    }
}

/// Reads a stream with CR line ends (classic Mac OS) as one with LF line ends.
pub struct CrToLf<R>(pub R);

impl<R: io::Read> io::Read for CrToLf<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        for b in &mut buf[..n] {
            if *b == b'\r' {
                *b = b'\n';
            }
        }
        Ok(n)
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `From <sender> <date>` where the date holds a time (`hh:mm`) and a year, Netscape's
/// `From - `, or a lone address.
fn is_separator(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let rest = trim_eol(rest);
    let has_time =
        rest.windows(3).any(|w| w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit());
    let has_year = rest.split(|b| b.is_ascii_whitespace()).any(|t| {
        t.len() == 4 && t.iter().all(u8::is_ascii_digit) && (t[0] == b'1' || t[0] == b'2')
    });
    // Netscape wrote `From - ` with the date left out (or `From - <date>`).
    let netscape = rest.first() == Some(&b'-') && rest.get(1).is_none_or(u8::is_ascii_whitespace);
    // Gmail's export writes `From <id>@xxx` with no date: a lone address.
    let lone_address = !rest.contains(&b' ') && rest.contains(&b'@');
    netscape
        || lone_address
        || (!rest.is_empty() && !rest[0].is_ascii_whitespace() && has_time && has_year)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(mbox: &str) -> Vec<(String, String)> {
        let mut reader = Reader::new(mbox.as_bytes());
        let mut out = Vec::new();
        while let Some(m) = reader.next_message().unwrap() {
            out.push((m.separator, String::from_utf8(m.bytes).unwrap()));
        }
        out
    }

    #[test]
    fn splits_and_unescapes() {
        let mbox = "From a@b Mon Apr 18 14:23:22 2022\nSubject: one\n\nbody\n>From here\n>>From there\n\nFrom b@c Tue Apr 19 14:23:22 2022\nSubject: two\n\nFrom the start, unescaped but not a separator\n";
        let got = split(mbox);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "From a@b Mon Apr 18 14:23:22 2022");
        assert_eq!(got[0].1, "Subject: one\n\nbody\nFrom here\n>From there\n");
        assert_eq!(got[1].1, "Subject: two\n\nFrom the start, unescaped but not a separator\n");
    }

    #[test]
    fn classic_mac_line_ends() {
        let mbox = "From a@b Mon Apr 18 14:23:22 2022\rSubject: one\r\rbody\r\rFrom b@c Tue Apr 19 14:23:22 2022\rSubject: two\r\rmore\r";
        let mut reader = Reader::new(io::BufReader::new(CrToLf(mbox.as_bytes())));
        let mut subjects = Vec::new();
        while let Some(m) = reader.next_message().unwrap() {
            subjects.push(String::from_utf8(m.bytes).unwrap());
        }
        assert_eq!(subjects, ["Subject: one\n\nbody\n", "Subject: two\n\nmore\n"]);
    }

    #[test]
    fn degenerate_inputs() {
        assert!(split("").is_empty());
        let got = split("no separator at all\n");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "");
        let got = split(
            "From x Mon Apr 18 14:23:22 2022\r\nSubject: a\r\n\r\nb\r\n\r\nFrom y Mon Apr 18 14:23:22 2022\r\n\r\n",
        );
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, "Subject: a\r\n\r\nb\r\n");
        let got = split("\u{feff}From -\nSubject: a\n\nb\n\nFrom - \nSubject: c\n\nd\n");
        assert_eq!(got.len(), 2, "{got:?}");
    }
}
