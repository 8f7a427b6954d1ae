//! Snippets: a window of text around the first hit, the hit words marked.

use std::collections::HashSet;

use tantivy::tokenizer::TokenStream as _;

use crate::schema::words_analyzer;

/// A short extract of a document's text.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Snippet {
    /// The extract, line breaks turned to spaces.
    pub text: String,
    /// Byte ranges of `text` holding hit words.
    pub marks: Vec<(usize, usize)>,
}

impl Snippet {
    /// The extract with each hit wrapped in `open` and `close`.
    #[must_use]
    pub fn marked(&self, open: &str, close: &str) -> String {
        let mut out = String::with_capacity(self.text.len() + self.marks.len() * 4);
        let mut at = 0;
        for &(start, end) in &self.marks {
            out.push_str(&self.text[at..start]);
            out.push_str(open);
            out.push_str(&self.text[start..end]);
            out.push_str(close);
            at = end;
        }
        out.push_str(&self.text[at..]);
        out
    }
}

/// Byte ranges of every word of `text` in `highlight` (as the index tokenizes words), in
/// order: the search hits of a whole document, for marking them in review.
#[must_use]
pub fn hit_spans(text: &str, highlight: &HashSet<String>) -> Vec<(usize, usize)> {
    let mut analyzer = words_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut spans = Vec::new();
    while stream.advance() {
        let token = stream.token();
        if highlight.contains(&token.text) {
            spans.push((token.offset_from, token.offset_to));
        }
    }
    spans
}

/// A snippet of about `width` bytes of `text` around the first word in `highlight` (as the
/// index tokenizes words), those words marked; the start of the text when none occurs.
#[must_use]
pub fn snippet(text: &str, highlight: &HashSet<String>, width: usize) -> Snippet {
    let mut analyzer = words_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut hits: Vec<(usize, usize)> = Vec::new();
    let mut window_end = usize::MAX;
    while stream.advance() {
        let token = stream.token();
        if token.offset_from > window_end {
            break;
        }
        if highlight.contains(&token.text) {
            if hits.is_empty() {
                window_end = token.offset_from + width;
            }
            hits.push((token.offset_from, token.offset_to));
        }
    }
    let center = hits.first().map_or(0, |h| h.0);
    let mut start = floor_char(text, center.saturating_sub(width / 3));
    // Start and end at word boundaries.
    start = text[..start].rfind(char::is_whitespace).map_or(0, |space| space + 1);
    let mut end =
        floor_char(text, (start + width).min(text.len()).max(hits.first().map_or(0, |h| h.1)));
    end = text[end..].find(char::is_whitespace).map_or(text.len(), |space| end + space);
    let mut snippet = Snippet::default();
    let mut at = start;
    let clean = |s: &str| s.replace(['\r', '\n', '\t'], " ");
    for &(s, e) in hits.iter().filter(|h| h.0 >= start && h.1 <= end) {
        snippet.text.push_str(&clean(&text[at..s]));
        let from = snippet.text.len();
        snippet.text.push_str(&clean(&text[s..e]));
        snippet.marks.push((from, snippet.text.len()));
        at = e;
    }
    snippet.text.push_str(&clean(&text[at..end]));
    snippet
}

fn floor_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_hits_in_a_window() {
        let text = "Dear all,\nthe Contract for gas\nis attached. See the contract terms.";
        let highlight: HashSet<String> = ["contract".to_owned()].into();
        let s = snippet(text, &highlight, 40);
        assert_eq!(s.marked("[[", "]]"), "Dear all, the [[Contract]] for gas is attached.");
        let none = snippet(text, &HashSet::new(), 20);
        assert_eq!(none.text, "Dear all, the Contract");
        assert!(none.marks.is_empty());
    }
}
