//! d2l's text pipeline ("Text Preprocessing" and "Language Models"):
//! [`preprocess`] (each line: runs of non-letters to one space, trimmed,
//! lower case, as `read_time_machine`), [`tokenize`] (`char` or `word`),
//! [`Vocab`] (`<unk>` first, the reserved tokens, then tokens by decreasing
//! frequency with ties in order of first appearance, those under
//! `min_freq` left out), [`Corpus`] (`load_corpus_time_machine`), and the
//! two minibatch samplers, [`seq_data_iter_random`] and
//! [`seq_data_iter_sequential`], with their random draws explicit (a seed
//! or the draws themselves).
//!
//! ```
//! use zoo_datasets::text::{Corpus, Token};
//! let corpus = Corpus::from_text("The Time Machine, by H. G. Wells\n", Token::Char, 0, &[]).unwrap();
//! assert_eq!(corpus.vocab.token(0), "<unk>");
//! // ' ' appears 6 times, 'e' 4, 'h' 3: most frequent first.
//! assert_eq!((corpus.vocab.token(1), corpus.vocab.token(2), corpus.vocab.token(3)), (" ", "e", "h"));
//! assert_eq!(corpus.decode(&corpus.tokens[..8]), "the time");
//! ```

use std::collections::HashMap;

use crate::DataError;

/// How [`tokenize`] splits a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    /// Every character (spaces included).
    Char,
    /// Whitespace-separated words.
    Word,
}

impl Token {
    /// `char` or `word`.
    pub fn parse(name: &str) -> Result<Self, DataError> {
        match name {
            "char" => Ok(Token::Char),
            "word" => Ok(Token::Word),
            other => Err(DataError::Invalid(format!(
                "token kind {other:?}: expected char or word"
            ))),
        }
    }
}

/// d2l's `read_time_machine` on `text`: each line with every run of
/// characters outside `A-Za-z` replaced by one space, trimmed, lower-cased.
/// Lines end at `\n` (d2l's `readlines`); non-ASCII letters count as
/// non-letters, as in the course's regular expression.
pub fn preprocess(text: &str) -> Vec<String> {
    text.split_inclusive('\n')
        .map(|line| {
            let mut out = String::with_capacity(line.len());
            let mut gap = false;
            for c in line.chars() {
                if c.is_ascii_alphabetic() {
                    if gap && !out.is_empty() {
                        out.push(' ');
                    }
                    gap = false;
                    out.push(c.to_ascii_lowercase());
                } else {
                    gap = true;
                }
            }
            // Gaps before the first letter and after the last are dropped (strip).
            out
        })
        .collect()
}

/// d2l's `tokenize`: each line as its characters or its words.
pub fn tokenize(lines: &[String], token: Token) -> Vec<Vec<String>> {
    lines
        .iter()
        .map(|l| match token {
            Token::Char => l.chars().map(String::from).collect(),
            Token::Word => l.split_whitespace().map(String::from).collect(),
        })
        .collect()
}

/// d2l's `Vocab`: token <-> index.
#[derive(Clone, Debug, PartialEq)]
pub struct Vocab {
    idx_to_token: Vec<String>,
    token_to_idx: HashMap<String, usize>,
    /// Every distinct token of the text with its count, by decreasing count
    /// (ties in order of first appearance): d2l's `token_freqs`.
    pub token_freqs: Vec<(String, usize)>,
    /// How many reserved tokens follow `<unk>`.
    reserved: usize,
}

impl Vocab {
    /// The vocabulary of `tokens` (lines of tokens): `<unk>` = 0, then
    /// `reserved`, then the tokens counted at least `min_freq` times by
    /// decreasing count, ties in order of first appearance.
    pub fn new(tokens: &[Vec<String>], min_freq: usize, reserved: &[&str]) -> Self {
        let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
        for (order, t) in tokens.iter().flatten().enumerate() {
            counts.entry(t.as_str()).or_insert((0, order)).0 += 1;
        }
        let mut freqs: Vec<(&str, (usize, usize))> = counts.into_iter().collect();
        freqs.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.1.1.cmp(&b.1.1)));
        let mut idx_to_token: Vec<String> = std::iter::once("<unk>")
            .chain(reserved.iter().copied())
            .map(String::from)
            .collect();
        let mut token_to_idx: HashMap<String, usize> = HashMap::new();
        for (i, t) in idx_to_token.iter().enumerate() {
            token_to_idx.entry(t.clone()).or_insert(i);
        }
        for &(t, (count, _)) in &freqs {
            if count < min_freq {
                break;
            }
            if !token_to_idx.contains_key(t) {
                token_to_idx.insert(t.to_string(), idx_to_token.len());
                idx_to_token.push(t.to_string());
            }
        }
        Self {
            idx_to_token,
            token_to_idx,
            token_freqs: freqs
                .into_iter()
                .map(|(t, (c, _))| (t.to_string(), c))
                .collect(),
            reserved: reserved.len(),
        }
    }

    /// Entries, `<unk>` and the reserved tokens included.
    pub fn len(&self) -> usize {
        self.idx_to_token.len()
    }

    /// Never empty (`<unk>` is always there).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The index of `token`; 0 (`<unk>`) for a token outside the vocabulary,
    /// as d2l's `vocab[token]` does.
    pub fn index(&self, token: &str) -> usize {
        self.token_to_idx.get(token).copied().unwrap_or(0)
    }

    /// The token at `index` (`<unk>` beyond the end).
    pub fn token(&self, index: usize) -> &str {
        self.idx_to_token
            .get(index)
            .map(String::as_str)
            .unwrap_or("<unk>")
    }

    /// How often each entry occurs in the counted text (0 for `<unk>`, the
    /// reserved tokens and tokens the text does not have).
    pub fn counts(&self) -> Vec<usize> {
        let by_token: HashMap<&str, usize> = self
            .token_freqs
            .iter()
            .map(|(t, c)| (t.as_str(), *c))
            .collect();
        self.idx_to_token
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if i <= self.reserved {
                    0
                } else {
                    by_token.get(t.as_str()).copied().unwrap_or(0)
                }
            })
            .collect()
    }
}

/// A text as token indices with its vocabulary (d2l's
/// `load_corpus_time_machine`).
#[derive(Clone, Debug, PartialEq)]
pub struct Corpus {
    /// The indices, line after line.
    pub tokens: Vec<usize>,
    /// The vocabulary built from the whole text.
    pub vocab: Vocab,
    /// Characters or words.
    pub kind: Token,
}

impl Corpus {
    /// Preprocesses, tokenizes and indexes `text`. An error when no token
    /// is left (an empty text, or one without letters).
    pub fn from_text(
        text: &str,
        kind: Token,
        min_freq: usize,
        reserved: &[&str],
    ) -> Result<Self, DataError> {
        let lines = preprocess(text);
        let tokens = tokenize(&lines, kind);
        let vocab = Vocab::new(&tokens, min_freq, reserved);
        let corpus: Vec<usize> = tokens.iter().flatten().map(|t| vocab.index(t)).collect();
        if corpus.is_empty() {
            return Err(DataError::Invalid(format!(
                "the text has no tokens after preprocessing ({} bytes, {} lines): expected English text with letters",
                text.len(),
                lines.len()
            )));
        }
        Ok(Self {
            tokens: corpus,
            vocab,
            kind,
        })
    }

    /// The same from bytes, which must be UTF-8.
    pub fn from_bytes(
        bytes: &[u8],
        kind: Token,
        min_freq: usize,
        reserved: &[&str],
    ) -> Result<Self, DataError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            DataError::Invalid(format!(
                "the text is not UTF-8 (invalid byte at offset {}): expected a UTF-8 text file",
                e.valid_up_to()
            ))
        })?;
        Self::from_text(text, kind, min_freq, reserved)
    }

    /// Reads a UTF-8 text file (an error naming the file and the offset of
    /// the first invalid byte otherwise).
    pub fn from_file(
        path: &std::path::Path,
        kind: Token,
        min_freq: usize,
        reserved: &[&str],
    ) -> Result<Self, DataError> {
        let bytes = std::fs::read(path).map_err(DataError::io(path))?;
        let text = std::str::from_utf8(&bytes).map_err(|e| DataError::Format {
            path: path.to_path_buf(),
            offset: e.valid_up_to(),
            what: "an invalid UTF-8 sequence, expected a UTF-8 text".into(),
        })?;
        Self::from_text(text, kind, min_freq, reserved).map_err(|e| DataError::Format {
            path: path.to_path_buf(),
            offset: 0,
            what: e.to_string(),
        })
    }

    /// The first `max_tokens` tokens only (d2l's `max_tokens`; the
    /// vocabulary stays that of the whole text).
    pub fn truncated(mut self, max_tokens: usize) -> Self {
        self.tokens.truncate(max_tokens);
        self
    }

    /// Indices back to text (characters joined directly, words by spaces).
    pub fn decode(&self, indices: &[usize]) -> String {
        let sep = match self.kind {
            Token::Char => "",
            Token::Word => " ",
        };
        indices
            .iter()
            .map(|&i| self.vocab.token(i))
            .collect::<Vec<_>>()
            .join(sep)
    }

    /// Text to indices with this corpus's preprocessing; tokens outside the
    /// vocabulary map to `<unk>` (0), as d2l's `vocab[...]` does.
    pub fn encode(&self, text: &str) -> Vec<usize> {
        let lines = preprocess(text);
        // A prefix keeps its spaces between lines' tokens as the text would.
        tokenize(&lines, self.kind)
            .iter()
            .flatten()
            .map(|t| self.vocab.index(t))
            .collect()
    }
}

/// The course's corpus, H. G. Wells' *The Time Machine*, embedded (the
/// exact bytes of d2l's `timemachine.txt`; origin and SHA-1 in
/// `data/time-machine/ORIGIN.md`).
#[cfg(feature = "embedded")]
pub const TIME_MACHINE: &str = include_str!("../data/time-machine/timemachine.txt");

/// Where a text came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextSource {
    /// A file (downloaded with `cargo xtask download time-machine`, or given).
    File(std::path::PathBuf),
    /// The copy embedded in this crate.
    Embedded,
}

/// The Time Machine: `<dir>/time-machine/timemachine.txt` when it is there
/// (`dir`: `data_dir` by default), else the embedded copy (with the
/// `embedded` feature; an error naming the path without it).
pub fn time_machine(dir: Option<&std::path::Path>) -> Result<(String, TextSource), DataError> {
    let root = dir
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(crate::data_dir);
    let path = root
        .join(crate::catalog::TIME_MACHINE.dir)
        .join("timemachine.txt");
    if path.is_file() {
        let bytes = std::fs::read(&path).map_err(DataError::io(&path))?;
        let text = String::from_utf8(bytes).map_err(|e| DataError::Format {
            path: path.clone(),
            offset: e.utf8_error().valid_up_to(),
            what: "an invalid UTF-8 sequence, expected a UTF-8 text".into(),
        })?;
        return Ok((text, TextSource::File(path)));
    }
    #[cfg(feature = "embedded")]
    {
        Ok((TIME_MACHINE.to_string(), TextSource::Embedded))
    }
    #[cfg(not(feature = "embedded"))]
    {
        Err(DataError::Invalid(format!(
            "{} is absent (cargo xtask download time-machine), and this build has no embedded copy (feature `embedded`)",
            path.display()
        )))
    }
}

/// One minibatch: inputs and targets, each `batch_size` rows of
/// `num_steps` tokens (targets shifted by one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqBatch {
    /// Inputs, row-major `[batch_size][num_steps]`.
    pub x: Vec<Vec<usize>>,
    /// Targets.
    pub y: Vec<Vec<usize>>,
}

fn check_sizes(len: usize, batch_size: usize, num_steps: usize) -> Result<(), DataError> {
    if batch_size == 0 || num_steps == 0 {
        return Err(DataError::Invalid(format!(
            "batch_size {batch_size} and num_steps {num_steps}: expected both at least 1"
        )));
    }
    if num_steps + 1 > len {
        return Err(DataError::Invalid(format!(
            "num_steps {num_steps} is longer than the corpus of {len} tokens allows (at most {})",
            len.saturating_sub(1)
        )));
    }
    Ok(())
}

/// d2l's `seq_data_iter_random` with its draws given: the corpus from
/// `offset` (`random.randint(0, num_steps - 1)`) cut into
/// `(len - offset - 1) / num_steps` subsequences, taken in `order` (the
/// `random.shuffle`d order of the subsequences, a permutation of their
/// indices), `batch_size` at a time; a last incomplete batch is dropped.
pub fn seq_partition_random(
    corpus: &[usize],
    batch_size: usize,
    num_steps: usize,
    offset: usize,
    order: &[usize],
) -> Result<Vec<SeqBatch>, DataError> {
    check_sizes(corpus.len(), batch_size, num_steps)?;
    if offset >= num_steps {
        return Err(DataError::Invalid(format!(
            "offset {offset}: expected below num_steps {num_steps}"
        )));
    }
    let corpus = &corpus[offset..];
    let subseqs = (corpus.len() - 1) / num_steps;
    let mut sorted = order.to_vec();
    sorted.sort_unstable();
    if sorted != (0..subseqs).collect::<Vec<_>>() {
        return Err(DataError::Invalid(format!(
            "order {order:?}: expected a permutation of 0..{subseqs} (the subsequences)"
        )));
    }
    let data = |pos: usize| corpus[pos..pos + num_steps].to_vec();
    let batches = subseqs / batch_size;
    Ok((0..batches)
        .map(|b| {
            let starts = &order[b * batch_size..(b + 1) * batch_size];
            SeqBatch {
                x: starts.iter().map(|&i| data(i * num_steps)).collect(),
                y: starts.iter().map(|&i| data(i * num_steps + 1)).collect(),
            }
        })
        .collect())
}

/// d2l's `seq_data_iter_sequential` with its draw given: the corpus from
/// `offset` (`random.randint(0, num_steps)`), as many tokens as fill
/// `batch_size` equal rows, each row read `num_steps` at a time, so a
/// row of one batch continues the same row of the previous batch.
pub fn seq_partition_sequential(
    corpus: &[usize],
    batch_size: usize,
    num_steps: usize,
    offset: usize,
) -> Result<Vec<SeqBatch>, DataError> {
    check_sizes(corpus.len(), batch_size, num_steps)?;
    if offset > num_steps || offset + 1 >= corpus.len() {
        return Err(DataError::Invalid(format!(
            "offset {offset}: expected at most num_steps {num_steps} and below the corpus length - 1"
        )));
    }
    let num_tokens = (corpus.len() - offset - 1) / batch_size * batch_size;
    let per_row = num_tokens / batch_size;
    let row = |r: usize, shift: usize| &corpus[offset + shift + r * per_row..][..per_row];
    let batches = per_row / num_steps;
    Ok((0..batches)
        .map(|b| {
            let cols = b * num_steps..(b + 1) * num_steps;
            SeqBatch {
                x: (0..batch_size)
                    .map(|r| row(r, 0)[cols.clone()].to_vec())
                    .collect(),
                y: (0..batch_size)
                    .map(|r| row(r, 1)[cols.clone()].to_vec())
                    .collect(),
            }
        })
        .collect())
}

/// The samplers' seeded draws (`zoo_rng::Rng`, SplitMix64).
pub use zoo_rng::Rng as SeqRng;

/// d2l's `seq_data_iter_random` with seeded draws: the offset and the
/// order of the subsequences come from `rng`.
pub fn seq_data_iter_random(
    corpus: &[usize],
    batch_size: usize,
    num_steps: usize,
    rng: &mut SeqRng,
) -> Result<Vec<SeqBatch>, DataError> {
    check_sizes(corpus.len(), batch_size, num_steps)?;
    let offset = rng.int_inclusive(num_steps - 1);
    let subseqs = (corpus.len() - offset - 1) / num_steps;
    let order = rng.permutation(subseqs);
    seq_partition_random(corpus, batch_size, num_steps, offset, &order)
}

/// d2l's `seq_data_iter_sequential` with a seeded offset.
pub fn seq_data_iter_sequential(
    corpus: &[usize],
    batch_size: usize,
    num_steps: usize,
    rng: &mut SeqRng,
) -> Result<Vec<SeqBatch>, DataError> {
    check_sizes(corpus.len(), batch_size, num_steps)?;
    let offset = rng.int_inclusive(num_steps.min(corpus.len() - 2));
    seq_partition_sequential(corpus, batch_size, num_steps, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocessing_matches_the_courses_regular_expression() {
        // re.sub('[^A-Za-z]+', ' ', line).strip().lower() per line.
        let lines = preprocess("  The Time--Machine, 1895!\n\nH. G. Wells\n");
        assert_eq!(lines, ["the time machine", "", "h g wells"]);
        assert_eq!(preprocess("no newline"), ["no newline"]);
        assert_eq!(preprocess("café au lait"), ["caf au lait"]);
    }

    #[test]
    fn vocabulary_orders_by_count_then_first_appearance() {
        let lines = vec!["b a c a b d".to_string()];
        let v = Vocab::new(&tokenize(&lines, Token::Word), 2, &["<pad>"]);
        // b and a twice (b first), c and d once (under min_freq 2).
        assert_eq!(
            (0..v.len()).map(|i| v.token(i)).collect::<Vec<_>>(),
            ["<unk>", "<pad>", "b", "a"]
        );
        assert_eq!(v.index("c"), 0);
        assert_eq!(v.counts(), [0, 0, 2, 2]);
    }

    #[test]
    fn samplers_cut_as_the_course_does() {
        let corpus: Vec<usize> = (0..35).collect();
        // d2l's example: batch 2, 5 steps; sequential with offset 0 gives
        // rows [0..17) and [17..34), read 5 at a time.
        let b = seq_partition_sequential(&corpus, 2, 5, 0).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].x, [vec![0, 1, 2, 3, 4], vec![17, 18, 19, 20, 21]]);
        assert_eq!(b[1].y, [vec![6, 7, 8, 9, 10], vec![23, 24, 25, 26, 27]]);
        // Random with offset 2: subsequences start at 2, 7, ..., 27.
        let b = seq_partition_random(&corpus, 2, 5, 2, &[3, 4, 5, 2, 1, 0]).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].x[0], vec![17, 18, 19, 20, 21]);
        assert_eq!(b[0].y[1], vec![23, 24, 25, 26, 27]);
        assert!(seq_partition_random(&corpus, 2, 5, 2, &[0, 1]).is_err());
        assert!(seq_partition_sequential(&corpus, 2, 40, 0).is_err());
        let mut rng = SeqRng::new(3);
        let p = rng.permutation(10);
        let mut s = p.clone();
        s.sort();
        assert_eq!(s, (0..10).collect::<Vec<_>>());
    }

    #[cfg(feature = "embedded")]
    #[test]
    fn the_embedded_time_machine_is_d2ls_file_and_its_corpus() {
        assert_eq!(
            crate::store::sha1_hex(TIME_MACHINE.as_bytes()),
            "090b5e7e70c295757f55df93cb0a180b9691891a"
        );
        // d2l 9.2: 28 character tokens (26 letters, space, <unk>); 170,580
        // tokens; 'e' is index 2 after ' ' (d2l prints the frequent ones).
        let c = Corpus::from_text(TIME_MACHINE, Token::Char, 0, &[]).unwrap();
        assert_eq!((c.tokens.len(), c.vocab.len()), (170_580, 28));
        assert_eq!((c.vocab.token(1), c.vocab.token(2)), (" ", "e"));
        // Words: d2l lists the, i, and, of, a, to as the most frequent.
        let w = Corpus::from_text(TIME_MACHINE, Token::Word, 0, &[]).unwrap();
        let top: Vec<&str> = (1..7).map(|i| w.vocab.token(i)).collect();
        assert_eq!(top, ["the", "i", "and", "of", "a", "to"]);
        assert_eq!(w.vocab.token_freqs[0], ("the".to_string(), 2261));
    }

    #[test]
    fn bad_text_is_an_error() {
        assert!(Corpus::from_bytes(&[0xff, 0xfe, b'a'], Token::Char, 0, &[]).is_err());
        assert!(Corpus::from_text("1234 -- !!", Token::Char, 0, &[]).is_err());
        assert!(Corpus::from_text("", Token::Word, 0, &[]).is_err());
    }
}
