//! How text is split into words: runs of letters and digits, with the combining marks that
//! follow them, then put in Unicode's composed form (NFC).
//!
//! The same text can be written two ways: `ö` as one character (composed, what most systems
//! write) or as `o` followed by a combining diaeresis (decomposed: macOS file names, text
//! copied from some Mac applications and PDFs). tantivy's simple tokenizer splits on anything
//! that is not a letter or digit, and a combining mark is neither, so a decomposed `São Paulo`
//! became the words `sa`, `o` and `paulo`: a search for *São*, typed composed, missed it, and
//! a decomposed query missed every composed document. Scripts that write vowels as marks
//! (Devanagari, Tamil, Thai) were cut into fragments the same way. Marks now stay in their
//! word, and each word is composed before it is folded, so both forms give the same word.

use tantivy::tokenizer::{Token, TokenFilter, TokenStream, Tokenizer};
use unicode_normalization::{IsNormalized, UnicodeNormalization};

/// Splits text into runs of letters and digits and the combining marks within or after them.
#[derive(Clone, Default)]
pub(crate) struct WordTokenizer {
    token: Token,
}

pub(crate) struct WordStream<'a> {
    text: &'a str,
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    token: &'a mut Token,
}

/// Whether `c` continues a word: a letter or a digit, or a combining mark (never ASCII, so
/// ASCII text pays one comparison).
pub(crate) fn continues_word(c: char) -> bool {
    c.is_alphanumeric() || (!c.is_ascii() && unicode_normalization::char::is_combining_mark(c))
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream<'a> {
        self.token.reset();
        WordStream { text, chars: text.char_indices().peekable(), token: &mut self.token }
    }
}

impl TokenStream for WordStream<'_> {
    fn advance(&mut self) -> bool {
        self.token.text.clear();
        self.token.position = self.token.position.wrapping_add(1);
        // A word starts with a letter or digit (a mark with nothing before it is no word).
        while let Some((from, c)) = self.chars.next() {
            if !c.is_alphanumeric() {
                continue;
            }
            let mut to = from + c.len_utf8();
            while let Some(&(at, next)) = self.chars.peek() {
                if !continues_word(next) {
                    break;
                }
                to = at + next.len_utf8();
                self.chars.next();
            }
            self.token.offset_from = from;
            self.token.offset_to = to;
            self.token.text.push_str(&self.text[from..to]);
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// Puts each word in Unicode's composed form (NFC), so that the fold after it sees `ö` however
/// it was written.
#[derive(Clone)]
pub(crate) struct Composed;

impl TokenFilter for Composed {
    type Tokenizer<T: Tokenizer> = ComposedFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> ComposedFilter<T> {
        ComposedFilter { tokenizer }
    }
}

#[derive(Clone)]
pub(crate) struct ComposedFilter<T> {
    tokenizer: T,
}

impl<T: Tokenizer> Tokenizer for ComposedFilter<T> {
    type TokenStream<'a> = ComposedStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        ComposedStream { tail: self.tokenizer.token_stream(text) }
    }
}

pub(crate) struct ComposedStream<T> {
    tail: T,
}

impl<T: TokenStream> TokenStream for ComposedStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let text = &self.tail.token().text;
        if !text.is_ascii()
            && unicode_normalization::is_nfc_quick(text.chars()) != IsNormalized::Yes
        {
            let composed: String = text.nfc().collect();
            self.tail.token_mut().text = composed;
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    fn words(text: &str) -> Vec<(usize, usize, String)> {
        let mut out = Vec::new();
        crate::words(text, |start, end, word| out.push((start, end, word.to_owned())));
        out
    }

    fn plain(text: &str) -> Vec<String> {
        words(text).into_iter().map(|(_, _, w)| w).collect()
    }

    #[test]
    fn composed_and_decomposed_text_give_the_same_words() {
        let composed = "Die Frösche von São Paulo, Ångström";
        let decomposed: String =
            unicode_normalization::UnicodeNormalization::nfd(composed).collect();
        assert_ne!(composed, decomposed);
        let expected = ["die", "frosche", "von", "sao", "paulo", "angstrom"];
        assert_eq!(plain(composed), expected);
        assert_eq!(plain(&decomposed), expected);
        // Offsets are the text's own: the decomposed word is longer in bytes.
        let (start, end, _) = words(&decomposed)[3].clone();
        assert_eq!(&decomposed[start..end], "Sa\u{303}o");
    }

    #[test]
    fn marks_stay_in_their_words() {
        // Devanagari writes vowels as marks: one word, not three fragments.
        assert_eq!(plain("हिंदी भाषा"), ["हिंदी", "भाषा"]);
        // A mark with nothing before it is no word; one after punctuation starts none.
        assert_eq!(plain("\u{301}abc -\u{301} d"), ["abc", "d"]);
        // ASCII text is split as before.
        assert_eq!(plain("Hello, happy tax-payer! 42x"), ["hello", "happy", "tax", "payer", "42x"]);
    }
}
