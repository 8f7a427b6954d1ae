//! Reading an email's Date header (RFC 5322 §3.3, with the obsolete forms of §4.3).
//!
//! The sent date is what a privilege log, a chronology and the email identity rest on, so a
//! value is read strictly: a date that is not on the calendar (`30 Feb`, `25:61`) or an offset
//! that is not one (`+0099`) is no date, and the item is flagged `date-unparsed` with its
//! header kept as written. mailparse's own parser, used before, added such fields up (30
//! February became 2 March) and refused valid forms mail systems write: a time without
//! seconds, a zone name it did not know (`CET`), a year before 1970.
//!
//! What is read: an optional day of the week, then day, month (its name, abbreviated or
//! not), year (see [`year`] for years under 1000), time (`hh:mm` or `hh:mm:ss`; without one,
//! the day's start with its zone unknown), and a zone. The zone is a numeric offset, or a name: UT, GMT, Z
//! and the North American names of RFC 5322, plus a few other names in wide use whose meaning
//! is not in doubt. A name that is not known, a military letter (RFC 5322 §4.3: their meaning
//! was defined backwards and cannot be trusted) and a missing zone leave the offset unknown,
//! and the time is read as UTC, as the RFC says for `-0000`. Anything after the zone is
//! ignored (`-0700 (PDT)`, `-0700 PDT`). Leading text before the day is skipped, as
//! mailparse did. Years are kept to 1900 through 9999, so that every sent date is four
//! digits of year and sorts as text.

use std::borrow::Cow;

/// A Date header's instant (seconds since 1970, UTC) and its offset from UTC as written
/// (`+hh:mm`; `None` when the zone is missing or unknown). `None` when it is no date.
pub(crate) fn sent(date: &str) -> Option<(i64, Option<String>)> {
    let date = without_comments(date);
    let mut tokens =
        date.split(|c: char| c.is_ascii_whitespace() || c == ',').filter(|t| !t.is_empty());
    // The day of the month: the first token of one or two digits (a day of the week, or
    // stray text, may come first).
    let day = tokens.find_map(|t| {
        (t.len() <= 2 && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse::<u32>().ok())?
    })?;
    let month = month(tokens.next()?)?;
    let year = year(tokens.next()?)?;
    // A date without a time is that day's start, its zone unknown.
    let Some(time) = tokens.next() else {
        let utc = quarry_types::unix_from_civil(year, month, day, 0, 0, 0)?;
        return in_range(utc).then_some((utc, None));
    };
    // A zone written against the time (`16:39:00-0700`).
    let (time, zone) = match time.find(['+', '-']) {
        Some(at) => (&time[..at], Some(&time[at..])),
        None => (time, tokens.next()),
    };
    let mut parts = time.split(':');
    let field = |part: Option<&str>, widths: std::ops::RangeInclusive<usize>| -> Option<u32> {
        let part = part?;
        (widths.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())?
    };
    let mut hour = field(parts.next(), 1..=2)?;
    let minute = field(parts.next(), 2..=2)?;
    let second = match parts.next() {
        Some(part) => field(Some(part), 2..=2)?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    // A 12-hour clock (`4:39:00 PM -0700`, written by some mailers): not a zone name to read
    // as UTC, but the time's half of the day; the zone follows it.
    let mut zone = zone;
    if let Some(half) =
        zone.filter(|z| z.eq_ignore_ascii_case("am") || z.eq_ignore_ascii_case("pm"))
    {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + if half.eq_ignore_ascii_case("pm") { 12 } else { 0 };
        zone = tokens.next();
    }
    let offset = match zone {
        None => None,
        Some(zone) => zone_offset(zone)?,
    };
    let local = quarry_types::unix_from_civil(year, month, day, hour, minute, second)?;
    let utc = local - i64::from(offset.unwrap_or(0)) * 60;
    if !in_range(utc) {
        return None;
    }
    let written = offset.map(|minutes| {
        let sign = if minutes < 0 || zone.is_some_and(|z| z.starts_with('-')) { '-' } else { '+' };
        let minutes = minutes.unsigned_abs();
        format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    });
    Some((utc, written))
}

/// From 1900-01-01 to the end of 9999 (UTC): a sent date keeps four digits of year.
fn in_range(utc: i64) -> bool {
    (-2_208_988_800..253_402_300_800).contains(&utc)
}

/// The UTC offset a Date header was written in, as `+hh:mm`: [`sent`]'s second half.
pub(crate) fn utc_offset(date: &str) -> Option<String> {
    sent(date)?.1
}

/// The month of a name: its first three letters, in any case (`May`, `SEPT`, `December`).
fn month(token: &str) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let token = token.strip_suffix('.').unwrap_or(token);
    if token.len() < 3 || !token.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let head = token.as_bytes()[..3].to_ascii_lowercase();
    let index = MONTHS.iter().position(|m| m[..] == head[..])?;
    Some(index as u32 + 1)
}

/// A year of two to four digits. A year under 100, however written, is 1950 to 2049 (RFC
/// 5322 §4.3 for two digits; the Enron mailboxes hold messages dated `0001` that were sent in
/// 2001, which Python's and mailparse's parsers read the same way), and three digits are added
/// to 1900 (§4.3).
fn year(token: &str) -> Option<i64> {
    if !(2..=4).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i64 = token.parse().ok()?;
    Some(match year {
        0..=49 => 2000 + year,
        50..=99 => 1900 + year,
        100..=999 if token.len() == 3 => 1900 + year,
        _ => year,
    })
}

/// A zone's offset in minutes east of UTC: `Some(None)` when it is a name whose meaning is
/// unknown (the time is then read as UTC), `None` when it is no zone (`+0099`, `H0500`).
fn zone_offset(zone: &str) -> Option<Option<i32>> {
    let bytes = zone.as_bytes();
    if let [sign @ (b'+' | b'-'), digits @ ..] = bytes {
        if digits.len() != 4 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let number = |d: &[u8]| i32::from(d[0] - b'0') * 10 + i32::from(d[1] - b'0');
        let (hours, minutes) = (number(&digits[..2]), number(&digits[2..]));
        if hours > 23 || minutes > 59 {
            return None;
        }
        let minutes = hours * 60 + minutes;
        return Some(Some(if *sign == b'-' { -minutes } else { minutes }));
    }
    if !bytes.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let hours = match zone.to_ascii_uppercase().as_str() {
        "UT" | "UTC" | "GMT" | "Z" | "WET" => 0,
        // RFC 5322's North American zones.
        "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" => -8,
        // Other names in wide use with one meaning.
        "AKDT" => -8,
        "AKST" => -9,
        "HST" => -10,
        "CET" | "MET" | "WEST" => 1,
        "CEST" | "MEST" | "EET" => 2,
        "EEST" => 3,
        "JST" | "KST" => 9,
        "AEST" => 10,
        "AEDT" => 11,
        "NZST" => 12,
        "NZDT" => 13,
        _ => return Some(None),
    };
    Some(Some(hours * 60))
}

/// `value` without its RFC 5322 comments (parenthesized, nested, backslash escapes), each
/// replaced by a space.
fn without_comments(value: &str) -> Cow<'_, str> {
    if !value.contains('(') {
        return Cow::Borrowed(value);
    }
    let (mut out, mut depth, mut escaped) = (String::with_capacity(value.len()), 0u32, false);
    for c in value.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if depth > 0 => escaped = true,
            '(' => depth += 1,
            ')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push(' ');
                }
            }
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(date: &str) -> Option<(String, Option<String>)> {
        sent(date).map(|(secs, offset)| (quarry_types::iso_utc_from_unix(secs), offset))
    }

    fn at(utc: &str, offset: Option<&str>) -> Option<(String, Option<String>)> {
        Some((utc.to_owned(), offset.map(str::to_owned)))
    }

    #[test]
    fn rfc_5322_dates() {
        assert_eq!(
            iso("Fri, 4 May 2001 14:05:44 -0400"),
            at("2001-05-04T18:05:44Z", Some("-04:00"))
        );
        assert_eq!(iso("14 May 2001 16:39:00 GMT"), at("2001-05-14T16:39:00Z", Some("+00:00")));
        assert_eq!(iso("14 May 2001 16:39:00 EDT"), at("2001-05-14T20:39:00Z", Some("-04:00")));
        assert_eq!(
            iso("Mon, 14 May 2001 16:39:00 +0530"),
            at("2001-05-14T11:09:00Z", Some("+05:30"))
        );
        // `-0000`: the time is UTC, the sender's zone unknown; written as it was.
        assert_eq!(iso("14 May 2001 16:39:00 -0000"), at("2001-05-14T16:39:00Z", Some("-00:00")));
        assert_eq!(iso("14 May 2001 16:39:00 -0030"), at("2001-05-14T17:09:00Z", Some("-00:30")));
        // Comments anywhere, nested, escaped; before the zone too (MimeKit's
        // disposition-notification.txt).
        assert_eq!(
            iso("Wed, 20 Sep 1995 00:19:00 (EDT) -0400"),
            at("1995-09-20T04:19:00Z", Some("-04:00"))
        );
        assert_eq!(
            iso("Mon, 14 May 2001 16:39:00 -0700 (PDT (nested) \\) too)"),
            at("2001-05-14T23:39:00Z", Some("-07:00"))
        );
        // After the zone, anything is ignored; the first zone is the one.
        assert_eq!(
            iso("Mon, 14 May 2001 16:39:00 -0700 PDT"),
            at("2001-05-14T23:39:00Z", Some("-07:00"))
        );
        assert_eq!(
            iso("Mon, 14 May 2001 16:39:00 +0000 +0100"),
            at("2001-05-14T16:39:00Z", Some("+00:00"))
        );
        // Folding whitespace, tabs, no space after the comma, a zone against the time.
        assert_eq!(
            iso("Mon,14 May 2001\t16:39:00\t-0700"),
            at("2001-05-14T23:39:00Z", Some("-07:00"))
        );
        assert_eq!(iso("14 May 2001 16:39:00-0700"), at("2001-05-14T23:39:00Z", Some("-07:00")));
    }

    #[test]
    fn obsolete_and_common_forms() {
        // No seconds (RFC 5322 allows it).
        assert_eq!(iso("Mon, 14 May 2001 16:39 -0700"), at("2001-05-14T23:39:00Z", Some("-07:00")));
        assert_eq!(iso("14 May 01 16:39 PDT"), at("2001-05-14T23:39:00Z", Some("-07:00")));
        // Two- and three-digit years (RFC 5322 §4.3), and Enron's `0001`.
        assert_eq!(
            iso("Wed, 12 Oct 0001 22:14:33 -0800 (PST)"),
            at("2001-10-13T06:14:33Z", Some("-08:00"))
        );
        assert_eq!(iso("14 May 49 16:39:00 +0000"), at("2049-05-14T16:39:00Z", Some("+00:00")));
        assert_eq!(iso("14 May 50 16:39:00 +0000"), at("1950-05-14T16:39:00Z", Some("+00:00")));
        assert_eq!(iso("14 May 101 16:39:00 +0000"), at("2001-05-14T16:39:00Z", Some("+00:00")));
        // Month names written out, day names in full.
        assert_eq!(
            iso("Monday, 14 September 2001 16:39:00 +0000"),
            at("2001-09-14T16:39:00Z", Some("+00:00"))
        );
        // A zone name in wide use: read. One not known, and military letters: the offset is
        // unknown and the time read as UTC (RFC 5322 §4.3), not the whole date lost.
        assert_eq!(iso("14 May 2001 16:39:00 CET"), at("2001-05-14T15:39:00Z", Some("+01:00")));
        assert_eq!(iso("14 May 2001 16:39:00 XYZT"), at("2001-05-14T16:39:00Z", None));
        assert_eq!(iso("14 May 2001 16:39:00 A"), at("2001-05-14T16:39:00Z", None));
        // No zone at all.
        assert_eq!(iso("14 May 1999 16:39:00"), at("1999-05-14T16:39:00Z", None));
        // Before 1970: a clock reset to the epoch in the sender's zone.
        assert_eq!(
            iso("Wed, 31 Dec 1969 16:00:00 -0800"),
            at("1970-01-01T00:00:00Z", Some("-08:00"))
        );
        assert_eq!(
            iso("Mon, 1 Jan 1900 00:00:00 +0000"),
            at("1900-01-01T00:00:00Z", Some("+00:00"))
        );
        // No time: the day, its zone unknown.
        assert_eq!(iso("Friday, 4 May 2001"), at("2001-05-04T00:00:00Z", None));
        // A leap second is the next minute's first.
        assert_eq!(iso("31 Dec 2016 23:59:60 +0000"), at("2017-01-01T00:00:00Z", Some("+00:00")));
        // A 12-hour clock, then the zone.
        assert_eq!(iso("14 May 2001 4:39:00 PM -0700"), at("2001-05-14T23:39:00Z", Some("-07:00")));
        assert_eq!(iso("14 May 2001 12:05 am +0000"), at("2001-05-14T00:05:00Z", Some("+00:00")));
        assert_eq!(iso("14 May 2001 12:05 PM"), at("2001-05-14T12:05:00Z", None));
    }

    #[test]
    fn no_date() {
        for value in [
            // Not on the calendar, or not a time: mailparse moved these to another day.
            "Tue, 30 Feb 2001 10:00:00 +0000",
            "Sun, 31 Apr 2001 10:00:00 +0000",
            "Mon, 14 May 2001 25:00:00 +0000",
            "Mon, 14 May 2001 16:61:00 +0000",
            "Mon, 14 May 2001 16:39:61 +0000",
            "Mon, 0 May 2001 16:39:00 +0000",
            // No such offset.
            "Mon, 14 May 2001 16:39:00 +0099",
            "Mon, 14 May 2001 16:39:00 +9999",
            "Tue, 12 Oct 2010 16:21:05 H0500",
            "Mon, 14 May 2001 16:39:00 +07",
            // Before 1900 or past 9999 (in UTC).
            "Fri, 31 Dec 1899 23:59:59 +0000",
            "Mon, 1 Jan 1900 00:00:00 +0100",
            "Wed, 31 Dec 9999 23:59:59 -1200",
            "Mon, 14 May 20001 16:39:00 +0000",
            "Mon, 14 May 0101 16:39:00 +0000",
            // No day and month, a time that is not one.
            "Whenever",
            "<HR>",
            "12 Smarch 2001 10:00:00 +0000",
            "14 May 2001 noon",
            "30 Feb 2001",
            "Mon, 14 May 2001 16.39.00 +0000",
            "Mon, 14 May 2001 16:39:00:00 +0000",
            "Mon, 14 May 2001 16:3 +0000",
            "Wed, 15 Dec 2010    59:10 -0500",
            "14 May 2001 16:39:00 PM -0700",
            "",
        ] {
            assert_eq!(iso(value), None, "{value}");
        }
    }

    #[test]
    fn offsets() {
        assert_eq!(utc_offset("Mon, 14 May 2001 16:39:00 -0700 (PDT)").as_deref(), Some("-07:00"));
        assert_eq!(utc_offset("14 May 2001 16:39:00 GMT").as_deref(), Some("+00:00"));
        assert_eq!(utc_offset("14 May 2001 16:39:00 EDT").as_deref(), Some("-04:00"));
        assert_eq!(utc_offset("14 May 2001 16:39:00").as_deref(), None);
    }

    /// Valid dates of 1970 to 2099 in every month, at any time and offset, read to the instant
    /// mailparse gives them (it sums the fields, which is right when they are valid), and no
    /// input at all makes the parser panic.
    #[test]
    fn valid_dates_agree_with_mailparse_and_nothing_panics() {
        const MONTHS: [&str; 12] =
            ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for _ in 0..20_000 {
            let year = 1970 + next(130) as i64;
            let month = 1 + next(12) as u32;
            let day = 1 + next(u64::from(quarry_types::days_in_month(year, month))) as u32;
            let (hour, minute, second) = (next(24), next(60), next(60));
            let sign = if next(2) == 0 { '+' } else { '-' };
            let offset = format!("{sign}{:02}{:02}", next(14), [0, 30, 45][next(3) as usize]);
            let date = format!(
                "{day} {} {year} {hour:02}:{minute:02}:{second:02} {offset}",
                MONTHS[month as usize - 1]
            );
            let (secs, written) = sent(&date).unwrap_or_else(|| panic!("{date}"));
            assert_eq!(Some(secs), mailparse::dateparse(&date).ok(), "{date}");
            assert_eq!(written.unwrap().replace(':', ""), offset, "{date}");
        }
        let pieces = [
            "Mon,", "14", "May", "2001", "16:39:00", "-0700", "(", ")", ":", "+", "9999",
            "\u{301}", "é", "0", "60", "Feb", "30", "\\", "\"", ",", " ", "\t",
        ];
        for _ in 0..20_000 {
            let value: String = (0..next(12))
                .map(|_| pieces[next(pieces.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(" ");
            let _ = sent(&value);
        }
    }

    /// Every Date header of the Enron mailboxes is read, to the same instant mailparse gave
    /// (the parser quarry used before this one), `0001` years included.
    #[test]
    fn enron_dates_as_mailparse_read_them() {
        let Some(corpus) = std::env::var_os("QUARRY_CORPUS") else {
            eprintln!("skipped: set QUARRY_CORPUS to the shared corpus folder");
            return;
        };
        let dir = std::path::Path::new(&corpus).join("email/enron-mbox");
        let mut dates = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let file = std::fs::File::open(entry.unwrap().path()).unwrap();
            let mut reader = crate::mbox::Reader::new(std::io::BufReader::new(file));
            while let Some(message) = reader.next_message().unwrap() {
                let (headers, _) = mailparse::parse_headers(&message.bytes).unwrap();
                use mailparse::MailHeaderMap;
                let date = headers.get_first_value("Date").expect("a Date header");
                let (secs, offset) = sent(&date).unwrap_or_else(|| panic!("{date}"));
                assert_eq!(
                    Some(secs),
                    mailparse::dateparse(&without_comments(&date)).ok(),
                    "{date}"
                );
                assert!(offset.is_some(), "{date}");
                dates += 1;
            }
        }
        assert_eq!(dates, 18_663);
    }
}
