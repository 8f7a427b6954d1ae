//! Messages quoted inside an email's text: the earlier messages of its thread.
//!
//! A privilege log may have to list every message of an email chain as its own row (FORMATS.md
//! §2, "Email threads"). The earlier messages live in the text of the latest one, behind one of
//! the separators mail programs write:
//! - Outlook: `-----Original Message-----`, then `From:`, `Sent:`, `To:`, `Cc:`, `Subject:`;
//! - Lotus Notes (most of the Enron mail): `----- Forwarded by NAME on DATE -----`, then
//!   `NAME on DATE` or `From:`/`Sent:` lines, then `To:`, `cc:`, `Subject:`; and the reply form
//!   `NAME on DATE` followed directly by `To:` and `Subject:` lines;
//! - many clients: `On DATE, NAME wrote:`.
//!
//! The fields are kept as written (no date parsing): a log shows what the message showed.

/// One message quoted in another's text.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Segment {
    /// Sender as written.
    pub from: String,
    /// Date as written.
    pub sent: String,
    /// Recipients as written.
    pub to: String,
    /// Copies as written.
    pub cc: String,
    /// Blind copies as written.
    pub bcc: String,
    /// Subject as written.
    pub subject: String,
}

/// The messages quoted in `text`, in the order they appear (latest first, as mail quotes).
#[must_use]
pub fn embedded_messages(text: &str) -> Vec<Segment> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if let Some(segment) = wrote_line(line) {
            out.push(segment);
            i += 1;
            continue;
        }
        let separator = is_separator(line);
        // A Notes reply block: "NAME on DATE" directly followed by a "To:" line.
        let notes_reply = !separator
            && notes_from_line(line).is_some()
            && next_nonblank(&lines, i + 1)
                .is_some_and(|j| header_key(lines[j]).is_some_and(|(k, _)| k == "to"));
        if !separator && !notes_reply {
            i += 1;
            continue;
        }
        let mut segment = Segment::default();
        let mut j = if notes_reply { i } else { i + 1 };
        // Skip the blank lines between a separator and its header block.
        while j < lines.len() && lines[j].trim().is_empty() && j < i + 4 {
            j += 1;
        }
        if let Some(first) = lines.get(j)
            && let Some((from, sent)) = notes_from_line(first.trim())
        {
            segment.from = from;
            segment.sent = sent;
            j += 1;
        }
        let mut last: Option<&'static str> = None;
        let mut fields = 0;
        while j < lines.len() {
            let raw = lines[j];
            if raw.trim().is_empty() {
                break;
            }
            if let Some((key, value)) = header_key(raw) {
                let slot: Option<(&'static str, &mut String)> = match key.as_str() {
                    "from" => Some(("from", &mut segment.from)),
                    "sent" | "date" => Some(("sent", &mut segment.sent)),
                    "to" => Some(("to", &mut segment.to)),
                    "cc" => Some(("cc", &mut segment.cc)),
                    "bcc" => Some(("bcc", &mut segment.bcc)),
                    "subject" => Some(("subject", &mut segment.subject)),
                    _ => None,
                };
                match slot {
                    Some((name, field)) => {
                        *field = value;
                        last = Some(name);
                        fields += 1;
                    }
                    None => last = None,
                }
            } else if raw.starts_with([' ', '\t']) && last.is_some() {
                // A folded header line continues the previous field.
                let field = match last {
                    Some("to") => &mut segment.to,
                    Some("cc") => &mut segment.cc,
                    Some("bcc") => &mut segment.bcc,
                    Some("subject") => &mut segment.subject,
                    Some("from") => &mut segment.from,
                    _ => &mut segment.sent,
                };
                field.push(' ');
                field.push_str(raw.trim());
            } else {
                break;
            }
            j += 1;
        }
        if !segment.from.is_empty() && (fields > 0 || !segment.sent.is_empty()) {
            out.push(segment);
        }
        i = j.max(i + 1);
    }
    out
}

fn next_nonblank(lines: &[&str], from: usize) -> Option<usize> {
    (from..lines.len().min(from + 2)).find(|&j| !lines[j].trim().is_empty())
}

fn is_separator(line: &str) -> bool {
    let core = line.trim_matches(|c: char| c == '-' || c.is_whitespace());
    let dashes = line.starts_with("---");
    dashes
        && (core.eq_ignore_ascii_case("original message")
            || core.to_ascii_lowercase().starts_with("forwarded by ")
            || core.eq_ignore_ascii_case("forwarded message")
            || core.eq_ignore_ascii_case("message from"))
}

/// `Key: value` with a key of letters (and `-`) at most 12 long; the key lower-cased.
fn header_key(line: &str) -> Option<(String, String)> {
    let (key, value) = line.trim_start().split_once(':')?;
    let key = key.trim();
    if key.is_empty() || key.len() > 12 || !key.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
    {
        return None;
    }
    Some((key.to_ascii_lowercase(), value.trim().to_owned()))
}

/// Lotus Notes: `"Smith, John" <jsmith@x.com> on 05/11/2001 04:12:33 PM` or
/// `Richard B Sanders@ECT on 05/14/2001 09:39 AM`.
fn notes_from_line(line: &str) -> Option<(String, String)> {
    let at = line.rfind(" on ")?;
    let (name, date) = (line[..at].trim(), line[at + 4..].trim());
    let date_ok = date.len() >= 10
        && date.as_bytes()[2] == b'/'
        && date.as_bytes()[5] == b'/'
        && date[..10].bytes().filter(u8::is_ascii_digit).count() == 8;
    (date_ok && !name.is_empty() && name.len() < 200).then(|| (name.to_owned(), date.to_owned()))
}

/// `On Mon, May 14, 2001 at 9:39 AM, Richard Sanders <r@x.com> wrote:`
fn wrote_line(line: &str) -> Option<Segment> {
    let body = line.strip_prefix("On ")?.strip_suffix("wrote:")?.trim_end();
    let comma = body.rfind(", ")?;
    let (sent, from) = (body[..comma].trim(), body[comma + 2..].trim());
    (!sent.is_empty() && !from.is_empty() && sent.chars().any(|c| c.is_ascii_digit()))
        .then(|| Segment { from: from.to_owned(), sent: sent.to_owned(), ..Segment::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlook_notes_and_wrote_forms() {
        let text = "Thanks, see below.\n\n -----Original Message-----\nFrom: \tSanders, Richard  \nSent:\tMonday, May 14, 2001 9:39 AM\nTo:\tHaedicke, Mark; Taylor,\n\tMark\nCc:\t\nSubject:\tRE: Raptor\n\nBody one.\n\n---------------------- Forwarded by Richard B Sanders/HOU/ECT on 05/14/2001 09:39 AM ---------------------------\n\n\n\"Smith, John\" <jsmith@velaw.com> on 05/11/2001 04:12:33 PM\nTo: Richard B Sanders/HOU/ECT@ECT\ncc: \nSubject: Draft\n\nBody two.\n\nOn Fri, May 11, 2001 at 3:00 PM, Jane Doe <jane@x.com> wrote:\n> quoted\n";
        let segments = embedded_messages(text);
        assert_eq!(segments.len(), 3, "{segments:#?}");
        assert_eq!(segments[0].from, "Sanders, Richard");
        assert_eq!(segments[0].sent, "Monday, May 14, 2001 9:39 AM");
        assert_eq!(segments[0].to, "Haedicke, Mark; Taylor, Mark");
        assert_eq!(segments[0].subject, "RE: Raptor");
        assert_eq!(segments[1].from, "\"Smith, John\" <jsmith@velaw.com>");
        assert_eq!(segments[1].sent, "05/11/2001 04:12:33 PM");
        assert_eq!(segments[1].to, "Richard B Sanders/HOU/ECT@ECT");
        assert_eq!(segments[1].subject, "Draft");
        assert_eq!(segments[2].from, "Jane Doe <jane@x.com>");
        assert_eq!(segments[2].sent, "Fri, May 11, 2001 at 3:00 PM");
    }

    #[test]
    fn notes_reply_without_separator_and_plain_text() {
        let text = "I agree.\n\n\n\n\nMark E Haedicke\n05/14/2001 10:02 AM\n\nRichard B Sanders@ECT on 05/14/2001 09:39 AM\nTo: Mark E Haedicke/HOU/ECT@ECT\ncc: \nSubject: Raptor\n\nOld body";
        let segments = embedded_messages(text);
        assert_eq!(segments.len(), 1, "{segments:#?}");
        assert_eq!(segments[0].from, "Richard B Sanders@ECT");
        assert_eq!(segments[0].subject, "Raptor");
        assert!(
            embedded_messages("Meeting on 05/14/2001 at noon.\nNothing quoted here.").is_empty()
        );
    }
}
