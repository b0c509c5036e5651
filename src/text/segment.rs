//! Text preparation: normalize an article, cut it into paragraphs (one per line) and
//! the paragraphs into sentences, and long sentences into clauses.
//!
//! Everything here works on plain `&str` and never panics: the scanners index only at
//! byte offsets taken from `char_indices`, so odd input (lone marks, stray quotes,
//! nothing but punctuation) just yields odd but complete pieces. No piece ever drops a
//! character other than whitespace at its ends.

use super::script::is_devanagari;
use std::ops::Range;
use unicode_normalization::UnicodeNormalization;

/// NFC; remove zero-width chars that carry no meaning (U+200B ZWSP, U+FEFF BOM, U+00AD
/// soft hyphen, U+2060) but KEEP ZWJ/ZWNJ (U+200D/U+200C, meaningful in Devanagari);
/// map odd spaces (U+00A0, U+2000–U+200A, U+202F, U+205F, U+3000, tabs) to ' ';
/// CRLF/CR → LF; collapse runs of spaces inside a line; trim line ends.
///
/// Also: Unicode line/paragraph separators, NEL, VT and FF become '\n'; any other
/// whitespace becomes ' '; other C0 control characters are dropped. Each line is
/// trimmed at both ends, so a line of spaces becomes an empty line.
pub fn normalize(text: &str) -> String {
    let mut mapped = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                mapped.push('\n');
            }
            '\n' | '\u{2028}' | '\u{2029}' | '\u{0085}' | '\u{000B}' | '\u{000C}' => {
                mapped.push('\n')
            }
            // Invisible, meaningless here; removed before NFC so a ZWSP between a
            // letter and its vowel sign cannot block composition.
            '\u{200B}' | '\u{FEFF}' | '\u{00AD}' | '\u{2060}' => {}
            c if c.is_whitespace() => mapped.push(' '),
            c if c.is_control() => {}
            c => mapped.push(c),
        }
    }

    let mut out = String::with_capacity(mapped.len());
    for (k, line) in mapped.nfc().collect::<String>().split('\n').enumerate() {
        if k > 0 {
            out.push('\n');
        }
        let mut after_space = false;
        for c in line.trim_matches(' ').chars() {
            if c == ' ' && after_space {
                continue;
            }
            after_space = c == ' ';
            out.push(c);
        }
    }
    out
}

/// Devanagari digits (०-९) count as digits everywhere ASCII digits do.
fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || ('\u{0966}'..='\u{096F}').contains(&c)
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParagraphKind {
    Body,
    Heading,
    Caption,
    Credit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paragraph {
    pub text: String,
    pub kind: ParagraphKind,
    pub sentences: Vec<String>,
    /// The line of the normalized text it is on, from 1 (the input file's line: CRLF
    /// and CR count as one line break, like an editor counts them).
    pub line: usize,
    /// exact newline run that followed this paragraph in the input ("\n", "\n\n",
    /// "\n\n\n"...), "" after the last
    pub separator: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub paragraphs: Vec<Paragraph>,
}

/// `text` is already normalized. A paragraph is one non-empty line; the newline runs
/// between lines are kept in `separator` so output can reproduce the input's layout
/// exactly (blank lines and single newlines both). Leading/trailing blank lines of the
/// whole text are dropped.
///
/// A line of only whitespace counts as blank (normalized text has none).
pub fn segment(text: &str) -> Document {
    let mut paragraphs: Vec<Paragraph> = Vec::new();
    let mut newlines_since_last = 0usize;
    for (k, line) in text.split('\n').enumerate() {
        if k > 0 {
            newlines_since_last += 1;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(prev) = paragraphs.last_mut() {
            prev.separator = "\n".repeat(newlines_since_last);
        }
        newlines_since_last = 0;
        paragraphs.push(Paragraph {
            text: line.to_string(),
            kind: classify(line),
            sentences: split_sentences(line),
            line: k + 1,
            separator: String::new(),
        });
    }
    Document { paragraphs }
}

// ---------------------------------------------------------------------------------
// Sentences

/// Quotes and brackets that close a sentence stay with it: in
/// `उन्होंने कहा, "हम जीतेंगे।" फिर` the `"` belongs to the first sentence.
const CLOSERS: &[char] = &['"', '\'', '”', '’', ')', ']', '}', '»', '›'];
const OPENERS: &[char] = &['"', '\'', '“', '‘', '(', '[', '{', '«', '‹'];

fn is_terminator(c: char) -> bool {
    matches!(c, '।' | '॥' | '?' | '!' | '.' | '…' | '？' | '！')
}

/// Sentences of one paragraph, each trimmed; joining them with ' ' gives back the
/// paragraph modulo whitespace; never loses a character.
///
/// A sentence ends after a run of terminators (`।` `॥` `?` `!` `.` `…`) plus any
/// closing quotes/brackets glued to it. Whether it really ends depends on the run:
/// - `।` / `॥` always end a sentence, even inside quotes and even with no space after
///   them: in Hindi they are unambiguous, and a quote of several sentences
///   (`"हम जीतेंगे। देश साथ है।"`) is common enough that keeping it whole would make
///   very long "sentences".
/// - `?` / `!` end a sentence when followed by whitespace (not in `"क्यों?", उसने`
///   or a URL).
/// - `.` is the hard case, see [`dot_ends_sentence`].
pub fn split_sentences(paragraph: &str) -> Vec<String> {
    let mut spans = sentence_spans(paragraph);
    // A dateline (`नई दिल्ली, 13 मार्च (भाषा)।`) introduces the sentence after it rather
    // than standing alone; translated alone, a small model tends to invent a story to
    // follow it. Keep the two together.
    let mut k = 0;
    while k + 1 < spans.len() {
        if is_dateline(&paragraph[spans[k].clone()]) {
            let next = spans.remove(k + 1);
            spans[k].end = next.end;
        }
        k += 1;
    }
    spans
        .into_iter()
        .map(|r| paragraph[r].to_string())
        .collect()
}

fn sentence_spans(text: &str) -> Vec<Range<usize>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let byte_at = |k: usize| chars.get(k).map_or(text.len(), |&(b, _)| b);
    let mut spans = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        if !is_terminator(chars[i].1) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && (is_terminator(chars[j].1) || CLOSERS.contains(&chars[j].1)) {
            j += 1;
        }
        let run: Vec<char> = chars[i..j].iter().map(|&(_, c)| c).collect();
        let after = &text[byte_at(j)..];
        let ends = if run.iter().any(|c| matches!(c, '।' | '॥')) {
            true
        } else if run.iter().any(|c| matches!(c, '?' | '!' | '？' | '！')) {
            after.is_empty() || after.starts_with(char::is_whitespace)
        } else {
            let before = &text[start..byte_at(i)];
            dot_ends_sentence(before, &run, after)
        };
        if ends {
            push_trimmed(text, start..byte_at(j), &mut spans);
            start = byte_at(j);
        }
        i = j;
    }
    push_trimmed(text, start..text.len(), &mut spans);
    spans
}

/// Push `range` of `text` with surrounding whitespace trimmed off, if anything is left.
fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let piece = &text[range.clone()];
    let lead = piece.len() - piece.trim_start().len();
    let trail = piece.len() - piece.trim_end().len();
    if lead < piece.len() {
        out.push(range.start + lead..range.end - trail);
    }
}

/// Does a run of dots (`.`, `...`, `…`, maybe with closing quotes) end the sentence?
/// `before` is the sentence so far, `after` the rest of the paragraph.
///
/// - Only if whitespace follows: `3.5`, `१२.५`, `13.03.2025`, `10.30`, `Rs.500`, URLs
///   and e-mails have none.
/// - An ellipsis ends a sentence only before an uppercase Latin letter. Hindi has no
///   letter case, so after `...` we cannot tell a pause from an end; keeping it in
///   one sentence costs at most a longer sentence (the chunker splits those).
/// - A single dot does not end a sentence after an abbreviation (see
///   [`is_abbreviation`]) or after a bare list number (`1. पहला`).
fn dot_ends_sentence(before: &str, run: &[char], after: &str) -> bool {
    if after.is_empty() {
        return true;
    }
    if !after.starts_with(char::is_whitespace) {
        return false;
    }
    let next = after
        .trim_start()
        .trim_start_matches(OPENERS)
        .chars()
        .next();
    let Some(next) = next else { return true };
    let dots = run.iter().filter(|&&c| c == '.').count();
    if dots >= 2 || run.contains(&'…') {
        return next.is_uppercase();
    }
    // Closers before the dot (`"जीतेंगे".`) are not part of the word.
    let word = before
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or("")
        .trim_matches(|c| OPENERS.contains(&c) || CLOSERS.contains(&c));
    if word.is_empty() {
        return true;
    }
    if before.trim() == word && word.chars().all(is_digit) {
        return false;
    }
    !is_abbreviation(word, next)
}

/// English abbreviations that never end a sentence when more text follows.
const ABBREVIATIONS: &[&str] = &[
    "Dr", "DR", "Mr", "MR", "Mrs", "Ms", "Prof", "St", "No", "Nos", "vs", "Vs", "v", "Rs", "RS",
    "Smt", "Shri", "Sh", "Jr", "Sr", "Gen", "Lt", "Col", "Capt", "Maj", "Sgt", "Hon", "Gov", "Sen",
    "Rep", "Mt", "Ft", "Pvt", "approx", "Fig", "fig", "e.g", "i.e", "viz", "cf", "a.m", "p.m",
    "A.M", "P.M",
];
/// Abbreviations that often end a sentence too: they end it unless the next word
/// starts with a lowercase Latin letter or a digit (`etc. and`, `Ltd. 2024`).
const SOFT_ABBREVIATIONS: &[&str] = &[
    "etc", "Inc", "Ltd", "Co", "Corp", "Bros", "U.S", "U.K", "U.N",
];
/// Hindi abbreviations written with a dot. `ई.पू` = ईसा पूर्व.
const HINDI_ABBREVIATIONS: &[&str] = &[
    "डॉ",
    "श्री",
    "श्रीमती",
    "प्रो",
    "सं",
    "रु",
    "क्र",
    "पृ",
    "ई",
    "ई.पू",
    "कु",
    "स्व",
    "मो",
    "नं",
    "सु",
    "उ",
    "प",
    "डॉक्टर",
];
/// Latin letters spelled in Devanagari, used as initials: `ए. पी. जे. अब्दुल कलाम`,
/// `एम. एस. धोनी`. Most are one syllable anyway; these are the longer ones.
const DEVANAGARI_LETTER_NAMES: &[&str] = &[
    "एफ",
    "एच",
    "एल",
    "एम",
    "एन",
    "आर",
    "एस",
    "एक्स",
    "वाई",
    "डब्ल्यू",
    "क्यू",
    "जेड",
    "आई",
    "ओ",
];
/// One-syllable Hindi words that commonly end a sentence, so a dot after them is a full
/// stop (some sites write `.` for `।`), not an abbreviation.
const SINGLE_SYLLABLE_WORDS: &[&str] = &[
    "है",
    "हैं",
    "था",
    "थी",
    "थे",
    "हो",
    "हूं",
    "हूँ",
    "दी",
    "दे",
    "दो",
    "ली",
    "ले",
    "लो",
    "की",
    "के",
    "का",
    "को",
    "गा",
    "गी",
    "गे",
    "जा",
    "ना",
    "नी",
    "ने",
    "सा",
    "सी",
    "से",
    "भी",
    "ही",
    "तो",
    "में",
    "मैं",
    "क्या",
    "क्यों",
    "पा",
    "खा",
    "आ",
    "सौ",
    "हां",
    "हाँ",
    "ना",
    "न",
    "यों",
    "त्यों",
];

/// Is `word` (the text just before a dot, without quotes) an abbreviation, given the
/// first character `next` of the following word?
fn is_abbreviation(word: &str, next: char) -> bool {
    if SOFT_ABBREVIATIONS.contains(&word) {
        return next.is_lowercase() || is_digit(next);
    }
    if ABBREVIATIONS.contains(&word) {
        return true;
    }
    // Initials: `A.` `J.` and glued ones like `A.P.J`.
    if word
        .split('.')
        .all(|part| part.chars().count() == 1 && part.chars().all(|c| c.is_uppercase()))
    {
        return true;
    }
    if word
        .chars()
        .all(|c| is_devanagari(c) || c == '.' || c == '\u{200C}' || c == '\u{200D}')
    {
        if HINDI_ABBREVIATIONS.contains(&word) || DEVANAGARI_LETTER_NAMES.contains(&word) {
            return true;
        }
        // `डॉ.` `प्रो.` `सं.` and Devanagari initials (`पी.`): one syllable then a dot.
        return aksharas(word) == 1 && !SINGLE_SYLLABLE_WORDS.contains(&word);
    }
    false
}

/// Number of Devanagari syllables (aksharas): a new one starts at every independent
/// vowel and at every consonant not joined to the previous one by a virama.
fn aksharas(word: &str) -> usize {
    let mut n = 0;
    let mut after_virama = false;
    for c in word.chars() {
        let consonant = matches!(c, '\u{0915}'..='\u{0939}' | '\u{0958}'..='\u{095F}' | '\u{0978}'..='\u{097F}');
        let vowel = matches!(c, '\u{0904}'..='\u{0914}' | '\u{0960}'..='\u{0961}' | '\u{0972}'..='\u{0977}');
        if vowel || (consonant && !after_virama) {
            n += 1;
        }
        after_virama = c == '\u{094D}';
    }
    n
}

// ---------------------------------------------------------------------------------
// Clauses

/// Conjunctions that start a new clause.
const CONJUNCTIONS: &[&str] = &[
    "और",
    "लेकिन",
    "परंतु",
    "परन्तु",
    "किंतु",
    "किन्तु",
    "जबकि",
    "क्योंकि",
    "ताकि",
    "मगर",
    "बल्कि",
    "इसलिए",
    "तथा",
    "वरना",
    "यानी",
];
/// A stretch without punctuation longer than this many words is also cut before
/// conjunctions; shorter ones are left alone (`राम और श्याम` joins nouns).
const LONG_RUN_WORDS: usize = 10;
/// ...but only where both sides keep at least this many words.
const MIN_CLAUSE_WORDS: usize = 3;

/// For one sentence too long for a chunk: split at clause boundaries (after ',' ';'
/// ':' '—' and before Hindi conjunctions like और, लेकिन, परंतु, किंतु, जबकि, क्योंकि,
/// ताकि when preceded by a comma or in long runs), pieces joined with ' ' give back
/// the sentence. If no boundary exists, returns the sentence as one piece.
///
/// Boundaries are only ever at spaces (so `शर्मा—जो` stays whole), and never after a
/// comma followed by a digit, which keeps dates (`13 मार्च, 2025`) and number lists
/// together.
pub fn split_clauses(sentence: &str) -> Vec<String> {
    let spans = clause_spans(sentence);
    if spans.is_empty() {
        return vec![sentence.to_string()];
    }
    spans.into_iter().map(|r| sentence[r].to_string()).collect()
}

/// Byte ranges of the clauses of `sentence`, trimmed, in order (empty for blank input).
pub(crate) fn clause_spans(sentence: &str) -> Vec<Range<usize>> {
    // Words as byte ranges; a boundary is a gap between two words.
    let words = word_spans(sentence, 0..sentence.len());
    let mut cuts = vec![false; words.len()]; // cuts[k]: a clause starts at word k
    for k in 1..words.len() {
        let prev = sentence[words[k - 1].clone()].trim_end_matches(CLOSERS);
        let this = &sentence[words[k].clone()];
        let after_punct = prev.ends_with([',', ';', ':', '—', '–']) || prev.ends_with("--");
        if after_punct && !(prev.ends_with(',') && this.starts_with(is_digit)) {
            cuts[k] = true;
        }
    }
    // Long runs without punctuation: cut before conjunctions.
    let mut k = 0;
    while k < words.len() {
        let mut end = k + 1;
        while end < words.len() && !cuts[end] {
            end += 1;
        }
        if end - k > LONG_RUN_WORDS {
            let mut last_cut = k;
            for m in k + 1..end {
                let w = &sentence[words[m].clone()];
                if CONJUNCTIONS.contains(&w)
                    && m - last_cut >= MIN_CLAUSE_WORDS
                    && end - m >= MIN_CLAUSE_WORDS
                {
                    cuts[m] = true;
                    last_cut = m;
                }
            }
        }
        k = end;
    }

    let mut spans = Vec::new();
    let mut start = None::<usize>;
    for (k, w) in words.iter().enumerate() {
        match start {
            None => start = Some(w.start),
            Some(s) if cuts[k] => {
                spans.push(s..words[k - 1].end);
                start = Some(w.start);
            }
            Some(_) => {}
        }
    }
    if let (Some(s), Some(last)) = (start, words.last()) {
        spans.push(s..last.end);
    }
    spans
}

/// Maximal runs of non-whitespace inside `range` of `text`, as byte ranges.
pub(crate) fn word_spans(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (b, c) in text[range.clone()].char_indices() {
        let b = range.start + b;
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(b),
            (true, Some(s)) => {
                out.push(s..b);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..range.end);
    }
    out
}

// ---------------------------------------------------------------------------------
// Paragraph kinds
//
// The kind only informs output formatting; every line stays in place as its own
// paragraph. The rules, checked in this order:
// - Credit: a line that is nothing but an agency/source (`पीटीआई`, `(भाषा)`,
//   `— एजेंसी`, `IANS`, `ANI/Reuters`); a photo/credit label with a short rest
//   (`फोटो: पीटीआई`, `(फोटो: ANI)`, `Photo: Reuters`, `इनपुट: भाषा`) — captions
//   describe a scene in more than three words; a short dateline ending in an agency
//   in parentheses (`नई दिल्ली, 13 मार्च (भाषा)`).
// - Caption: a line starting with a photo label (`फोटो:`, `तस्वीर:`, `चित्र:`,
//   `Photo:`), or a short line wholly in parentheses/brackets.
// - Heading: a short line (≤ 12 words) with at least one letter, no danda, and no
//   sentence-final `.` `?` `!` at its end.
// - Body: everything else.

const AGENCIES: &[&str] = &[
    "पीटीआई",
    "pti",
    "एएनआई",
    "ani",
    "आईएएनएस",
    "ians",
    "यूएनआई",
    "uni",
    "भाषा",
    "रॉयटर्स",
    "reuters",
    "एएफपी",
    "afp",
    "एपी",
    "ap",
    "एजेंसी",
    "एजेंसियां",
    "एजेंसियाँ",
    "agency",
    "agencies",
    "getty images",
    "गेटी इमेजेज",
    "फाइल फोटो",
    "file photo",
    "सांकेतिक तस्वीर",
    "सांकेतिक फोटो",
    "representational image",
    "सोशल मीडिया",
    "social media",
];
/// Labels before a photo, as written on Hindi sites (`फ़ोटो` is `फोटो` with a nukta).
const PHOTO_LABELS: &[&str] = &[
    "फोटो",
    "फ\u{093C}ोटो",
    "तस्वीर",
    "चित्र",
    "photo",
    "image",
    "pic",
    "picture",
    "फोटो साभार",
];
/// Labels that introduce a source rather than a picture.
const SOURCE_LABELS: &[&str] = &[
    "इनपुट",
    "input",
    "inputs",
    "स्रोत",
    "source",
    "साभार",
    "credit",
    "courtesy",
    "with inputs from",
];
const CAPTION_MAX_WORDS: usize = 30;
const HEADING_MAX_WORDS: usize = 12;

fn classify(line: &str) -> ParagraphKind {
    if is_credit(line) {
        ParagraphKind::Credit
    } else if is_caption(line) {
        ParagraphKind::Caption
    } else if is_heading(line) {
        ParagraphKind::Heading
    } else {
        ParagraphKind::Body
    }
}

/// The line without a leading dash, one pair of enclosing brackets and a final
/// `।`/`.`; also says whether it was enclosed.
fn core_of(line: &str) -> (&str, bool) {
    let t = line.trim().trim_start_matches(['—', '–', '-', ' ']).trim();
    let inner = t
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .or_else(|| t.strip_prefix('[').and_then(|t| t.strip_suffix(']')));
    let (t, enclosed) = match inner {
        Some(inner) => (inner, true),
        None => (t, false),
    };
    (t.trim().trim_end_matches(['।', '.']).trim(), enclosed)
}

/// `पीटीआई`, `ANI/Reuters`, `भाषा, एजेंसी`: one or more agencies and nothing else.
fn is_agency_list(s: &str) -> bool {
    let s = s.to_lowercase();
    let mut parts = s.split(['/', ',', '|', '&']).map(str::trim).peekable();
    parts.peek().is_some() && parts.all(|p| AGENCIES.contains(&p))
}

/// Splits `label: rest` when `label` is one of `labels` (case-insensitive).
fn labelled<'a>(s: &'a str, labels: &[&str]) -> Option<&'a str> {
    let (label, rest) = s.split_once([':', '：'])?;
    labels
        .contains(&label.trim().to_lowercase().as_str())
        .then(|| rest.trim())
}

fn is_credit(line: &str) -> bool {
    let (core, _) = core_of(line);
    if is_agency_list(core) {
        return true;
    }
    let labels_rest = labelled(core, PHOTO_LABELS).or_else(|| labelled(core, SOURCE_LABELS));
    if let Some(rest) = labels_rest {
        return rest.split_whitespace().count() <= 3 || is_agency_list(rest);
    }
    is_dateline(line)
}

/// `नई दिल्ली, 13 मार्च (भाषा)`: a place and date with the agency in parentheses.
fn is_dateline(s: &str) -> bool {
    let t = s.trim().trim_end_matches(['।', '.']);
    if let Some(open) = t.rfind('(')
        && t.ends_with(')')
        && t.split_whitespace().count() <= 8
    {
        return is_agency_list(&t[open + 1..t.len() - 1]);
    }
    false
}

fn is_caption(line: &str) -> bool {
    let (core, enclosed) = core_of(line);
    labelled(core, PHOTO_LABELS).is_some()
        || (enclosed && line.split_whitespace().count() <= CAPTION_MAX_WORDS)
}

fn is_heading(line: &str) -> bool {
    let end = line.trim_end().trim_end_matches(CLOSERS);
    line.split_whitespace().count() <= HEADING_MAX_WORDS
        && line.chars().any(char::is_alphabetic)
        && !line.contains(['।', '॥'])
        && !end.ends_with(['.', '?', '!', '…', '？', '！'])
}

#[cfg(test)]
mod dateline_tests {
    use super::*;

    #[test]
    fn a_dateline_stays_with_the_sentence_it_introduces() {
        let p = "नई दिल्ली, 14 जुलाई (भाषा)। राजधानी में भारी बारिश हुई। स्कूल बंद रहे।";
        assert_eq!(
            split_sentences(p),
            [
                "नई दिल्ली, 14 जुलाई (भाषा)। राजधानी में भारी बारिश हुई।",
                "स्कूल बंद रहे।"
            ]
        );
        // A dateline alone on its line is still a (credit) paragraph of one sentence.
        assert_eq!(
            split_sentences("नई दिल्ली, 14 जुलाई (भाषा)।"),
            ["नई दिल्ली, 14 जुलाई (भाषा)।"]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(text: &str) -> Vec<String> {
        split_sentences(text)
    }

    /// Everything but whitespace, to check that nothing was lost or duplicated.
    fn ink(text: &str) -> String {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    }

    // --- normalize ---

    #[test]
    fn normalize_removes_invisible_chars_but_keeps_zwj_and_zwnj() {
        let text = "\u{FEFF}भारत\u{200B} ने\u{00AD} मैच\u{2060} जीता। क्\u{200D}ष और क्\u{200C}ष";
        assert_eq!(normalize(text), "भारत ने मैच जीता। क्\u{200D}ष और क्\u{200C}ष");
    }

    #[test]
    fn normalize_maps_odd_spaces_and_collapses_runs() {
        let text = "13\u{00A0}मार्च,\t2025\u{2009}को \u{202F}\u{3000}  बारिश\u{205F}हुई";
        assert_eq!(normalize(text), "13 मार्च, 2025 को बारिश हुई");
    }

    #[test]
    fn normalize_unifies_line_ends_and_trims_lines() {
        let text = "  शीर्षक  \r\nपहला पैराग्राफ।\r\r  \nदूसरा।\rतीसरा। ";
        assert_eq!(normalize(text), "शीर्षक\nपहला पैराग्राफ।\n\n\nदूसरा।\nतीसरा।");
    }

    #[test]
    fn normalize_composes_to_nfc() {
        // क + ़ stays decomposed under NFC (composition exclusion), but a Latin e +
        // combining acute is composed.
        assert_eq!(normalize("Cafe\u{0301}"), "Café");
        assert_eq!(normalize("\u{0958}"), "\u{0915}\u{093C}");
    }

    #[test]
    fn paragraph_kind_serializes_lowercase() {
        let kinds = [
            ParagraphKind::Body,
            ParagraphKind::Heading,
            ParagraphKind::Caption,
            ParagraphKind::Credit,
        ];
        assert_eq!(
            serde_json::to_string(&kinds).unwrap(),
            r#"["body","heading","caption","credit"]"#
        );
    }

    // --- sentences ---

    #[test]
    fn splits_after_danda_question_and_exclamation() {
        assert_eq!(
            sentences("दिल्ली में बारिश हुई। क्या कल भी होगी? हां! मौसम विभाग ने चेतावनी दी है।"),
            [
                "दिल्ली में बारिश हुई।",
                "क्या कल भी होगी?",
                "हां!",
                "मौसम विभाग ने चेतावनी दी है।"
            ]
        );
    }

    #[test]
    fn closing_quote_stays_with_the_sentence_it_ends() {
        assert_eq!(
            sentences(r#"उन्होंने कहा, "हम जीतेंगे।" फिर वे चले गए।"#),
            [r#"उन्होंने कहा, "हम जीतेंगे।""#, "फिर वे चले गए।"]
        );
        assert_eq!(
            sentences("उन्होंने कहा, “हम जीतेंगे।” फिर वे चले गए। (यह बयान अहम है।) अब आगे।"),
            [
                "उन्होंने कहा, “हम जीतेंगे।”",
                "फिर वे चले गए।",
                "(यह बयान अहम है।)",
                "अब आगे।"
            ]
        );
        assert_eq!(
            sentences("उसने कहा ‘ठीक है।’ बस।"),
            ["उसने कहा ‘ठीक है।’", "बस।"]
        );
    }

    #[test]
    fn danda_inside_a_quote_still_ends_a_sentence() {
        assert_eq!(
            sentences(r#"मंत्री ने कहा, "हम जीतेंगे। देश हमारे साथ है।" सभा खत्म हुई।"#),
            [
                r#"मंत्री ने कहा, "हम जीतेंगे।"#,
                r#"देश हमारे साथ है।""#,
                "सभा खत्म हुई।"
            ]
        );
    }

    #[test]
    fn question_inside_a_quote_followed_by_comma_does_not_split() {
        assert_eq!(
            sentences(r#""क्या यह सही है?", उन्होंने पूछा।"#),
            [r#""क्या यह सही है?", उन्होंने पूछा।"#]
        );
    }

    #[test]
    fn decimals_times_and_dates_do_not_split() {
        let cases = [
            "महंगाई दर 3.5 प्रतिशत रही।",
            "तापमान १२.५ डिग्री दर्ज किया गया।",
            "बैठक 10.30 बजे शुरू होगी।",
            "फैसला 13.03.2025 को आया।",
            "चुनाव 13 मार्च, 2025 को होंगे।",
            "उन्हें 2 1/2 साल की सजा हुई।",
            "कीमत Rs.500 से बढ़कर Rs. 650 हो गई।",
            "टिकट रु. 200 का है।",
            "जानकारी www.example.gov.in पर और info@example.in से मिलेगी।",
        ];
        for case in cases {
            assert_eq!(sentences(case), [case], "{case}");
        }
    }

    #[test]
    fn abbreviations_do_not_split() {
        let cases = [
            "डॉ. शर्मा ने मरीज को देखा।",
            "श्री. गुप्ता और प्रो. वर्मा मंच पर थे।",
            "सं. रिपोर्ट के अनुसार काम जारी है।",
            "ए. पी. जे. अब्दुल कलाम देश के राष्ट्रपति थे।",
            "एम. एस. धोनी ने संन्यास लिया।",
            "Dr. Sharma and Mr. Gupta met Mrs. Rao at St. Stephen's.",
            "मैच India vs. Australia था।",
            "A. P. J. Abdul Kalam was born in 1931.",
            "Apples, mangoes etc. were sold.",
            "कमरा No. 5 खाली है।",
        ];
        for case in cases {
            assert_eq!(sentences(case), [case], "{case}");
        }
    }

    #[test]
    fn soft_abbreviation_ends_a_sentence_before_a_capital() {
        assert_eq!(
            sentences("He bought apples etc. Then he left."),
            ["He bought apples etc.", "Then he left."]
        );
    }

    #[test]
    fn dot_as_full_stop_after_common_hindi_words_splits() {
        // Some sites write `.` for `।`; one-syllable verbs like है are not abbreviations.
        assert_eq!(
            sentences("बारिश जारी है. लोग घरों में थे. स्कूल बंद रहेंगे."),
            ["बारिश जारी है.", "लोग घरों में थे.", "स्कूल बंद रहेंगे."]
        );
        assert_eq!(
            sentences("The match ended in 2025. India won."),
            ["The match ended in 2025.", "India won."]
        );
    }

    #[test]
    fn ellipsis_inside_a_sentence_does_not_split() {
        assert_eq!(
            sentences("हम... हम जीतेंगे। फिर… देखेंगे।"),
            ["हम... हम जीतेंगे।", "फिर… देखेंगे।"]
        );
        assert_eq!(
            sentences("He waited... and waited."),
            ["He waited... and waited."]
        );
        assert_eq!(
            sentences("He waited... Nobody came."),
            ["He waited...", "Nobody came."]
        );
    }

    #[test]
    fn list_numbers_and_verse_marks() {
        assert_eq!(
            sentences("1. पहला कदम उठाया गया।"),
            ["1. पहला कदम उठाया गया।"]
        );
        assert_eq!(
            sentences("धर्म की जय हो॥ अधर्म का नाश हो॥"),
            ["धर्म की जय हो॥", "अधर्म का नाश हो॥"]
        );
    }

    #[test]
    fn repeated_terminators_stay_together() {
        assert_eq!(sentences("क्या?! सच में?? हां।।"), ["क्या?!", "सच में??", "हां।।"]);
    }

    #[test]
    fn danda_without_following_space_still_splits() {
        assert_eq!(sentences("बारिश हुई।लोग भीगे।"), ["बारिश हुई।", "लोग भीगे।"]);
    }

    #[test]
    fn text_without_terminator_is_one_sentence() {
        assert_eq!(sentences("  भारत बनाम ऑस्ट्रेलिया  "), ["भारत बनाम ऑस्ट्रेलिया"]);
        assert!(sentences("").is_empty());
        assert!(sentences("   ").is_empty());
    }

    // --- clauses ---

    #[test]
    fn clauses_split_after_punctuation_and_rejoin_exactly() {
        let s = "बारिश के कारण मैच रद्द हुआ, दर्शक निराश हुए; आयोजकों ने कहा: टिकट का पैसा लौटाया जाएगा।";
        let clauses = split_clauses(s);
        assert_eq!(
            clauses,
            [
                "बारिश के कारण मैच रद्द हुआ,",
                "दर्शक निराश हुए;",
                "आयोजकों ने कहा:",
                "टिकट का पैसा लौटाया जाएगा।"
            ]
        );
        assert_eq!(clauses.join(" "), s);
    }

    #[test]
    fn clauses_keep_dates_and_glued_dashes_together() {
        let s = "चुनाव 13 मार्च, 2025 को होंगे — आयोग ने शर्मा—जो आयुक्त हैं—के हवाले से बताया।";
        assert_eq!(
            split_clauses(s),
            [
                "चुनाव 13 मार्च, 2025 को होंगे —",
                "आयोग ने शर्मा—जो आयुक्त हैं—के हवाले से बताया।"
            ]
        );
    }

    #[test]
    fn long_runs_split_before_conjunctions_short_ones_do_not() {
        assert_eq!(split_clauses("राम और श्याम आए।"), ["राम और श्याम आए।"]);
        let s = "सरकार ने आज संसद में नया विधेयक पेश किया लेकिन विपक्ष ने इसका कड़ा विरोध किया क्योंकि इसमें राज्यों से सलाह नहीं ली गई थी।";
        let clauses = split_clauses(s);
        assert_eq!(
            clauses,
            [
                "सरकार ने आज संसद में नया विधेयक पेश किया",
                "लेकिन विपक्ष ने इसका कड़ा विरोध किया",
                "क्योंकि इसमें राज्यों से सलाह नहीं ली गई थी।"
            ]
        );
        assert_eq!(clauses.join(" "), s);
    }

    #[test]
    fn clause_without_boundary_is_one_piece() {
        assert_eq!(split_clauses("बिना विराम का वाक्य"), ["बिना विराम का वाक्य"]);
        assert_eq!(split_clauses(""), [""]);
    }

    // --- paragraphs ---

    const ARTICLE: &str = "संसद में बजट पर तीखी बहस\n\
        \n\
        नई दिल्ली, 13 मार्च (भाषा)\n\
        वित्त मंत्री ने बुधवार को लोकसभा में बजट पेश किया। उन्होंने कहा, \"विकास दर 6.5 प्रतिशत रहेगी।\" विपक्ष ने इसे निराशाजनक बताया।\n\
        फोटो: पीटीआई\n\
        \n\
        \n\
        फोटो: संसद भवन के बाहर प्रदर्शन करते विपक्षी सांसद\n\
        (संसद भवन का एक दृश्य)\n\
        — एजेंसी\n\
        IANS\n\
        (फोटो: ANI)\n\
        Photo: Reuters\n\
        इनपुट: भाषा\n\
        क्या बजट से महंगाई घटेगी?";

    #[test]
    fn paragraph_kinds_are_classified() {
        let kinds: Vec<(ParagraphKind, String)> = segment(ARTICLE)
            .paragraphs
            .into_iter()
            .map(|p| (p.kind, p.text))
            .collect();
        use ParagraphKind::*;
        let expected = [
            Heading, Credit, Body, Credit, Caption, Caption, Credit, Credit, Credit, Credit,
            Credit, Body,
        ];
        assert_eq!(kinds.len(), expected.len(), "{kinds:#?}");
        for ((kind, text), want) in kinds.iter().zip(expected) {
            assert_eq!(*kind, want, "{text}");
        }
    }

    #[test]
    fn every_paragraph_gets_sentences() {
        let doc = segment(ARTICLE);
        assert!(doc.paragraphs.iter().all(|p| !p.sentences.is_empty()));
        assert_eq!(doc.paragraphs[0].sentences, ["संसद में बजट पर तीखी बहस"]);
        assert_eq!(doc.paragraphs[2].sentences.len(), 3);
    }

    #[test]
    fn separators_reproduce_the_layout() {
        let doc = segment(ARTICLE);
        let seps: Vec<&str> = doc
            .paragraphs
            .iter()
            .map(|p| p.separator.as_str())
            .collect();
        assert_eq!(seps[..5], ["\n\n", "\n", "\n", "\n\n\n", "\n"]);
        assert_eq!(seps.last(), Some(&""));
        assert_eq!(rebuild(&doc), ARTICLE);
    }

    fn rebuild(doc: &Document) -> String {
        doc.paragraphs
            .iter()
            .map(|p| format!("{}{}", p.text, p.separator))
            .collect()
    }

    #[test]
    fn leading_and_trailing_blank_lines_are_dropped() {
        let doc = segment("\n\n\nपहला।\n\nदूसरा।\n\n\n");
        assert_eq!(rebuild(&doc), "पहला।\n\nदूसरा।");
        // Lines are still counted from the top of the input, blank ones too.
        let lines: Vec<usize> = doc.paragraphs.iter().map(|p| p.line).collect();
        assert_eq!(lines, [4, 6]);
        assert!(segment("").paragraphs.is_empty());
        assert!(segment("\n \n\n").paragraphs.is_empty());
    }

    #[test]
    fn segment_of_normalized_text_rebuilds_it() {
        let raw = "\u{FEFF}शीर्षक\u{00A0} यहां\r\n\r\nपहला  वाक्य। दूसरा\t वाक्य।\r\nतीसरा पैराग्राफ।\n";
        let normalized = normalize(raw);
        assert_eq!(
            rebuild(&segment(&normalized)),
            normalized.trim_matches('\n')
        );
    }

    // --- odd input ---

    /// A tiny deterministic generator of strings over an alphabet full of the
    /// characters the scanners care about.
    fn odd_strings() -> Vec<String> {
        let alphabet: Vec<char> = "।॥?!.…\"'“”‘’()[] \n\t\r,;:—-0123456789०१२५अकखडॉ्रीोंः़\u{200B}\u{200D}\u{00A0}\u{FEFF}aAbZé\u{0301}😀/@"
            .chars()
            .collect();
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut out = vec![
            String::new(),
            "।".into(),
            "....".into(),
            "\"\"\"".into(),
            "\u{094D}\u{093F}".into(),
            "।।।???!!!...".into(),
            " . . . ".into(),
            "डॉ.".into(),
            "(".into(),
            ")".into(),
        ];
        for len in 0..200 {
            let mut s = String::new();
            for _ in 0..len % 40 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            out.push(s);
        }
        out
    }

    #[test]
    fn odd_input_never_panics_and_never_loses_text() {
        for raw in odd_strings() {
            let text = normalize(&raw);
            assert_eq!(normalize(&text), text, "normalize is idempotent on {raw:?}");
            let doc = segment(&text);
            for p in &doc.paragraphs {
                assert_eq!(ink(&p.sentences.concat()), ink(&p.text), "{raw:?}");
                for s in &p.sentences {
                    assert!(!s.is_empty() && s.trim() == s, "{s:?} from {raw:?}");
                    assert_eq!(split_clauses(s).join(" "), *s, "{raw:?}");
                }
            }
            assert_eq!(ink(&rebuild(&doc)), ink(&text), "{raw:?}");
        }
    }
}
