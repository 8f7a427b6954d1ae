//! The query language: dtSearch as reviewers write it, parsed into a [`Query`] tree.
//!
//! | syntax | meaning |
//! | --- | --- |
//! | `apple`, `apple pie` | a word; words side by side are a phrase (as in dtSearch) |
//! | `"apple pie"` | a phrase |
//! | `a AND b`, `a OR b`, `a AND NOT b`, `a NOT b`, `NOT a`, `( )` | boolean; operators in capitals |
//! | `a w/5 b`, `a pre/5 b`, `a NOT w/5 b` | within 5 words either order, `a` first, `a` with no `b` near |
//! | `contract*`, `m?ller`, `*tion` | wildcards: `*` any run of characters, `?` one character |
//! | `ba%nana`, `banana~1` | fuzzy: letters before `%` must match, one edit per `%`; `~N` edits anywhere |
//! | `from:skilling`, `custodian:"allen-p"`, `subject:(gas OR power)` | a field |
//! | `date:[2001-01-01 TO 2001-06-30]`, `sent:{* TO 2001-01-01}`, `date:2001-05-03` | dates, ends inclusive with `[ ]` |
//! | `tag:privileged` | a tag from the case database |
//!
//! Precedence, tightest first: proximity, then AND and NOT, then OR. Lower-case `and`, `or`
//! and `not` are searched as words, with a warning, since dtSearch users mean the operator as
//! often as the word; the parsed tree prints back in full ([`Query`]'s `Display`), so what was
//! searched is never a guess.

use std::fmt;

/// A parsed query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// Words in a row (a phrase; one word is a phrase of one) in a field (`None`: the text).
    Words {
        /// Field name as written (`from`, `custodian`, ...).
        field: Option<String>,
        /// The words.
        words: Vec<Word>,
    },
    /// A date range: Unix seconds, lower inclusive, upper exclusive (`None`: open).
    Range {
        /// Date field name.
        field: String,
        /// First second in range.
        from: Option<i64>,
        /// First second after the range.
        until: Option<i64>,
    },
    /// Items carrying a tag in the case database.
    Tag(String),
    /// All of these.
    And(Vec<Query>),
    /// Any of these.
    Or(Vec<Query>),
    /// Not this.
    Not(Box<Query>),
    /// Proximity: `left w/N right` (`ordered`: `pre/N`; `negated`: `NOT w/N`).
    Near {
        /// Left operand.
        left: Box<Query>,
        /// Right operand.
        right: Box<Query>,
        /// Most words apart (1: adjacent).
        distance: u32,
        /// `left` must come first.
        ordered: bool,
        /// Occurrences of `left` with no `right` within `distance`.
        negated: bool,
    },
}

/// One word of a phrase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Word {
    /// As written.
    Exact(String),
    /// With `*` and `?`.
    Wildcard(String),
    /// Within `distance` edits, the first `prefix` characters unchanged.
    Fuzzy {
        /// The word without the fuzzy markers.
        word: String,
        /// Characters that must match exactly.
        prefix: usize,
        /// Edits allowed (1 or 2).
        distance: u8,
    },
}

/// A query that did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    /// The query.
    pub query: String,
    /// Column (1-based, in characters) where the problem is.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl std::error::Error for QueryError {}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "query error at column {}: {}", self.column, self.message)?;
        writeln!(f, "  {}", self.query)?;
        writeln!(f, "  {}^", " ".repeat(self.column.saturating_sub(1)))?;
        write!(f, "  hint: {}", self.hint)
    }
}

/// A parsed query and what the parser noticed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The tree.
    pub query: Query,
    /// Warnings (lower-case operators searched as words, leading wildcards, ...).
    pub warnings: Vec<String>,
}

/// Parses a query.
pub fn parse(text: &str) -> Result<Parsed, QueryError> {
    let tokens = lex(text)?;
    let mut p = Parser { text, tokens, at: 0, warnings: Vec::new() };
    if p.tokens.is_empty() {
        return Err(p.error(
            0,
            "the query is empty",
            "write a word, a phrase in quotes or a field:value",
        ));
    }
    let query = p.or(None)?;
    if let Some(tok) = p.peek() {
        let (message, hint) = match tok.kind {
            Tok::RParen => ("')' closes no group", "remove it, or add the '(' it should close"),
            _ => ("unexpected text after the query", "join the parts with AND, OR or w/N"),
        };
        return Err(p.error(tok.start, message, hint));
    }
    Ok(Parsed { query, warnings: p.warnings })
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Near { distance: u32, ordered: bool, negated: bool },
    Word(String),
    Phrase(String),
    Field(String),
    Range(String),
}

#[derive(Clone, Debug)]
struct Token {
    kind: Tok,
    /// Byte offset in the query.
    start: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, QueryError> {
    let err = |at: usize, message: &str, hint: &str| QueryError {
        query: text.to_owned(),
        column: text[..at].chars().count() + 1,
        message: message.to_owned(),
        hint: hint.to_owned(),
    };
    let bytes = text.as_bytes();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        match c {
            b'(' => {
                out.push(Token { kind: Tok::LParen, start });
                i += 1;
            }
            b')' => {
                out.push(Token { kind: Tok::RParen, start });
                i += 1;
            }
            // Straight and curly quotes (pasted from a word processor, sometimes both `”`).
            b'"' | b'\xE2' if text[i..].starts_with(['"', '“', '”']) => {
                let open = if c == b'"' { 1 } else { '“'.len_utf8() };
                let rest = &text[i + open..];
                let close = rest.find(['"', '”']).ok_or_else(|| {
                    err(start, "this quote is never closed", "add a closing '\"' after the phrase")
                })?;
                let inner = &rest[..close];
                let close_len = rest[close..].chars().next().map_or(1, char::len_utf8);
                out.push(Token { kind: Tok::Phrase(inner.to_owned()), start });
                i += open + close + close_len;
                if text[i..].starts_with('~') {
                    return Err(err(
                        i,
                        "phrase slop (\"a b\"~N) is not supported",
                        "write the words with a proximity connector: a w/N b",
                    ));
                }
            }
            b'[' | b'{' => {
                let end = text[i..].find([']', '}']).ok_or_else(|| {
                    err(
                        start,
                        "this date range is never closed",
                        "close it with ']' (inclusive) or '}' (exclusive)",
                    )
                })?;
                out.push(Token { kind: Tok::Range(text[i..=i + end].to_owned()), start });
                i += end + 1;
            }
            _ => {
                let end = text[i..]
                    .find(|ch: char| {
                        ch.is_whitespace() || matches!(ch, '(' | ')' | '"' | '“' | '”')
                    })
                    .map_or(text.len(), |e| i + e);
                if end == i {
                    // Every character starts some token; this guards the loop's progress.
                    return Err(err(
                        start,
                        "unexpected character",
                        "remove it, or put the text in quotes",
                    ));
                }
                let word = &text[i..end];
                i = end;
                // `from:skilling` or `from:` followed by a phrase, group or range.
                if let Some(colon) = word.find(':') {
                    let name = &word[..colon];
                    let lower = name.to_ascii_lowercase();
                    if lower == "tag" || is_field(&lower) {
                        out.push(Token { kind: Tok::Field(lower), start });
                        let value = &word[colon + 1..];
                        if value.starts_with(['[', '{']) {
                            // The range is lexed next, spaces and all.
                            i = start + colon + 1;
                            continue;
                        }
                        if !value.is_empty() {
                            out.push(Token {
                                kind: Tok::Word(value.to_owned()),
                                start: start + colon + 1,
                            });
                        }
                        continue;
                    }
                    if !name.is_empty() && name.chars().all(char::is_alphanumeric) {
                        return Err(err(
                            start,
                            &format!("{name:?} is not a field"),
                            &format!(
                                "fields are {}; to search the text \"{word}\", put it in quotes",
                                field_list()
                            ),
                        ));
                    }
                }
                let kind = match word {
                    "AND" | "&" => Tok::And,
                    "OR" | "|" => Tok::Or,
                    "NOT" => Tok::Not,
                    _ => match proximity(word) {
                        Some(Ok((distance, ordered))) => {
                            // `NOT w/5` is one connector.
                            if out.last().is_some_and(|t| t.kind == Tok::Not) {
                                let not = out.pop().map_or(start, |t| t.start);
                                out.push(Token {
                                    kind: Tok::Near { distance, ordered, negated: true },
                                    start: not,
                                });
                                continue;
                            }
                            Tok::Near { distance, ordered, negated: false }
                        }
                        Some(Err(())) => {
                            return Err(err(
                                start,
                                &format!("{word:?} needs a distance"),
                                "write w/N or pre/N with N a number of words, e.g. w/5",
                            ));
                        }
                        None => Tok::Word(word.to_owned()),
                    },
                };
                out.push(Token { kind, start });
            }
        }
    }
    Ok(out)
}

/// `w/5` → (5, false), `pre/3` → (3, true); `Some(Err)` for a connector without a number.
fn proximity(word: &str) -> Option<Result<(u32, bool), ()>> {
    let lower = word.to_ascii_lowercase();
    let (rest, ordered) = if let Some(rest) = lower.strip_prefix("w/") {
        (rest, false)
    } else if let Some(rest) = lower.strip_prefix("pre/") {
        (rest, true)
    } else if let Some(rest) = lower.strip_prefix("near/") {
        (rest, false)
    } else {
        return None;
    };
    Some(rest.parse::<u32>().ok().filter(|n| *n > 0).map(|n| (n, ordered)).ok_or(()))
}

fn is_field(name: &str) -> bool {
    crate::schema::FIELD_NAMES.iter().any(|(n, _)| *n == name)
        || matches!(
            name,
            "body"
                | "content"
                | "title"
                | "author"
                | "sender"
                | "name"
                | "path"
                | "docid"
                | "flags"
        )
}

fn field_list() -> String {
    crate::schema::FIELD_NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

fn is_date_field(name: &str) -> bool {
    matches!(name, "date" | "sent" | "created" | "modified")
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    at: usize,
    warnings: Vec<String>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn column(&self, byte: usize) -> usize {
        self.text[..byte.min(self.text.len())].chars().count() + 1
    }

    fn error(&self, byte: usize, message: &str, hint: &str) -> QueryError {
        QueryError {
            query: self.text.to_owned(),
            column: self.column(byte),
            message: message.to_owned(),
            hint: hint.to_owned(),
        }
    }

    fn end(&self) -> usize {
        self.text.len()
    }

    fn or(&mut self, field: Option<&str>) -> Result<Query, QueryError> {
        let mut parts = vec![self.and(field)?];
        while self.peek().is_some_and(|t| t.kind == Tok::Or) {
            self.at += 1;
            parts.push(self.and(field)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Query::Or(parts) })
    }

    fn and(&mut self, field: Option<&str>) -> Result<Query, QueryError> {
        let mut parts = vec![self.near(field)?];
        while let Some(tok) = self.peek() {
            match tok.kind {
                Tok::And => {
                    self.at += 1;
                    if self.peek().is_some_and(|t| t.kind == Tok::Not) {
                        self.at += 1;
                        parts.push(Query::Not(Box::new(self.near(field)?)));
                    } else {
                        parts.push(self.near(field)?);
                    }
                }
                Tok::Not => {
                    self.at += 1;
                    parts.push(Query::Not(Box::new(self.near(field)?)));
                }
                Tok::LParen | Tok::Phrase(_) | Tok::Field(_) | Tok::Word(_) | Tok::Range(_) => {
                    return Err(self.error(
                        tok.start,
                        "two parts of the query stand side by side with no operator",
                        "join them with AND, OR, w/N or pre/N (words side by side are a phrase; a phrase, group or field term is not joined to them)",
                    ));
                }
                _ => break,
            }
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Query::And(parts) })
    }

    fn near(&mut self, field: Option<&str>) -> Result<Query, QueryError> {
        let mut left = self.unary(field)?;
        while let Some(Token { kind: Tok::Near { distance, ordered, negated }, start }) =
            self.peek().cloned()
        {
            self.at += 1;
            if self.peek().is_none() {
                return Err(self.error(
                    self.end(),
                    "the proximity connector has nothing after it",
                    "add the words it should be near",
                ));
            }
            let right = self.unary(field)?;
            for (side, operand) in [("left", &left), ("right", &right)] {
                if !proximity_operand(operand) {
                    return Err(self.error(
                        start,
                        &format!("the {side} side of this proximity connector is not a word, phrase, OR-group or proximity"),
                        "proximity joins words, phrases and OR-groups in the same word field: (a OR b) w/5 c; put AND and NOT outside it",
                    ));
                }
            }
            left = Query::Near {
                left: Box::new(left),
                right: Box::new(right),
                distance,
                ordered,
                negated,
            };
        }
        Ok(left)
    }

    fn unary(&mut self, field: Option<&str>) -> Result<Query, QueryError> {
        if let Some(tok) = self.peek()
            && tok.kind == Tok::Not
        {
            self.at += 1;
            return Ok(Query::Not(Box::new(self.unary(field)?)));
        }
        self.primary(field)
    }

    fn primary(&mut self, field: Option<&str>) -> Result<Query, QueryError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.error(
                self.end(),
                "the query ends where a word was expected",
                "add a word, or remove the trailing operator",
            ));
        };
        self.at += 1;
        match tok.kind {
            Tok::LParen => {
                let inner = self.or(field)?;
                match self.peek() {
                    Some(t) if t.kind == Tok::RParen => {
                        self.at += 1;
                        Ok(inner)
                    }
                    _ => Err(self.error(
                        tok.start,
                        "this '(' is never closed",
                        "add ')' where the group ends",
                    )),
                }
            }
            Tok::RParen => Err(self.error(
                tok.start,
                "')' where a word was expected",
                "remove it, or put the words of the group before it",
            )),
            Tok::And | Tok::Or | Tok::Near { .. } => Err(self.error(
                tok.start,
                "an operator where a word was expected",
                "put a word or phrase on both sides of AND, OR and proximity connectors",
            )),
            Tok::Not => unreachable!("handled by unary"),
            Tok::Range(range) => {
                let Some(name) = field.filter(|f| is_date_field(f)) else {
                    return Err(self.error(
                        tok.start,
                        "a range needs a date field",
                        "write date:[2001-01-01 TO 2001-06-30] (or sent:, created:, modified:)",
                    ));
                };
                self.range(name, &range, tok.start)
            }
            Tok::Field(name) => {
                if let Some(outer) = field
                    && outer != name
                {
                    return Err(self.error(
                        tok.start,
                        &format!("field {name}: inside a group of field {outer}:"),
                        "name one field per group",
                    ));
                }
                if name == "tag" {
                    return match self.peek().cloned() {
                        Some(Token { kind: Tok::Word(t) | Tok::Phrase(t), .. }) => {
                            self.at += 1;
                            Ok(Query::Tag(t))
                        }
                        _ => Err(self.error(
                            tok.start,
                            "tag: needs a tag name",
                            "write tag:privileged or tag:\"needs review\"",
                        )),
                    };
                }
                if is_date_field(&name) {
                    return match self.peek().cloned() {
                        Some(Token { kind: Tok::Range(r), start }) => {
                            self.at += 1;
                            self.range(&name, &r, start)
                        }
                        Some(Token { kind: Tok::Word(w), start }) => {
                            self.at += 1;
                            let day = self.date(&w, start)?;
                            Ok(Query::Range { field: name, from: Some(day.0), until: Some(day.1) })
                        }
                        Some(Token { kind: Tok::LParen, .. }) => self.primary(Some(&name)),
                        _ => Err(self.error(
                            tok.start,
                            &format!("{name}: needs a date or a range"),
                            &format!(
                                "write {name}:2001-05-03 or {name}:[2001-01-01 TO 2001-06-30]"
                            ),
                        )),
                    };
                }
                match self.peek() {
                    Some(t) if matches!(t.kind, Tok::Word(_) | Tok::Phrase(_) | Tok::LParen) => {}
                    _ => {
                        return Err(self.error(
                            tok.start,
                            &format!("{name}: has no value"),
                            &format!("write {name}:word, {name}:\"a phrase\" or {name}:(a OR b)"),
                        ));
                    }
                }
                self.primary(Some(&name))
            }
            Tok::Phrase(text) => {
                let mut words = Vec::new();
                for w in text.split_whitespace() {
                    words.push(self.word(w, tok.start)?);
                }
                if words.is_empty() {
                    return Err(self.error(
                        tok.start,
                        "an empty phrase",
                        "put words between the quotes, or remove them",
                    ));
                }
                Ok(Query::Words { field: field.map(str::to_owned), words })
            }
            Tok::Word(w) => {
                let mut words = vec![self.word(&w, tok.start)?];
                // Words side by side are a phrase.
                while let Some(Token { kind: Tok::Word(next), start }) = self.peek().cloned() {
                    self.at += 1;
                    words.push(self.word(&next, start)?);
                }
                Ok(Query::Words { field: field.map(str::to_owned), words })
            }
        }
    }

    fn word(&mut self, w: &str, start: usize) -> Result<Word, QueryError> {
        if matches!(w, "and" | "or" | "not" | "And" | "Or" | "Not") {
            self.warnings.push(format!(
                "{w:?} at column {} is searched as a word; write {} for the operator",
                self.column(start),
                w.to_ascii_uppercase()
            ));
        }
        if let Some(i) = w.find('~') {
            let (word, rest) = (&w[..i], &w[i + 1..]);
            let distance = match rest {
                "1" => 1,
                "2" => 2,
                "" => {
                    return Err(self.error(start, "stemming (word~) is not supported", &format!("for fuzzy matching write {word}~1 or {word}~2; for word endings, {word}*")));
                }
                _ => {
                    return Err(self.error(
                        start + i,
                        "fuzzy distance must be 1 or 2",
                        &format!("write {word}~1 or {word}~2"),
                    ));
                }
            };
            return Ok(Word::Fuzzy { word: word.to_owned(), prefix: 0, distance });
        }
        if w.contains('%') {
            let prefix = w.find('%').map_or(0, |p| w[..p].chars().count());
            let distance = w.matches('%').count();
            if distance > 2 {
                return Err(self.error(
                    start,
                    "at most two '%' (two edits)",
                    "write ba%nana (one edit) or ba%%nana (two)",
                ));
            }
            let word: String = w.chars().filter(|c| *c != '%').collect();
            return Ok(Word::Fuzzy { word, prefix, distance: distance as u8 });
        }
        if w.contains(['*', '?']) {
            if w.starts_with(['*', '?']) {
                self.warnings.push(format!(
                    "{w:?} at column {} starts with a wildcard: every word in the index is tested",
                    self.column(start)
                ));
            } else if w.trim_end_matches(['*', '?']).chars().filter(|c| c.is_alphanumeric()).count()
                < 3
                && w.ends_with('*')
            {
                self.warnings.push(format!(
                    "{w:?} at column {} is over-broad: fewer than 3 letters before the wildcard",
                    self.column(start)
                ));
            }
            return Ok(Word::Wildcard(w.to_owned()));
        }
        Ok(Word::Exact(w.to_owned()))
    }

    fn range(&self, field: &str, range: &str, start: usize) -> Result<Query, QueryError> {
        let lower_inclusive = range.starts_with('[');
        let upper_inclusive = range.ends_with(']');
        let inner = &range[1..range.len() - 1];
        let parts: Vec<&str> = inner.split_whitespace().collect();
        let [lo, to, hi] = parts[..] else {
            return Err(self.error(
                start,
                "a range is [FROM TO UNTIL]",
                "write [2001-01-01 TO 2001-06-30]; * leaves an end open",
            ));
        };
        if !to.eq_ignore_ascii_case("to") {
            return Err(self.error(
                start,
                "a range is [FROM TO UNTIL]",
                "separate the two dates with TO",
            ));
        }
        let offset = start + 1;
        let from = if lo == "*" {
            None
        } else {
            let (first, next) = self.date(lo, offset)?;
            Some(if lower_inclusive { first } else { next })
        };
        let until = if hi == "*" {
            None
        } else {
            let (first, next) = self.date(hi, offset)?;
            Some(if upper_inclusive { next } else { first })
        };
        if let (Some(f), Some(u)) = (from, until)
            && f >= u
        {
            return Err(self.error(
                start,
                "this range ends before it starts",
                "put the earlier date first: [2001-01-01 TO 2001-06-30]",
            ));
        }
        Ok(Query::Range { field: field.to_owned(), from, until })
    }

    /// A date or date-time: its first second and the first second after it (a day for a date).
    fn date(&self, s: &str, start: usize) -> Result<(i64, i64), QueryError> {
        parse_date(s).ok_or_else(|| {
            self.error(
                start,
                &format!("{s:?} is not a date"),
                "write dates as 2001-05-03 or 2001-05-03T14:30:00Z (UTC)",
            )
        })
    }
}

/// Whether a query can be an operand of a proximity connector.
fn proximity_operand(q: &Query) -> bool {
    match q {
        Query::Words { .. } | Query::Near { .. } => true,
        Query::Or(parts) => parts.iter().all(proximity_operand),
        _ => false,
    }
}

/// Parses `2001-05-03` (a whole day) or `2001-05-03T14:30:00Z` (a second), in UTC: the first
/// second and the first second after.
pub fn parse_timestamp(s: &str) -> Option<(i64, i64)> {
    parse_date(s)
}

/// `2001-05-03` (a whole day) or `2001-05-03T14:30:00Z` (a second), in UTC.
pub(crate) fn parse_date(s: &str) -> Option<(i64, i64)> {
    let (date, time) = match s.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t.trim_end_matches(['Z', 'z']))),
        None => (s, None),
    };
    let mut it = date.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    let day = quarry_types::unix_from_civil(y, m, d, 0, 0, 0)?;
    match time {
        None => Some((day, day + 86_400)),
        Some(t) => {
            let mut parts = t.split(':');
            let h: i64 = parts.next()?.parse().ok()?;
            let mi: i64 = parts.next().unwrap_or("0").parse().ok()?;
            let se: i64 = parts.next().unwrap_or("0").parse().ok()?;
            if h > 23 || mi > 59 || se > 60 {
                return None;
            }
            let at = day + h * 3600 + mi * 60 + se;
            Some((at, at + 1))
        }
    }
}

/// A range bound as written back: the date alone at midnight, else the full UTC time.
fn iso(secs: i64) -> String {
    let full = quarry_types::iso_utc_from_unix(secs);
    match full.strip_suffix("T00:00:00Z") {
        Some(day) => day.to_owned(),
        None => full,
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Word::Exact(w) | Word::Wildcard(w) => f.write_str(w),
            Word::Fuzzy { word, prefix: 0, distance } => write!(f, "{word}~{distance}"),
            Word::Fuzzy { word, prefix, distance } => {
                let split = word.char_indices().nth(*prefix).map_or(word.len(), |(i, _)| i);
                write!(
                    f,
                    "{}{}{}",
                    &word[..split],
                    "%".repeat(usize::from(*distance)),
                    &word[split..]
                )
            }
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = |f: &mut fmt::Formatter<'_>, q: &Query| match q {
            Query::And(_) | Query::Or(_) => write!(f, "({q})"),
            _ => write!(f, "{q}"),
        };
        match self {
            Query::Words { field, words } => {
                if let Some(field) = field {
                    write!(f, "{field}:")?;
                }
                if words.len() == 1 {
                    write!(f, "{}", words[0])
                } else {
                    let joined: Vec<String> = words.iter().map(ToString::to_string).collect();
                    write!(f, "\"{}\"", joined.join(" "))
                }
            }
            Query::Range { field, from, until } => {
                let lo = from.map_or("*".to_owned(), iso);
                let hi = until.map_or("*".to_owned(), iso);
                write!(f, "{field}:[{lo} TO {hi}}}")
            }
            Query::Tag(t) => write!(f, "tag:\"{t}\""),
            Query::And(parts) | Query::Or(parts) => {
                let op = if matches!(self, Query::And(_)) { " AND " } else { " OR " };
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(op)?;
                    }
                    group(f, part)?;
                }
                Ok(())
            }
            Query::Not(inner) => {
                f.write_str("NOT ")?;
                group(f, inner)
            }
            Query::Near { left, right, distance, ordered, negated } => {
                let near = |f: &mut fmt::Formatter<'_>, q: &Query| match q {
                    Query::Near { .. } | Query::Or(_) => write!(f, "({q})"),
                    _ => write!(f, "{q}"),
                };
                near(f, left)?;
                let not = if *negated { "NOT " } else { "" };
                let op = if *ordered { "pre" } else { "w" };
                write!(f, " {not}{op}/{distance} ")?;
                near(f, right)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(q: &str) -> String {
        parse(q)
            .map(|p| p.query.to_string())
            .unwrap_or_else(|e| format!("ERR col {}: {}", e.column, e.message))
    }

    #[test]
    fn parses_and_prints_back() {
        let cases = [
            ("apple", "apple"),
            ("apple pie", "\"apple pie\""),
            ("\"apple pie\" AND crust", "\"apple pie\" AND crust"),
            ("a OR b AND c", "a OR (b AND c)"),
            ("(a OR b) AND c", "(a OR b) AND c"),
            ("a AND NOT b", "a AND NOT b"),
            ("a NOT b", "a AND NOT b"),
            ("NOT a", "NOT a"),
            ("a w/5 b", "a w/5 b"),
            ("a W/5 b", "a w/5 b"),
            ("a pre/3 b", "a pre/3 b"),
            ("a NOT w/4 b", "a NOT w/4 b"),
            ("(a OR b) w/10 \"c d\"", "(a OR b) w/10 \"c d\""),
            ("a w/2 b w/3 c", "(a w/2 b) w/3 c"),
            ("contract* AND m?ller", "contract* AND m?ller"),
            ("ba%nana OR banana~2", "ba%nana OR banana~2"),
            ("from:skilling", "from:skilling"),
            ("custodian:\"allen-p\"", "custodian:allen-p"),
            ("subject:(gas OR power)", "subject:gas OR subject:power"),
            ("date:[2001-01-01 TO 2001-06-30]", "date:[2001-01-01 TO 2001-07-01}"),
            ("sent:{2001-01-01 TO *}", "sent:[2001-01-02 TO *}"),
            ("date:2001-05-03", "date:[2001-05-03 TO 2001-05-04}"),
            ("tag:privileged AND gas", "tag:\"privileged\" AND gas"),
            ("tag:suggest:privileged", "tag:\"suggest:privileged\""),
            ("apple and pie", "\"apple and pie\""),
        ];
        for (q, want) in cases {
            assert_eq!(shown(q), want, "query {q:?}");
        }
    }

    #[test]
    fn errors_point_at_the_problem() {
        let cases = [
            ("(apple AND pie", 1, "never closed"),
            ("apple AND pie)", 14, "closes no group"),
            ("apple AND", 10, "ends where a word"),
            ("apple OR OR pie", 10, "operator where a word"),
            ("\"apple pie", 1, "never closed"),
            ("apple w/ pie", 7, "needs a distance"),
            ("fruit:apple", 1, "not a field"),
            ("date:[2001-13-01 TO 2002-01-01]", 7, "not a date"),
            ("\"apple pie\" crust", 13, "side by side"),
            ("(a AND b) w/5 c", 11, "left side"),
            ("apple~", 1, "stemming"),
            ("ba%%%nana", 1, "at most two"),
            ("", 1, "empty"),
            ("subject:", 1, "no value"),
            ("\"a b\"~3", 6, "slop"),
            ("date:[2001-06-30 TO 2001-01-01]", 6, "ends before it starts"),
        ];
        for (q, column, message) in cases {
            let err = parse(q).expect_err(q);
            assert_eq!(err.column, column, "query {q:?}: {err}");
            assert!(err.message.contains(message), "query {q:?}: {err}");
            assert!(!err.hint.is_empty());
        }
        let shown = parse("(apple AND pie").expect_err("unclosed").to_string();
        assert!(shown.contains("  (apple AND pie\n  ^\n  hint: add ')'"), "{shown}");
    }

    #[test]
    fn lower_case_operators_and_broad_wildcards_warn() {
        let parsed = parse("gas and power").expect("parses");
        assert_eq!(parsed.warnings.len(), 1);
        assert!(parsed.warnings[0].contains("\"and\" at column 5"), "{:?}", parsed.warnings);
        assert!(parse("*tion").expect("parses").warnings[0].contains("starts with a wildcard"));
        assert!(parse("ab*").expect("parses").warnings[0].contains("over-broad"));
        assert!(parse("contract*").expect("parses").warnings.is_empty());
    }

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(parse_date("1970-01-02"), Some((86_400, 172_800)));
        assert_eq!(parse_date("2000-02-29").map(|d| iso(d.0)), Some("2000-02-29".to_owned()));
        assert_eq!(parse_date("2001-02-29"), None);
        assert_eq!(
            parse_date("2001-05-03T14:30:00Z").map(|d| iso(d.0)),
            Some("2001-05-03T14:30:00Z".to_owned())
        );
    }
}
