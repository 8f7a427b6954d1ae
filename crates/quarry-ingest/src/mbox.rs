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
    /// The message bytes, separator removed and body lines unescaped; empty when the message
    /// is over the reader's limit ([`Reader::with_max_message`]).
    pub bytes: Vec<u8>,
    /// The message's size in bytes, counted also when it was over the limit.
    pub size: u64,
    /// Whether it was over the limit: its bytes were counted, not kept.
    pub oversize: bool,
}

/// Reads messages one at a time.
pub struct Reader<R> {
    inner: R,
    line: Vec<u8>,
    /// A separator read ahead: the start of the next message.
    pending: Option<String>,
    number: u64,
    started: bool,
    max_message: u64,
}

/// Of a line past a message's limit, this much is still kept: enough to see a separator
/// (which starts the next message), the rest is counted.
const SEPARATOR_ROOM: u64 = 4096;

impl<R: BufRead> Reader<R> {
    /// A reader over a mailbox.
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            line: Vec::new(),
            pending: None,
            number: 0,
            started: false,
            max_message: u64::MAX,
        }
    }

    /// Keeps no message over `max` bytes in memory: such a message is returned with its size,
    /// flagged [`Message::oversize`], and without its bytes. A mailbox is read whatever its
    /// size; this bounds the memory one message takes.
    #[must_use]
    pub fn with_max_message(mut self, max: u64) -> Self {
        self.max_message = max;
        self
    }

    /// Reads the next line into `self.line`, through its line feed, keeping at most `keep`
    /// bytes of it. Returns its whole length and whether all of it was kept.
    fn read_line(&mut self, keep: u64) -> io::Result<(u64, bool)> {
        let keep = usize::try_from(keep).unwrap_or(usize::MAX);
        self.line.clear();
        let mut total = 0u64;
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                break;
            }
            let (take, done) = match memchr::memchr(b'\n', buf) {
                Some(at) => (at + 1, true),
                None => (buf.len(), false),
            };
            let room = keep.saturating_sub(self.line.len());
            self.line.extend_from_slice(&buf[..take.min(room)]);
            total += take as u64;
            self.inner.consume(take);
            if done {
                break;
            }
        }
        Ok((total, total == self.line.len() as u64))
    }

    /// The next message, `None` at the end. Bytes before the first separator (not an mbox
    /// layout, or a damaged start) are returned as message 1 with an empty separator, so
    /// nothing is dropped.
    pub fn next_message(&mut self) -> io::Result<Option<Message>> {
        let mut bytes = Vec::new();
        let mut size = 0u64;
        let mut oversize = false;
        let mut separator = self.pending.take();
        loop {
            // Enough of the line for the message to pass its limit by a byte, and to see a
            // separator.
            let keep = self.max_message.saturating_sub(size).saturating_add(1);
            let (n, whole) = self.read_line(keep.max(SEPARATOR_ROOM))?;
            if n == 0 {
                break;
            }
            let mut line = &self.line[..];
            if !self.started {
                line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            }
            if whole && is_separator(line) {
                let text = String::from_utf8_lossy(trim_eol(line)).into_owned();
                if !self.started || (separator.is_none() && size == 0) {
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
            let kept = unescaped.unwrap_or(line);
            // A cut line counts whole.
            size += kept.len() as u64 + (n - self.line.len() as u64);
            if !whole || size > self.max_message {
                oversize = true;
                bytes = Vec::new();
            } else if !oversize {
                bytes.extend_from_slice(kept);
            }
        }
        if separator.is_none() && size == 0 {
            return Ok(None);
        }
        // The blank line before the next separator belongs to the mailbox, not the message.
        if self.pending.is_some() && !oversize {
            if bytes.ends_with(b"\r\n\r\n") {
                bytes.truncate(bytes.len() - 2);
            } else if bytes.ends_with(b"\n\n") {
                bytes.truncate(bytes.len() - 1);
            }
        }
        if !oversize {
            size = bytes.len() as u64;
        }
        self.number += 1;
        let separator = separator.unwrap_or_default();
        Ok(Some(Message { number: self.number, separator, bytes, size, oversize }))
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
    fn a_message_over_the_limit_is_counted_not_kept() {
        let long_line = "x".repeat(5000);
        let mbox = format!(
            "From a@b Mon Apr 18 14:23:22 2022\nSubject: small\n\nok\n\n\
             From b@c Tue Apr 19 14:23:22 2022\nSubject: big\n\n{long_line}\n\n\
             From c@d Wed Apr 20 14:23:22 2022\nSubject: lines\n\n{}\n\
             From d@e Thu Apr 21 14:23:22 2022\nSubject: after\n\nstill read\n",
            "a line\n".repeat(700)
        );
        // A small read buffer: lines cross its refills.
        let inner = io::BufReader::with_capacity(64, mbox.as_bytes());
        let mut reader = Reader::new(inner).with_max_message(4000);
        let mut got = Vec::new();
        while let Some(m) = reader.next_message().unwrap() {
            got.push((m.number, m.size, m.oversize, String::from_utf8(m.bytes).unwrap()));
        }
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], (1, 19, false, "Subject: small\n\nok\n".to_owned()));
        // One line over the limit, and many lines over it: sizes counted, nothing kept.
        assert_eq!(got[1], (2, 14 + 5001 + 1, true, String::new()));
        assert_eq!(got[2], (3, 16 + 700 * 7 + 1, true, String::new()));
        assert_eq!(got[3], (4, 27, false, "Subject: after\n\nstill read\n".to_owned()));
        // Without a limit the same mailbox keeps every message.
        let mut reader = Reader::new(mbox.as_bytes());
        let mut sizes = Vec::new();
        while let Some(m) = reader.next_message().unwrap() {
            assert_eq!(m.size, m.bytes.len() as u64);
            sizes.push(m.size);
        }
        assert_eq!(sizes, [19, 14 + 5001, 16 + 700 * 7, 27]);
    }

    /// The splitting rule as it was before lines and messages were bounded (a `read_until`
    /// loop), over a whole mailbox in memory: the reference the bounded reader must match.
    fn reference(mbox: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let (mut started, mut pending, mut rest) = (false, None::<String>, mbox);
        loop {
            let mut bytes = Vec::new();
            let mut separator = pending.take();
            while !rest.is_empty() {
                let end = rest.iter().position(|&b| b == b'\n').map_or(rest.len(), |i| i + 1);
                let (mut line, after) = rest.split_at(end);
                rest = after;
                if !started {
                    line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
                }
                if is_separator(line) {
                    let text = String::from_utf8_lossy(trim_eol(line)).into_owned();
                    if !started || (separator.is_none() && bytes.is_empty()) {
                        started = true;
                        separator = Some(text);
                        continue;
                    }
                    pending = Some(text);
                    break;
                }
                started = true;
                let unescaped = line.strip_prefix(b">").filter(|r| {
                    r[r.iter().take_while(|&&b| b == b'>').count()..].starts_with(b"From ")
                });
                bytes.extend_from_slice(unescaped.unwrap_or(line));
            }
            if separator.is_none() && bytes.is_empty() {
                return out;
            }
            if pending.is_some() {
                if bytes.ends_with(b"\r\n\r\n") {
                    bytes.truncate(bytes.len() - 2);
                } else if bytes.ends_with(b"\n\n") {
                    bytes.truncate(bytes.len() - 1);
                }
            }
            out.push((separator.unwrap_or_default(), bytes));
        }
    }

    #[test]
    fn bounded_reading_splits_as_the_reference_does() {
        let pieces: [&[u8]; 12] = [
            b"From a@b Mon Apr 18 14:23:22 2022\n",
            b"From - Tue Apr 19 10:00:00 2022\r\n",
            b"Subject: x\n",
            b"\n",
            b"\r\n",
            b">From escaped\n",
            b">>From twice\n",
            b"From the body, not a separator\n",
            b"\xEF\xBB\xBF",
            b"no line end",
            b"caf\xC3\xA9 \xFF bytes\n",
            b"a longer line of body text that goes on for a while, past the read buffer\n",
        ];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let (mut messages, mut over) = (0, 0);
        for round in 0..2000 {
            let mut mbox = Vec::new();
            let mut next = || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            for _ in 0..1 + next() % 40 {
                let seed = next();
                let piece = pieces[(seed % pieces.len() as u64) as usize];
                mbox.extend_from_slice(piece);
                if seed % 97 == 0 {
                    mbox.extend(std::iter::repeat_n(b'y', 300 + (seed % 300) as usize));
                }
            }
            let want = reference(&mbox);
            let capacity = 8 + round % 50;
            let mut reader = Reader::new(io::BufReader::with_capacity(capacity, &mbox[..]));
            let mut got = Vec::new();
            while let Some(m) = reader.next_message().unwrap() {
                assert!(!m.oversize);
                assert_eq!(m.size, m.bytes.len() as u64);
                got.push((m.separator, m.bytes));
            }
            assert_eq!(got, want, "mailbox {:?}", String::from_utf8_lossy(&mbox));
            // With a limit: the same split; a message is kept exactly when it fits.
            let limit = 40 + (round as u64 % 200);
            let mut reader = Reader::new(io::BufReader::with_capacity(capacity, &mbox[..]))
                .with_max_message(limit);
            let mut count = 0;
            while let Some(m) = reader.next_message().unwrap() {
                let (separator, bytes) = &want[count];
                assert_eq!(&m.separator, separator);
                messages += 1;
                if m.oversize {
                    over += 1;
                    // Counted before the blank line before the next separator is dropped.
                    assert!(bytes.len() as u64 + 2 > limit, "{m:?} {limit}");
                    assert!(m.bytes.is_empty());
                } else {
                    assert_eq!(&m.bytes, bytes);
                }
                count += 1;
            }
            assert_eq!(count, want.len());
        }
        assert!(messages > 5000 && over > 500, "{messages} messages, {over} over the limit");
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
