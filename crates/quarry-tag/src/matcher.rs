//! The word matcher: many terms and phrases against a text in one pass.
//!
//! A byte automaton (Aho-Corasick) slows as its term list grows: its states stop fitting in
//! cache. Attorney names, firm names and privilege phrases are whole words, so this matcher
//! works a level up: it splits the text into words once, hashes each word, and looks the hash
//! up in a table of the words that end a pattern (a one-word pattern's word, a phrase's last
//! word). When a phrase's last word is found, the words before it are read again, backwards
//! from it, and their hashes looked up together, then their bytes checked. The cost per word
//! is a hash and, for the few words that pass a bit-set filter sized to stay in cache, one
//! table probe: nearly independent of the number of patterns. Common words inside phrases
//! ("privileged *and* confidential") are never looked up, and nothing is kept per word for
//! the phrases that might end later: the few phrase-ending words pay for the walk back.
//!
//! Words are the index's words ([`quarry_index::words`]): split on anything that is not a
//! letter or digit, lower-cased, ASCII-folded. Runs of ASCII letters and digits, nearly every
//! word of English text, take a fast path that lower-cases while hashing; a run with any
//! non-ASCII byte goes through the index's own analyzer. A term therefore hits exactly where a
//! search for it would.
//!
//! Two refinements of a plain word sequence:
//! - exact separators (`Gaps::Exact`): an email address or domain matches only with its own
//!   punctuation between the words (`r.sanders@enron.com` does not match `r sanders enron com`);
//! - a trailing wildcard (`privilege*`) on a one-word pattern: every word starting with it.

use std::ops::Range;

/// Longest pattern, in words.
pub const MAX_WORDS: usize = 16;

/// What the matcher reports to.
pub trait Sink {
    /// Pattern `pattern` matched `start..end` (bytes of the text). `pattern` is the pattern's
    /// position, or its label when the matcher was built by [`Matcher::labelled`].
    fn hit(&mut self, pattern: u32, start: usize, end: usize);
    /// A paragraph ended: its hash (over its words), its number of words and its byte range.
    /// Called only when paragraphs are asked for.
    fn paragraph(&mut self, _hash: u64, _words: u32, _range: Range<usize>) {}
}

/// How a pattern's words must be separated in the text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Gaps {
    /// Any run of non-word characters: a phrase (`attorney client` matches
    /// `Attorney-Client` and `attorney/client`).
    Any,
    /// Exactly these separators, compared ignoring ASCII case (one fewer than the words).
    Exact(Vec<String>),
}

/// One pattern, as given to [`Matcher::new`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pattern {
    /// Its words, normalized (lower-case, folded).
    pub words: Vec<String>,
    /// How the words are separated.
    pub gaps: Gaps,
    /// A one-word prefix pattern (`privilege*`).
    pub prefix: bool,
}

impl Pattern {
    /// The pattern of a term as written: its words as the index sees them, separated by
    /// anything (a phrase), or with `exact` by the term's own separators (addresses and
    /// domains). A term ending in `*` with one word is a prefix. `None` when the term has no
    /// words.
    #[must_use]
    pub fn parse(term: &str, exact: bool) -> Option<Pattern> {
        let (body, prefix) = match term.trim().strip_suffix('*') {
            Some(body) => (body, true),
            None => (term.trim(), false),
        };
        let mut words = Vec::new();
        let mut ends = Vec::new();
        quarry_index::words(body, |start, end, word| {
            words.push(word.to_owned());
            ends.push((start, end));
        });
        if words.is_empty() {
            return None;
        }
        let gaps = if exact && words.len() > 1 {
            Gaps::Exact(ends.windows(2).map(|w| body[w[0].1..w[1].0].to_owned()).collect())
        } else {
            Gaps::Any
        };
        Some(Pattern { words, gaps, prefix })
    }
}

/// A slot of the phrase table: 32 bits of the phrase's hash (never 0) and where its record
/// starts in `phrase_checks`. The record is read for every tag that matches, so the tag need
/// not be the whole hash.
#[derive(Clone, Copy, Default)]
struct PhraseSlot {
    tag: u32,
    check: u32,
}

/// Flag of a phrase record: its separators are exact ([`Gaps::Exact`]).
const EXACT_GAPS: u8 = 1;

/// A table slot: a word that completes a pattern, with all that finding it needs, so a word of
/// the text costs one probe (with 100,000 terms the table is out of L2 cache, and a separate
/// array of details was a second miss after the slot's). 32 bytes, aligned so that a slot
/// never straddles two cache lines.
#[derive(Clone, Copy, Default)]
#[repr(align(32))]
struct Slot {
    /// 32 bits of the word's hash; never 0, which marks an empty slot.
    tag: u32,
    /// The word's id, for its text in the arena when it is longer than [`INLINE`].
    word: u32,
    /// The one-word pattern of this word (`singles_len` 1), or the start of its patterns in
    /// `singles`.
    single: u32,
    singles_len: u16,
    /// Bit `n - 1`: a pattern of `n` > 1 words ends with this word.
    lengths: u16,
    /// The word's length, and the word itself when it fits.
    len: u8,
    inline: [u8; INLINE],
}

const INLINE: usize = 15;

struct Compiled {
    words: Box<[u32]>,
    gaps: Option<Box<[Box<[u8]>]>>,
}

/// Patterns compiled for matching. Immutable and shared by all threads.
pub struct Matcher {
    /// Bit set over hashes of pattern words.
    filter: Box<[u64]>,
    filter_shift: u32,
    /// Whether a word sets two bits of its block ([`TwoBits`]) or one ([`OneBit`]).
    two_bits: bool,
    /// Open addressing, linear probing, indexed by the top bits of the hash.
    slots: Box<[Slot]>,
    slot_mask: usize,
    slot_shift: u32,
    /// Whether the table is too large for L2 cache: words that pass the filter are then
    /// looked up [`DEFER`] at a time, their slots loaded together first so that the cache
    /// misses overlap instead of following one another.
    defer: bool,
    /// Text of each distinct word, back to back, for checking a hash hit: word `i` is
    /// `arena[offsets[i]..offsets[i + 1]]`.
    arena: Vec<u8>,
    offsets: Vec<u32>,
    /// One-word patterns of words that have several.
    singles: Vec<u32>,
    /// Patterns of several words by the hash of their words' hashes ([`seq_hash`]): open
    /// addressing, linear probing; a tag of 0 marks an empty slot.
    phrases: Box<[PhraseSlot]>,
    phrase_shift: u32,
    /// What checking a phrase found by its hash needs, one record per phrase, so that the
    /// check reads one place rather than the pattern, its word ids, their offsets and the
    /// arena in turn (at 100,000 terms each of those is a cache miss): its label and its pattern
    /// (u32 each, little endian), its number of words, whether its separators are exact
    /// ([`EXACT_GAPS`]), then each word but the last as a length byte and the word.
    phrase_checks: Vec<u8>,
    /// Bit set over the phrases' hashes: most runs of pattern words (a first and a last name
    /// that are both in some pattern) are not a pattern, and are turned away here.
    phrase_filter: Box<[u64]>,
    phrase_filter_shift: u32,
    patterns: Vec<Compiled>,
    /// Prefix patterns: bit set over the first three bytes, then the prefixes themselves.
    prefix_filter: Box<[u64]>,
    prefixes: Vec<(Box<str>, u32)>,
}

/// Per-thread scratch space of a scan.
#[derive(Default)]
pub struct Scratch {
    folded: Vec<(usize, usize, String)>,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("patterns", &self.patterns.len())
            .field("words", &(self.offsets.len() - 1))
            .field("prefixes", &self.prefixes.len())
            .field("deferred", &self.defer)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch").finish_non_exhaustive()
    }
}

impl Matcher {
    /// Compiles patterns; hits report a pattern by its position in `patterns`.
    ///
    /// # Panics
    /// On a pattern with no words or more than [`MAX_WORDS`], or a multi-word prefix:
    /// [`crate::Rules`] refuses those with a message first.
    #[must_use]
    pub fn new(patterns: &[Pattern]) -> Matcher {
        let positions: Vec<u32> = (0..patterns.len() as u32).collect();
        Matcher::labelled(patterns, &positions)
    }

    /// Compiles patterns whose hits report `labels[i]` for `patterns[i]` (the rule a pattern
    /// counts for, say). The label is stored where the pattern is found, so that a caller
    /// does not look each hit's pattern up in a table of its own: with 100,000 patterns that
    /// lookup was a cache miss per hit.
    ///
    /// # Panics
    /// As [`Matcher::new`], and when `labels` is not as long as `patterns`.
    #[must_use]
    pub fn labelled(patterns: &[Pattern], labels: &[u32]) -> Matcher {
        assert_eq!(patterns.len(), labels.len(), "a label per pattern");
        let mut ids: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let mut words: Vec<Box<str>> = Vec::new();
        let mut compiled = Vec::with_capacity(patterns.len());
        let mut prefixes = Vec::new();
        for (index, pattern) in patterns.iter().enumerate() {
            assert!(
                !pattern.words.is_empty() && pattern.words.len() <= MAX_WORDS,
                "pattern of {} words",
                pattern.words.len()
            );
            if pattern.prefix {
                assert_eq!(pattern.words.len(), 1, "a prefix pattern has one word");
                prefixes.push((pattern.words[0].clone().into_boxed_str(), labels[index]));
                compiled.push(Compiled { words: Box::new([]), gaps: None });
                continue;
            }
            let mut seq = Vec::with_capacity(pattern.words.len());
            for word in &pattern.words {
                let id = *ids.entry(word.as_str()).or_insert_with(|| {
                    words.push(word.clone().into_boxed_str());
                    (words.len() - 1) as u32
                });
                seq.push(id);
            }
            let gaps = match &pattern.gaps {
                Gaps::Any => None,
                Gaps::Exact(gaps) => {
                    assert_eq!(gaps.len() + 1, seq.len(), "one separator between two words");
                    Some(gaps.iter().map(|g| g.as_bytes().into()).collect())
                }
            };
            compiled.push(Compiled { words: seq.into(), gaps });
        }

        // One-word patterns by their word; longer ones by the hash of their words, with the
        // lengths that end with each word.
        let mut by_word: Vec<Vec<u32>> = vec![Vec::new(); words.len()];
        let mut lengths = vec![0u16; words.len()];
        let mut long: Vec<(u64, u32)> = Vec::new();
        for (index, p) in compiled.iter().enumerate() {
            match p.words.len() {
                0 => {}
                1 => by_word[p.words[0] as usize].push(labels[index]),
                n => {
                    let last = p.words[n - 1] as usize;
                    lengths[last] |= 1 << (n - 1);
                    let hashes = p.words.iter().map(|&w| hash_word(words[w as usize].as_bytes()));
                    long.push((seq_hash(hashes), index as u32));
                }
            }
        }
        let mut singles = Vec::new();
        let phrase_capacity = (long.len() * 2).next_power_of_two().max(16);
        let phrase_shift = 64 - phrase_capacity.trailing_zeros();
        let mut phrases = vec![PhraseSlot::default(); phrase_capacity].into_boxed_slice();
        let mut phrase_checks = Vec::new();
        // 8 to 16 bits per phrase: a phrase's last word is probed here for each phrase length
        // it ends, and a filter that stays in L2 cache turns the rest away cheaper than a
        // larger one that lets fewer through (cachegrind, 100,000 terms: a tenth fewer misses
        // in the scan than with 16 to 32 bits).
        let phrase_bits = (long.len() * 8).next_power_of_two().clamp(1 << 12, 1 << 22);
        let phrase_filter_shift = 64 - phrase_bits.trailing_zeros();
        let mut phrase_filter = vec![0u64; phrase_bits / 64].into_boxed_slice();
        for &(hash, _) in &long {
            let bit = (hash >> phrase_filter_shift) as usize;
            phrase_filter[bit / 64] |= 1 << (bit % 64);
        }
        for (hash, pattern) in long {
            let p = &compiled[pattern as usize];
            let head = &p.words[..p.words.len() - 1];
            if head.iter().any(|&w| words[w as usize].len() > usize::from(u8::MAX)) {
                // Never in a text: the index drops words of 100 bytes or more, and folding
                // does not make one longer than 255.
                continue;
            }
            let mut at = (hash >> phrase_shift) as usize;
            while phrases[at].tag != 0 {
                at = (at + 1) & (phrase_capacity - 1);
            }
            let check = u32::try_from(phrase_checks.len()).expect("phrase records under 4 GiB");
            phrases[at] = PhraseSlot { tag: tag(hash), check };
            let flags = if p.gaps.is_some() { EXACT_GAPS } else { 0 };
            phrase_checks.extend_from_slice(&labels[pattern as usize].to_le_bytes());
            phrase_checks.extend_from_slice(&pattern.to_le_bytes());
            phrase_checks.extend_from_slice(&[p.words.len() as u8, flags]);
            for &w in head {
                let word = words[w as usize].as_bytes();
                phrase_checks.push(word.len() as u8);
                phrase_checks.extend_from_slice(word);
            }
        }
        let mut arena = Vec::new();
        let mut offsets = vec![0u32];
        for word in &words {
            arena.extend_from_slice(word.as_bytes());
            offsets.push(arena.len() as u32);
        }

        // Only words that complete a pattern are looked up (and in the filter); the words
        // before a pattern's last word are read back and checked when it arrives.
        let completes = |id: usize| !by_word[id].is_empty() || lengths[id] != 0;
        let looked_up = (0..words.len()).filter(|&id| completes(id)).count();
        // The filter: while it fits in L1 cache ([`ONE_BIT_MAX`] bits, 32 KiB), one bit per
        // word and 64 to 128 bits per word, which let about 1 in 60 to 120 other words
        // through to the table. Past that, two bits per word in 16 to 32 bits per word, which
        // let about as few through in a quarter of the space: at 100,000 terms the filter must
        // stay in L2 cache beside the tables, or words of the text pay a miss to test it
        // (cachegrind with a 512 KiB L2, per 32 MB scanned: 413,000 misses with 2^21 bits and
        // 8,700 with 2^19, for 25,764 words).
        let (bits, two_bits) = if looked_up * 64 <= ONE_BIT_MAX {
            ((looked_up * 64).next_power_of_two().max(1 << 15), false)
        } else {
            ((looked_up * 16).next_power_of_two().min(1 << 23), true)
        };
        // Indexed by 64-bit block: the shift keeps the top bits that number the blocks.
        let filter_shift = 64 - (bits / 64).trailing_zeros();
        let mut filter = vec![0u64; bits / 64].into_boxed_slice();
        let capacity = (looked_up * 2).next_power_of_two().max(16);
        let mut slots = vec![Slot::default(); capacity].into_boxed_slice();
        let slot_mask = capacity - 1;
        let slot_shift = 64 - capacity.trailing_zeros();
        for (id, word) in words.iter().enumerate() {
            if !completes(id) {
                continue;
            }
            let hash = hash_word(word.as_bytes());
            filter[(hash >> filter_shift) as usize] |=
                if two_bits { TwoBits::bits(hash) } else { OneBit::bits(hash) };
            let own = &by_word[id];
            let single = match own.as_slice() {
                [one] => *one,
                _ => {
                    singles.extend_from_slice(own);
                    (singles.len() - own.len()) as u32
                }
            };
            let mut inline = [0u8; INLINE];
            let bytes = word.as_bytes();
            if bytes.len() <= INLINE {
                inline[..bytes.len()].copy_from_slice(bytes);
            }
            let mut at = (hash >> slot_shift) as usize;
            while slots[at].tag != 0 {
                at = (at + 1) & slot_mask;
            }
            slots[at] = Slot {
                tag: tag(hash),
                word: id as u32,
                single,
                singles_len: own.len() as u16,
                lengths: lengths[id],
                len: bytes.len().min(255) as u8,
                inline,
            };
        }
        let mut prefix_filter = vec![0u64; PREFIX_BITS / 64].into_boxed_slice();
        for (prefix, _) in &prefixes {
            let bit = prefix_key(prefix.as_bytes());
            prefix_filter[bit / 64] |= 1 << (bit % 64);
        }
        Matcher {
            filter,
            filter_shift,
            two_bits,
            slots,
            slot_mask,
            slot_shift,
            defer: capacity * std::mem::size_of::<Slot>() > DEFER_ABOVE,
            arena,
            offsets,
            singles,
            phrases,
            phrase_shift,
            phrase_checks,
            phrase_filter,
            phrase_filter_shift,
            patterns: compiled,
            prefix_filter,
            prefixes,
        }
    }

    /// Number of patterns.
    #[must_use]
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether there are no patterns.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Finds every pattern in `text`, overlapping matches included, in text order of their
    /// last word. With `paragraphs`, also reports each paragraph (words up to a blank line).
    pub fn scan(&self, text: &str, paragraphs: bool, scratch: &mut Scratch, sink: &mut impl Sink) {
        if self.two_bits {
            self.scan_with::<TwoBits>(text, paragraphs, scratch, sink);
        } else {
            self.scan_with::<OneBit>(text, paragraphs, scratch, sink);
        }
    }

    /// [`Matcher::scan`] with the filter's probe compiled in.
    #[inline(always)]
    fn scan_with<P: Probe>(
        &self,
        text: &str,
        paragraphs: bool,
        scratch: &mut Scratch,
        sink: &mut impl Sink,
    ) {
        let bytes = text.as_bytes();
        let mut folded = std::mem::take(&mut scratch.folded);
        let mut state = State {
            para: ParagraphState::default(),
            paragraphs,
            pending: [(0, 0, 0); DEFER],
            queued: 0,
        };
        let mut prev_end = 0usize;
        let mut newlines = 0u32; // line feeds since the last word

        // Words are found 64 bytes at a time: a bit mask of the bytes that belong to words,
        // whose rising edges are word starts and falling edges word ends, so the loop
        // branches once per word, not once per byte. A mask of line feeds counts those
        // between two words: two or more end a paragraph.
        let mut open: Option<(usize, bool)> = None; // a word not ended yet: start, all ASCII
        let mut gap_from = 0u32; // where the current gap began in this block
        let mut block_start = 0usize;
        while block_start < bytes.len() {
            let block = &bytes[block_start..bytes.len().min(block_start + 64)];
            let base = block_start;
            block_start += 64;
            let (word, high, feeds) = masks(block);
            let carry = u64::from(open.is_some());
            let mut starts = word & !((word << 1) | carry);
            let mut ends = !word & ((word << 1) | carry);
            loop {
                if let Some((start, ascii)) = open {
                    // The word's bytes in this block start here: a non-ASCII byte among them
                    // (never outside a word) makes it a word for the analyzer.
                    let from = || if start >= base { (start - base) as u32 } else { 0 };
                    if ends == 0 {
                        // Runs on into the next block.
                        let ascii = ascii && (high == 0 || high & range(from(), 64) == 0);
                        open = Some((start, ascii));
                        break;
                    }
                    let at = ends.trailing_zeros();
                    ends &= ends - 1;
                    let end = base + at as usize;
                    open = None;
                    gap_from = at;
                    if paragraphs && newlines >= 2 && state.para.words > 0 {
                        self.drain(text, &mut state, sink);
                        state.para.finish(prev_end, sink);
                    }
                    newlines = 0;
                    prev_end = end;
                    let ascii = ascii && (high == 0 || high & range(from(), at) == 0);
                    self.word::<P>(text, start, end, ascii, &mut folded, &mut state, sink);
                }
                if starts == 0 {
                    if feeds != 0 {
                        newlines += at_most_two(feeds & range(gap_from, 64));
                    }
                    gap_from = 0;
                    break;
                }
                let at = starts.trailing_zeros();
                starts &= starts - 1;
                if feeds != 0 {
                    newlines += at_most_two(feeds & range(gap_from, at));
                }
                open = Some((base + at as usize, true));
            }
        }
        if let Some((start, ascii)) = open {
            // The text ends inside a word (its last block had no byte after it).
            if paragraphs && newlines >= 2 && state.para.words > 0 {
                self.drain(text, &mut state, sink);
                state.para.finish(prev_end, sink);
            }
            prev_end = bytes.len();
            self.word::<P>(text, start, bytes.len(), ascii, &mut folded, &mut state, sink);
        }
        self.drain(text, &mut state, sink);
        if paragraphs && state.para.words > 0 {
            state.para.finish(prev_end, sink);
        }
        scratch.folded = folded;
    }

    /// One run of word bytes at `start..end`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn word<P: Probe>(
        &self,
        text: &str,
        start: usize,
        end: usize,
        ascii: bool,
        folded: &mut Vec<(usize, usize, String)>,
        state: &mut State,
        sink: &mut impl Sink,
    ) {
        let bytes = text.as_bytes();
        if !ascii {
            self.drain(text, state, sink);
            self.folded_words::<P>(text, start, end, folded, state, sink);
            return;
        }
        if end - start >= MAX_WORD {
            return;
        }
        let hash = hash_at(bytes, start, end);
        if state.paragraphs {
            state.para.add(start, hash);
        }
        if self.passes::<P>(hash) {
            if self.defer {
                state.pending[state.queued] = (hash, start, end);
                state.queued += 1;
                if state.queued == DEFER {
                    self.drain(text, state, sink);
                }
            } else {
                let seen = Seen { hash, start, end, folded: false };
                let before = Before { run_start: start, in_run: &[] };
                self.table_word(text, &bytes[start..end], seen, true, before, sink);
            }
        }
        if !self.prefixes.is_empty() && end - start >= 3 && self.may_prefix(&bytes[start..end]) {
            self.drain(text, state, sink);
            self.prefix_word(&bytes[start..end], start, end, sink);
        }
    }

    /// A run with non-ASCII characters: the index's own analyzer splits, lower-cases and
    /// folds it into words.
    #[inline(never)]
    fn folded_words<P: Probe>(
        &self,
        text: &str,
        start: usize,
        end: usize,
        folded: &mut Vec<(usize, usize, String)>,
        state: &mut State,
        sink: &mut impl Sink,
    ) {
        folded.clear();
        quarry_index::words(&text[start..end], |s, e, word| {
            folded.push((start + s, start + e, word.to_owned()));
        });
        for (i, (s, e, word)) in folded.iter().enumerate() {
            let key = word.as_bytes();
            let hash = hash_word(key);
            if state.paragraphs {
                state.para.add(*s, hash);
            }
            if self.passes::<P>(hash) {
                let seen = Seen { hash, start: *s, end: *e, folded: true };
                let before = Before { run_start: start, in_run: &folded[..i] };
                self.table_word(text, key, seen, false, before, sink);
            }
            if !self.prefixes.is_empty() && key.len() >= 3 && self.may_prefix(key) {
                self.prefix_word(key, *s, *e, sink);
            }
        }
    }

    /// Looks up the words [`Matcher::defer`] queued, if any. Called before anything else
    /// reports to the sink, so hits still come in text order and before their paragraph.
    #[inline(always)]
    fn drain(&self, text: &str, state: &mut State, sink: &mut impl Sink) {
        if state.queued > 0 {
            self.drain_queued(text, state, sink);
        }
    }

    /// [`Matcher::drain`]: first a load of each queued word's slot, all independent of one
    /// another so that their cache misses overlap, then each word in text order as
    /// [`Matcher::table_word`] would have taken it.
    #[inline(never)]
    fn drain_queued(&self, text: &str, state: &mut State, sink: &mut impl Sink) {
        let pending = &state.pending[..state.queued];
        let mut touched = 0u32;
        for &(hash, _, _) in pending {
            touched |= self.slots[(hash >> self.slot_shift) as usize].tag;
        }
        std::hint::black_box(touched);
        for &(hash, start, end) in pending {
            let seen = Seen { hash, start, end, folded: false };
            let before = Before { run_start: start, in_run: &[] };
            self.table_word(text, &text.as_bytes()[start..end], seen, true, before, sink);
        }
        state.queued = 0;
    }

    /// Whether a word's hash passes the filter: its bits are set in its block.
    #[inline(always)]
    fn passes<P: Probe>(&self, hash: u64) -> bool {
        let bits = P::bits(hash);
        self.filter[(hash >> self.filter_shift) as usize] & bits == bits
    }

    /// A word of the text that passed the filter: look its normalized form `key` up (`fold`
    /// when `key` is the text itself and still needs lower-casing); if it completes patterns,
    /// report them. `before` says where the words before it are.
    #[inline(never)]
    fn table_word(
        &self,
        text: &str,
        key: &[u8],
        seen: Seen,
        fold: bool,
        before: Before<'_>,
        sink: &mut impl Sink,
    ) {
        let (start, end) = (seen.start, seen.end);
        let Some(info) = self.lookup(seen.hash, key, fold) else { return };
        match info.singles_len {
            0 => {}
            1 => sink.hit(info.single, start, end),
            n => {
                let from = info.single as usize;
                for &p in &self.singles[from..from + n as usize] {
                    sink.hit(p, start, end);
                }
            }
        }
        match info.lengths {
            0 => {}
            // Most phrases are short (names): a small array to fill.
            lengths if lengths < 1 << 4 => self.phrases::<4>(text, seen, before, lengths, sink),
            lengths => self.phrases::<MAX_WORDS>(text, seen, before, lengths, sink),
        }
    }

    /// Phrases of the `lengths` (bit `n - 1` for `n` words, `n <= N`) that may end with the
    /// word `seen`.
    fn phrases<const N: usize>(
        &self,
        text: &str,
        seen: Seen,
        before: Before<'_>,
        mut lengths: u16,
        sink: &mut impl Sink,
    ) {
        // The words of the longest phrase that may end here, this one first.
        let mut words = [Seen::default(); N];
        words[0] = seen;
        let longest = 16 - lengths.leading_zeros() as usize;
        let found = 1 + preceding(text, before, &mut words[1..longest]);
        while lengths != 0 {
            let len = lengths.trailing_zeros() as usize + 1;
            lengths &= lengths - 1;
            if len <= found {
                self.phrases_ending(text, &words[..len], sink);
            }
        }
    }

    /// Patterns of `words.len()` words: `words` are the text's, the last one first.
    fn phrases_ending(&self, text: &str, words: &[Seen], sink: &mut impl Sink) {
        let len = words.len();
        let end = words[0].end;
        let hash = seq_hash(words.iter().rev().map(|w| w.hash));
        let bit = (hash >> self.phrase_filter_shift) as usize;
        if self.phrase_filter[bit / 64] & (1 << (bit % 64)) == 0 {
            return;
        }
        let mask = self.phrases.len() - 1;
        let mut at = (hash >> self.phrase_shift) as usize;
        let tag = tag(hash);
        loop {
            let slot = self.phrases[at];
            at = (at + 1) & mask;
            if slot.tag == 0 {
                break;
            }
            if slot.tag != tag {
                continue;
            }
            let record = &self.phrase_checks[slot.check as usize..];
            let (count, flags) = (usize::from(record[8]), record[9]);
            if count != len {
                continue;
            }
            // Word k of the pattern is `words[len - 1 - k]`; the words before the last were
            // not looked up, so their bytes are checked here.
            let mut rest = &record[10..];
            let matched = (0..len - 1).all(|k| {
                let n = usize::from(rest[0]);
                let (word, after) = rest[1..].split_at(n);
                rest = after;
                Self::same_text(text, &words[len - 1 - k], word)
            });
            if !matched {
                continue;
            }
            if flags & EXACT_GAPS != 0 {
                let p = u32::from_le_bytes(record[4..8].try_into().expect("4 bytes"));
                let gaps = self.patterns[p as usize].gaps.as_ref().expect("exact separators");
                let ok = gaps.iter().enumerate().all(|(k, gap)| {
                    let a = words[len - 1 - k].end;
                    let b = words[len - 2 - k].start;
                    text.as_bytes()[a..b].eq_ignore_ascii_case(gap)
                });
                if !ok {
                    continue;
                }
            }
            let label = u32::from_le_bytes(record[..4].try_into().expect("4 bytes"));
            sink.hit(label, words[len - 1].start, end);
        }
    }

    /// Whether a word of the text is the pattern word `expected`.
    fn same_text(text: &str, seen: &Seen, expected: &[u8]) -> bool {
        let found = &text[seen.start..seen.end];
        if !seen.folded {
            return found.as_bytes().eq_ignore_ascii_case(expected);
        }
        let mut same = false;
        quarry_index::words(found, |_, _, normal| same = normal.as_bytes() == expected);
        same
    }

    /// Prefix patterns (`privilege*`) the word starts with; for words that
    /// [`Matcher::may_prefix`] lets through.
    #[inline]
    fn prefix_word(&self, key: &[u8], start: usize, end: usize, sink: &mut impl Sink) {
        for (prefix, pattern) in &self.prefixes {
            let p = prefix.as_bytes();
            if key.len() >= p.len() && key[..p.len()].eq_ignore_ascii_case(p) {
                sink.hit(*pattern, start, end);
            }
        }
    }

    /// Whether a word of three bytes or more may start with a prefix pattern.
    #[inline]
    fn may_prefix(&self, key: &[u8]) -> bool {
        let k = prefix_key(&key[..3]);
        self.prefix_filter[k / 64] & (1 << (k % 64)) != 0
    }

    #[inline]
    fn lookup(&self, hash: u64, word: &[u8], fold: bool) -> Option<&Slot> {
        let mut at = (hash >> self.slot_shift) as usize;
        let tag = tag(hash);
        loop {
            let slot = &self.slots[at];
            if slot.tag == 0 {
                return None;
            }
            if slot.tag == tag && usize::from(slot.len) == word.len() {
                let text = if word.len() <= INLINE {
                    &slot.inline[..word.len()]
                } else {
                    let w = slot.word as usize;
                    &self.arena[self.offsets[w] as usize..self.offsets[w + 1] as usize]
                };
                let same = if fold { word.eq_ignore_ascii_case(text) } else { word == text };
                if same {
                    return Some(slot);
                }
            }
            at = (at + 1) & self.slot_mask;
        }
    }
}

/// A word seen: its hash, where it is, and whether the analyzer folded it.
#[derive(Clone, Copy, Default)]
struct Seen {
    hash: u64,
    start: usize,
    end: usize,
    folded: bool,
}

/// Where the words before a word of the text are: first the words before it in its own run of
/// word bytes (a run with non-ASCII characters, which the analyzer split), nearest last, then
/// the runs that end before `run_start`.
#[derive(Clone, Copy)]
struct Before<'a> {
    run_start: usize,
    in_run: &'a [(usize, usize, String)],
}

/// Fills `out` with the words before a word, as the forward scan sees them, nearest first:
/// runs of word bytes read backwards from `before.run_start`, an ASCII run one word (dropped
/// at [`MAX_WORD`] bytes), any other run split by the index's analyzer. Returns how many it
/// found: fewer than `out.len()` only at the start of the text.
///
/// Called only for a word that ends some phrase, so the scan keeps nothing per word for the
/// phrases that might end later. A run is analyzed whole, at most once per call, and only a
/// phrase's length of words back, so a text pays at most [`MAX_WORDS`] times its length here.
fn preceding(text: &str, before: Before<'_>, out: &mut [Seen]) -> usize {
    let mut n = 0;
    for &(start, end, ref word) in before.in_run.iter().rev() {
        if n == out.len() {
            return n;
        }
        out[n] = Seen { hash: hash_word(word.as_bytes()), start, end, folded: true };
        n += 1;
    }
    let bytes = text.as_bytes();
    let mut at = before.run_start;
    let mut run = Vec::new();
    while n < out.len() {
        while at > 0 && !is_word_byte(bytes[at - 1]) {
            at -= 1;
        }
        if at == 0 {
            break;
        }
        let end = at;
        let mut ascii = true;
        while at > 0 && is_word_byte(bytes[at - 1]) {
            at -= 1;
            ascii &= bytes[at] < 0x80;
        }
        if ascii {
            if end - at < MAX_WORD {
                out[n] = Seen { hash: hash_at(bytes, at, end), start: at, end, folded: false };
                n += 1;
            }
            continue;
        }
        run.clear();
        quarry_index::words(&text[at..end], |s, e, word| {
            run.push(Seen {
                hash: hash_word(word.as_bytes()),
                start: at + s,
                end: at + e,
                folded: true,
            });
        });
        for &seen in run.iter().rev() {
            if n == out.len() {
                break;
            }
            out[n] = seen;
            n += 1;
        }
    }
    n
}

/// Whether a byte belongs to a run of word bytes, as [`masks`] sorts them.
#[inline(always)]
fn is_word_byte(b: u8) -> bool {
    WORD_BYTES[usize::from(b)]
}

/// [`is_word_byte`] by table: ASCII letters and digits, and every byte of a non-ASCII
/// character.
static WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c >= 0x80;
        b += 1;
    }
    table
};

/// The running state of one scan.
struct State {
    para: ParagraphState,
    paragraphs: bool,
    /// Words that passed the filter, not looked up yet ([`Matcher::defer`]): hash, start, end.
    pending: [(u64, usize, usize); DEFER],
    queued: usize,
}

/// Words looked up together when the table is deferred ([`Matcher::defer`]).
const DEFER: usize = 16;

/// Tables larger than this many bytes are deferred: the L2 cache per core of the machine the
/// figures in docs/BENCHMARKS.md come from. Smaller tables stay in L2, and gain nothing.
const DEFER_ABOVE: usize = 512 << 10;

/// ASCII words of this many bytes or more are dropped, as the index's analyzer drops them
/// (tantivy's `RemoveLongFilter` keeps words shorter than its limit).
const MAX_WORD: usize = 100;

/// Masks of a block of up to 64 bytes: bytes of words (ASCII letters and digits, and every
/// byte of a non-ASCII character, which the analyzer sorts out), non-ASCII bytes, and line
/// feeds.
///
/// Written for the compiler to vectorize without `unsafe`: a byte of flags per input byte
/// (vector compares), then each eight flag bytes packed into eight bits by one multiply (the
/// flag is bit 7 of each byte; the multiplier moves bit 7 of byte `i` to bit `56 + i`).
/// Measured: 8 GB/s here, against 0.8 GB/s for a loop that shifts each flag into place.
#[inline(always)]
fn masks(block: &[u8]) -> (u64, u64, u64) {
    let mut full = [b' '; 64];
    let block: &[u8; 64] = match <&[u8; 64]>::try_from(block) {
        Ok(block) => block,
        Err(_) => {
            full[..block.len()].copy_from_slice(block);
            &full
        }
    };
    let mut flags = [0u8; 64];
    for (flag, &b) in flags.iter_mut().zip(block) {
        let is_alpha = (b | 0x20).wrapping_sub(b'a') < 26;
        let is_digit = b.wrapping_sub(b'0') < 10;
        *flag = (u8::from(is_alpha | is_digit) << 7) | (b & 0x80);
    }
    let mut feed = [0u8; 64];
    for (flag, &b) in feed.iter_mut().zip(block) {
        *flag = u8::from(b == b'\n') << 7;
    }
    let mut word = 0u64;
    let mut high = 0u64;
    let mut feeds = 0u64;
    for k in 0..8 {
        let f = u64::from_le_bytes(flags[8 * k..8 * k + 8].try_into().expect("8 bytes"));
        let h = u64::from_le_bytes(block[8 * k..8 * k + 8].try_into().expect("8 bytes")) & HIGH;
        let n = u64::from_le_bytes(feed[8 * k..8 * k + 8].try_into().expect("8 bytes"));
        word |= (f.wrapping_mul(PACK) >> 56) << (8 * k);
        high |= (h.wrapping_mul(PACK) >> 56) << (8 * k);
        feeds |= (n.wrapping_mul(PACK) >> 56) << (8 * k);
    }
    (word, high, feeds)
}

const HIGH: u64 = 0x8080_8080_8080_8080;
const PACK: u64 = 0x0002_0408_1020_4081;

/// Bits `from..to` of a u64 (`from` < 64, `to` <= 64).
#[inline(always)]
fn range(from: u32, to: u32) -> u64 {
    if to <= from {
        return 0;
    }
    (u64::MAX << from) & (u64::MAX >> (64 - to))
}

/// The number of bits set, up to 2 (what paragraph breaks need, without a popcount, which
/// baseline x86-64 lacks).
#[inline(always)]
fn at_most_two(x: u64) -> u32 {
    u32::from(x != 0) + u32::from(x & x.wrapping_sub(1) != 0)
}

#[derive(Default)]
struct ParagraphState {
    hash: u64,
    words: u32,
    start: usize,
}

impl ParagraphState {
    #[inline]
    fn add(&mut self, start: usize, word: u64) {
        if self.words == 0 {
            self.start = start;
            self.hash = 0x243F_6A88_85A3_08D3;
        }
        self.hash = self.hash.rotate_left(7) ^ word;
        self.words += 1;
    }

    fn finish(&mut self, end: usize, sink: &mut impl Sink) {
        sink.paragraph(mix(self.hash ^ u64::from(self.words)), self.words, self.start..end);

        self.words = 0;
    }
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;
const LOWER: u64 = 0x2020_2020_2020_2020;

#[inline]
fn mix(mut h: u64) -> u64 {
    h ^= h >> 32;
    h = h.wrapping_mul(K);
    h ^= h >> 29;
    // 0 marks an empty table slot.
    h | 1
}

/// The hash of a normalized word (patterns, and folded words of the text).
#[must_use]
pub fn hash_word(word: &[u8]) -> u64 {
    hash_at(word, 0, word.len())
}

/// The hash of `bytes[start..end]` with ASCII letters lower-cased. Setting bit 5 of every byte
/// lower-cases ASCII letters and leaves digits as they are, so on a run of ASCII letters and
/// digits it is a lower-casing; other bytes change too, but the same way for pattern and text.
/// Eight bytes at a time; the last chunk is read in place when eight bytes remain in the
/// buffer, and masked.
#[inline(always)]
fn hash_at(bytes: &[u8], start: usize, end: usize) -> u64 {
    let len = end - start;
    let mut h = (len as u64).wrapping_mul(K);
    let mut at = start;
    while end - at > 8 {
        let w = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes")) | LOWER;
        h = (h ^ w).wrapping_mul(K).rotate_left(23);
        at += 8;
    }
    // The last one to eight bytes; the top bits of the last product are the hash (the
    // filter and the table both index by top bits).
    let rest = end - at;
    let mask = u64::MAX >> (8 * (8 - rest));
    let w = if at + 8 <= bytes.len() {
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    } else {
        let mut buf = [0u8; 8];
        buf[..rest].copy_from_slice(&bytes[at..end]);
        u64::from_le_bytes(buf)
    };
    // 0 marks an empty table slot.
    (h ^ ((w | LOWER) & mask)).wrapping_mul(K) | 1
}

/// The largest filter probed with one bit per word: 32 KiB, a core's L1 data cache. A larger
/// filter is probed with two bits of one 64-bit block: the same single load, a tenth of the
/// words passing by chance (each then probes a table far out of L1). Measured, 128 MB, one
/// thread: 100,000 terms (only 1,000 of them in the text) 406-407 MB/s with one bit,
/// 431-448 with two; 1,000 terms 498-526 with one, 450-499 with two, where the extra
/// instructions cost more than the rarer probes of a table that sits in L1 anyway.
const ONE_BIT_MAX: usize = 1 << 18;

/// How a word's hash is tested against its 64-bit filter block.
trait Probe {
    /// The bits a word sets in its block.
    fn bits(hash: u64) -> u64;
}

/// One bit per word.
struct OneBit;

/// Two bits per word, in the same block.
struct TwoBits;

// From hash bits that neither the block number (the top bits) nor the product's weak low
// bits give.
impl Probe for OneBit {
    #[inline(always)]
    fn bits(hash: u64) -> u64 {
        1 << ((hash >> 20) & 63)
    }
}

impl Probe for TwoBits {
    #[inline(always)]
    fn bits(hash: u64) -> u64 {
        (1 << ((hash >> 20) & 63)) | (1 << ((hash >> 26) & 63))
    }
}

/// The slot tag of a word hash: 32 bits below the top 16 (which index the table), never 0.
#[inline]
fn tag(hash: u64) -> u32 {
    ((hash >> 16) as u32) | 1
}

/// Hash of a sequence of word hashes (never 0, which marks an empty slot).
fn seq_hash(hashes: impl Iterator<Item = u64>) -> u64 {
    let mut h = 0x1234_5678_9ABC_DEF1u64;
    for word in hashes {
        h = (h ^ word).wrapping_mul(K).rotate_left(29);
    }
    h.wrapping_mul(K) | 1
}

const PREFIX_BITS: usize = 1 << 16;

/// Filter key of a word's first three bytes, lower-cased.
#[inline]
fn prefix_key(word: &[u8]) -> usize {
    let k = u32::from(word[0] | 0x20)
        | (u32::from(word[1] | 0x20) << 8)
        | (u32::from(word[2] | 0x20) << 16);
    (k.wrapping_mul(0x9E37_79B1) >> 16) as usize
}
