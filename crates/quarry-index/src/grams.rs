//! Common grams: each pair of adjacent words that involves a very common word is indexed as one
//! extra token (`"power the"`), at the first word's position, beside the words themselves.
//!
//! A phrase such as `"power the"` or `"in the matter of"` then reads the postings of rare pair
//! tokens instead of the positions of `the` in nearly every document (Lucene's
//! CommonGramsFilter does the same). The words keep their own positions, so proximity, single
//! words and wildcards are unaffected; wildcard and fuzzy expansion skip pair tokens (they hold
//! a space, which no word token can).

use tantivy::tokenizer::{Token, TokenFilter, TokenStream, Tokenizer};

/// Whether a (lower-cased, folded) word is common enough to be paired.
pub(crate) fn is_common(word: &str) -> bool {
    matches!(
        word,
        "a" | "an"
            | "and"
            | "are"
            | "as"
            | "at"
            | "be"
            | "by"
            | "for"
            | "from"
            | "has"
            | "have"
            | "i"
            | "in"
            | "is"
            | "it"
            | "of"
            | "on"
            | "or"
            | "that"
            | "the"
            | "this"
            | "to"
            | "was"
            | "we"
            | "will"
            | "with"
            | "you"
    )
}

/// The pair token of two adjacent words.
pub(crate) fn pair(first: &str, second: &str) -> String {
    format!("{first} {second}")
}

/// The filter: add after a word the pair token of the previous word and it, when either is
/// common and they are adjacent.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CommonGrams;

impl TokenFilter for CommonGrams {
    type Tokenizer<T: Tokenizer> = CommonGramsTokenizer<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> CommonGramsTokenizer<T> {
        CommonGramsTokenizer { inner: tokenizer }
    }
}

#[derive(Clone)]
pub(crate) struct CommonGramsTokenizer<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for CommonGramsTokenizer<T> {
    type TokenStream<'a> = CommonGramsStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        CommonGramsStream {
            tail: self.inner.token_stream(text),
            prev: None,
            prev_text: String::new(),
            pair: Token::default(),
            pair_pending: false,
            on_pair: false,
        }
    }
}

pub(crate) struct CommonGramsStream<T> {
    tail: T,
    /// Position, start offset and commonness of the previous word.
    prev: Option<(usize, usize, bool)>,
    prev_text: String,
    pair: Token,
    pair_pending: bool,
    on_pair: bool,
}

impl<T: TokenStream> TokenStream for CommonGramsStream<T> {
    fn advance(&mut self) -> bool {
        if self.pair_pending {
            self.pair_pending = false;
            self.on_pair = true;
            return true;
        }
        self.on_pair = false;
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token();
        let common = is_common(&token.text);
        if let Some((position, from, prev_common)) = self.prev
            && (common || prev_common)
            && token.position == position + 1
        {
            self.pair.text.clear();
            self.pair.text.push_str(&self.prev_text);
            self.pair.text.push(' ');
            self.pair.text.push_str(&token.text);
            self.pair.position = position;
            self.pair.position_length = 2;
            self.pair.offset_from = from;
            self.pair.offset_to = token.offset_to;
            self.pair_pending = true;
        }
        self.prev = Some((token.position, token.offset_from, common));
        self.prev_text.clear();
        self.prev_text.push_str(&token.text);
        true
    }

    fn token(&self) -> &Token {
        if self.on_pair { &self.pair } else { self.tail.token() }
    }

    fn token_mut(&mut self) -> &mut Token {
        if self.on_pair { &mut self.pair } else { self.tail.token_mut() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::tokenizer::{LowerCaser, SimpleTokenizer, TextAnalyzer};

    #[test]
    fn pairs_sit_at_the_first_words_position() {
        let mut analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(CommonGrams)
            .build();
        let mut stream = analyzer.token_stream("Power the Plant, market price of gas");
        let mut got = Vec::new();
        while stream.advance() {
            let t = stream.token();
            got.push((t.text.clone(), t.position));
        }
        let want: Vec<(String, usize)> = [
            ("power", 0),
            ("the", 1),
            ("power the", 0),
            ("plant", 2),
            ("the plant", 1),
            ("market", 3),
            ("price", 4),
            ("of", 5),
            ("price of", 4),
            ("gas", 6),
            ("of gas", 5),
        ]
        .iter()
        .map(|(t, p)| ((*t).to_owned(), *p))
        .collect();
        assert_eq!(got, want);
    }
}
