//! Numbers in Hindi and English text: found with their values (digits in both scripts,
//! grouping, decimals, fractions, times, lakh/crore and million/billion, spelled-out
//! numbers), compared by value, and rendered the ways an English translation may write
//! a Hindi number (so decoding can allow exactly those digits).

/// A number found in text: what it was written as, and its value with any scale word
/// that follows (`1,250 करोड़` is 1.25e10, so `Rs 12.5 billion` and `Rs 1,250 crore`
/// match it and `1,250 million` does not).
#[derive(Debug, Clone)]
pub struct Number {
    /// As written (Devanagari digits as ASCII), with its scale word.
    pub text: String,
    pub values: Vec<f64>,
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Whether `n` has the value of a number of `pool`.
pub fn matches(n: &Number, pool: &[Number]) -> bool {
    pool.iter().any(|m| {
        n.values
            .iter()
            .any(|a| m.values.iter().any(|b| same(*a, *b)))
    })
}

/// How the numbers of an English text compare with those of its Hindi.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The Hindi's numbers written with digits (spelled-out ones are too often not
    /// meant as figures), each with whether the English has its value.
    pub source: Vec<(Number, bool)>,
    /// Numbers the English writes with digits whose value the Hindi does not have.
    pub invented: Vec<Number>,
}

impl Comparison {
    pub fn kept(&self) -> usize {
        self.source.iter().filter(|(_, kept)| *kept).count()
    }

    pub fn missing(&self) -> impl Iterator<Item = &Number> {
        self.source.iter().filter(|(_, kept)| !kept).map(|(n, _)| n)
    }
}

/// Compare the numbers of `english` with those of `hindi`, by value: either side may
/// spell a number out (`तीन`, `three`) where the other writes digits.
pub fn compare(hindi: &str, english: &str) -> Comparison {
    let hi_digits = digit_numbers(hindi, HINDI_SCALES);
    let en_digits = digit_numbers(english, ENGLISH_SCALES);
    let mut hi_pool = hi_digits.clone();
    hi_pool.extend(word_numbers(hindi, HINDI_WORDS, HINDI_SCALES));
    let mut en_pool = en_digits.clone();
    en_pool.extend(word_numbers(english, ENGLISH_WORDS, ENGLISH_SCALES));
    Comparison {
        source: hi_digits
            .into_iter()
            .map(|n| {
                let kept = matches(&n, &en_pool);
                (n, kept)
            })
            .collect(),
        invented: {
            // A form the Hindi allows though no value of it matches: a clock time in
            // words (10 बजकर 42 मिनट → 10:42).
            let forms = renderings(hindi);
            en_digits
                .into_iter()
                .filter(|n| !matches(n, &hi_pool) && !forms.contains(&n.text))
                .collect()
        },
    }
}

pub const HINDI_SCALES: &[(&str, f64)] = &[
    ("हजार", 1e3),
    ("हज़ार", 1e3),
    ("लाख", 1e5),
    ("करोड़", 1e7),
    ("करोड़", 1e7),
    ("अरब", 1e9),
    ("खरब", 1e11),
];

pub const ENGLISH_SCALES: &[(&str, f64)] = &[
    ("hundred", 1e2),
    ("thousand", 1e3),
    ("lakh", 1e5),
    ("lakhs", 1e5),
    ("crore", 1e7),
    ("crores", 1e7),
    ("million", 1e6),
    ("mn", 1e6),
    ("billion", 1e9),
    ("bn", 1e9),
    ("trillion", 1e12),
];

/// Hindi number words (cardinal and ordinal stems), which may stand behind an English
/// digit but are not themselves required in the English (it may spell them out).
pub const HINDI_WORDS: &[(&str, f64)] = &[
    ("एक", 1.0),
    ("दो", 2.0),
    ("तीन", 3.0),
    ("चार", 4.0),
    ("पांच", 5.0),
    ("पाँच", 5.0),
    ("छह", 6.0),
    ("छः", 6.0),
    ("सात", 7.0),
    ("आठ", 8.0),
    ("नौ", 9.0),
    ("दस", 10.0),
    ("ग्यारह", 11.0),
    ("बारह", 12.0),
    ("तेरह", 13.0),
    ("चौदह", 14.0),
    ("पंद्रह", 15.0),
    ("पन्द्रह", 15.0),
    ("सोलह", 16.0),
    ("सत्रह", 17.0),
    ("अठारह", 18.0),
    ("उन्नीस", 19.0),
    ("बीस", 20.0),
    ("पच्चीस", 25.0),
    ("तीस", 30.0),
    ("चालीस", 40.0),
    ("पचास", 50.0),
    ("साठ", 60.0),
    ("सत्तर", 70.0),
    ("अस्सी", 80.0),
    ("नब्बे", 90.0),
    ("सौ", 100.0),
    ("हजार", 1e3),
    ("हज़ार", 1e3),
    ("लाख", 1e5),
    ("करोड़", 1e7),
    ("डेढ़", 1.5),
    ("ढाई", 2.5),
    ("आधा", 0.5),
    ("आधे", 0.5),
    ("दर्जन", 12.0),
    ("पहला", 1.0),
    ("पहले", 1.0),
    ("पहली", 1.0),
    ("दूसरा", 2.0),
    ("दूसरे", 2.0),
    ("दूसरी", 2.0),
    ("तीसरा", 3.0),
    ("तीसरे", 3.0),
    ("तीसरी", 3.0),
    ("चौथा", 4.0),
    ("चौथे", 4.0),
    ("चौथी", 4.0),
    ("छठा", 6.0),
    ("छठे", 6.0),
    ("छठी", 6.0),
];

pub const ENGLISH_WORDS: &[(&str, f64)] = &[
    ("zero", 0.0),
    ("one", 1.0),
    ("two", 2.0),
    ("three", 3.0),
    ("four", 4.0),
    ("five", 5.0),
    ("six", 6.0),
    ("seven", 7.0),
    ("eight", 8.0),
    ("nine", 9.0),
    ("ten", 10.0),
    ("eleven", 11.0),
    ("twelve", 12.0),
    ("thirteen", 13.0),
    ("fourteen", 14.0),
    ("fifteen", 15.0),
    ("sixteen", 16.0),
    ("seventeen", 17.0),
    ("eighteen", 18.0),
    ("nineteen", 19.0),
    ("twenty", 20.0),
    ("thirty", 30.0),
    ("forty", 40.0),
    ("fifty", 50.0),
    ("sixty", 60.0),
    ("seventy", 70.0),
    ("eighty", 80.0),
    ("ninety", 90.0),
    ("hundred", 100.0),
    ("thousand", 1e3),
    ("million", 1e6),
    ("billion", 1e9),
    ("dozen", 12.0),
    ("half", 0.5),
    ("first", 1.0),
    ("second", 2.0),
    ("third", 3.0),
    ("fourth", 4.0),
    ("fifth", 5.0),
    ("sixth", 6.0),
    ("seventh", 7.0),
    ("eighth", 8.0),
    ("ninth", 9.0),
    ("tenth", 10.0),
];

/// Devanagari digits as ASCII, everything else unchanged.
pub fn ascii_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{0966}'..='\u{096F}' => char::from(b'0' + (c as u32 - 0x0966) as u8),
            _ => c,
        })
        .collect()
}

/// Numbers written with digits: `80,245`, `1,25,000`, `6.25`, `2 1/2`, `3/4`, `10:30`
/// (taken as 10.30, so `10.30 am` matches), each with the scale word that follows it.
pub fn digit_numbers(text: &str, scales: &[(&str, f64)]) -> Vec<Number> {
    let text = ascii_digits(text);
    let b: Vec<char> = text.chars().collect();
    let mut out: Vec<Number> = Vec::new();
    let mut i = 0;
    // Where the previous number ended, to join `2` and `1/2` into `2 1/2`.
    let mut last_end = usize::MAX;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i;
        // Digits with grouping commas (a comma must be followed by a digit).
        while j < b.len()
            && (b[j].is_ascii_digit()
                || (b[j] == ',' && j + 1 < b.len() && b[j + 1].is_ascii_digit()))
        {
            j += 1;
        }
        // Decimal part, or a time written with a colon.
        if j + 1 < b.len() && (b[j] == '.' || b[j] == ':') && b[j + 1].is_ascii_digit() {
            j += 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        }
        let raw: String = b[start..j].iter().collect();
        let mut value: f64 = raw
            .replace(',', "")
            .replace(':', ".")
            .parse()
            .unwrap_or(0.0);
        let mut text_of: String = raw.clone();
        // A fraction: `1/2`, possibly after a whole number (`2 1/2`).
        if j + 1 < b.len() && b[j] == '/' && b[j + 1].is_ascii_digit() {
            let mut k = j + 1;
            while k < b.len() && b[k].is_ascii_digit() {
                k += 1;
            }
            let den: f64 = b[j + 1..k]
                .iter()
                .collect::<String>()
                .parse()
                .unwrap_or(1.0);
            if den != 0.0 {
                value /= den;
            }
            text_of = b[start..k].iter().collect();
            j = k;
            if let Some(prev) = out.last_mut()
                && last_end + 1 == start
                && b[last_end] == ' '
                && prev.text.chars().all(|c| c.is_ascii_digit())
            {
                prev.text = format!("{} {}", prev.text, text_of);
                prev.values = vec![prev.values[0] + value];
                last_end = j;
                i = j;
                continue;
            }
        }
        let mut values = vec![value];
        // A scale word right after: `1,250 करोड़`, `12.5 billion`.
        let rest: String = b[j..].iter().take(16).collect();
        let next = rest
            .trim_start()
            .split(|c: char| c.is_whitespace() || c.is_ascii_punctuation())
            .next()
            .unwrap_or("")
            .to_lowercase();
        if let Some((w, s)) = scales.iter().find(|(w, _)| *w == next) {
            // The scale is part of the number: 2 लाख is 200,000, not 2.
            values = vec![value * s];
            text_of = format!("{text_of} {w}");
        }
        out.push(Number {
            text: text_of,
            values,
        });
        last_end = j;
        i = j;
    }
    out
}

/// Spelled-out numbers (`छह`, `six`, `twenty-five`, `तीन लाख`), which may match digits
/// on the other side.
pub fn word_numbers(text: &str, table: &[(&str, f64)], scales: &[(&str, f64)]) -> Vec<Number> {
    let tokens: Vec<String> = text
        .split(|c: char| c.is_whitespace() || (c.is_ascii_punctuation() && c != '-'))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect();
    let mut out = Vec::new();
    for (i, tok) in tokens.iter().enumerate() {
        // twenty-five
        let value = tok
            .split('-')
            .map(|p| table.iter().find(|(w, _)| *w == p).map(|(_, v)| *v))
            .try_fold(0.0, |acc, v| v.map(|v| acc + v));
        let Some(value) = value else { continue };
        let mut values = vec![value];
        let mut text = tok.clone();
        if let Some(next) = tokens.get(i + 1)
            && let Some((w, s)) = scales.iter().find(|(w, _)| w == next)
        {
            // The scale is part of the number: तीन लाख is 300,000, not 3.
            values = vec![value * s];
            text = format!("{tok} {w}");
        }
        out.push(Number { text, values });
    }
    out
}

/// The digit strings an English translation may write for the numbers of `hindi`: each
/// number as written and with its grouping dropped or made Western, in other scale words
/// (1,250 करोड़ → 12.5 billion or 12,500 million; 1,25,000 → 1.25 lakh), a time with
/// either separator (8.30 → 8:30; 10 बजकर 42 मिनट → 10:42), the digit groups of a
/// fraction, and the digits of spelled-out numbers (छह → 6).
pub fn renderings(hindi: &str) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    for n in digit_numbers(hindi, HINDI_SCALES) {
        // The number as written, without its scale word (`1,250 करोड़` → `1,250`).
        let mantissa = match n.text.rsplit_once(' ') {
            Some((m, w)) if HINDI_SCALES.iter().any(|(s, _)| *s == w) => m.to_string(),
            _ => n.text.clone(),
        };
        let value = n.values[0];
        // A fraction's digit groups: 2 1/2 may be written as it is.
        if mantissa.contains('/') {
            for part in mantissa.split(|c: char| !c.is_ascii_digit()) {
                if !part.is_empty() {
                    out.insert(part.to_string());
                }
            }
        }
        out.insert(mantissa.clone());
        if mantissa.contains(['.', ':']) {
            out.insert(mantissa.replace('.', ":"));
            out.insert(mantissa.replace(':', "."));
        }
        let written: f64 = mantissa
            .replace(',', "")
            .replace(':', ".")
            .parse()
            .unwrap_or(value);
        out.extend(forms(written));
        out.extend(amount_forms(value));
    }
    for n in word_numbers(hindi, HINDI_WORDS, HINDI_SCALES) {
        for &v in &n.values {
            out.extend(amount_forms(v));
        }
    }
    // A clock time in words: 10 बजकर 42 मिनट is 10:42.
    let ascii = ascii_digits(hindi);
    let words: Vec<&str> = ascii.split_whitespace().collect();
    for w in words.windows(3) {
        if w[1].starts_with("बजकर") && w[0].chars().all(|c| c.is_ascii_digit()) {
            let minutes: String = w[2].chars().take_while(char::is_ascii_digit).collect();
            if !minutes.is_empty() {
                out.insert(format!("{}:{minutes:0>2}", w[0]));
                out.insert(format!("{}.{minutes:0>2}", w[0]));
            }
        }
    }
    out.into_iter().collect()
}

/// The ways to write an amount: its own forms and, for large amounts, its forms in other
/// scales (thousand, lakh, million, crore, billion: 3,00,000 is 3 lakh or 300 thousand).
fn amount_forms(value: f64) -> Vec<String> {
    let mut out = forms(value);
    if value >= 1e4 {
        for scale in [1e3, 1e5, 1e6, 1e7, 1e9] {
            out.extend(nice(value / scale).into_iter().flat_map(forms));
        }
    }
    out
}

/// `x` when it is a number worth writing (at least 1, at most 3 decimals).
fn nice(x: f64) -> Option<f64> {
    (x >= 1.0 && ((x * 1000.0).round() - x * 1000.0).abs() < 1e-6).then_some(x)
}

/// The ways `x` may be written: plain (at most 3 decimals, no trailing zeros), and for
/// whole numbers of 1,000 and more with Western and Indian grouping.
fn forms(x: f64) -> Vec<String> {
    let mut out = Vec::new();
    if !x.is_finite() || x < 0.0 {
        return out;
    }
    let plain = format!("{x:.3}");
    let plain = plain
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string();
    out.push(plain.clone());
    if plain.len() >= 4 && !plain.contains('.') {
        out.push(group(&plain, false));
        out.push(group(&plain, true));
    }
    out
}

/// Digits grouped by thousands (`125,000`), or the Indian way (`1,25,000`).
fn group(digits: &str, indian: bool) -> String {
    let n = digits.len();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        let left = n - i;
        let boundary = if indian {
            left > 3 && (left - 3).is_multiple_of(2) || left == 3
        } else {
            left.is_multiple_of(3)
        };
        if i > 0 && boundary {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The numbers an answer may write: the renderings of its source's numbers, every prefix
/// of them (a number is written a token at a time), and the values they stand for (so a
/// scale word after a number must keep its value: 2.4 लाख may become "2.4 lakh" or
/// "240,000", never "2.4 million"). Decoding masks any token that would start or finish
/// a number outside the plan, so no number is invented.
#[derive(Debug, Default)]
pub struct NumberPlan {
    complete: std::collections::BTreeSet<String>,
    prefixes: std::collections::BTreeSet<String>,
    values: Vec<f64>,
    /// The mask for each numeric tail met so far (see `mask`): a plan serves one
    /// vocabulary, and most steps share a tail (none at all).
    masks: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Mask>>>,
}

impl PartialEq for NumberPlan {
    fn eq(&self, other: &Self) -> bool {
        self.complete == other.complete && self.values == other.values
    }
}

/// Which tokens a number plan lets follow a given tail.
#[derive(Debug, PartialEq)]
pub enum Mask {
    /// Any token but these.
    Ban(Vec<u32>),
    /// Only these (inside a number that must go on, or a mantissa that needs its scale).
    Only(Vec<u32>),
}

fn is_separator(c: char) -> bool {
    matches!(c, ',' | '.' | ':')
}

/// The value a digit run stands for (`1,250` → 1250, `8:30` → 8.3).
fn run_value(run: &str) -> Option<f64> {
    run.replace(',', "").replace(':', ".").parse().ok()
}

/// The multiplier of an English scale word (`lakh` → 1e5), for a token's text.
pub fn english_scale(text: &str) -> Option<f64> {
    let w = text.trim().to_lowercase();
    ENGLISH_SCALES
        .iter()
        .find(|(s, _)| *s == w)
        .map(|(_, v)| *v)
}

impl NumberPlan {
    pub fn new(renderings: impl IntoIterator<Item = String>, values: Vec<f64>) -> NumberPlan {
        let mut plan = NumberPlan {
            values,
            ..NumberPlan::default()
        };
        for r in renderings {
            for (i, _) in r.char_indices().skip(1) {
                plan.prefixes.insert(r[..i].to_string());
            }
            plan.prefixes.insert(r.clone());
            plan.complete.insert(r);
        }
        plan
    }

    /// The plan for the numbers of a Hindi source.
    pub fn of(hindi: &str) -> NumberPlan {
        let mut values: Vec<f64> = digit_numbers(hindi, HINDI_SCALES)
            .into_iter()
            .chain(word_numbers(hindi, HINDI_WORDS, HINDI_SCALES))
            .flat_map(|n| n.values)
            .collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        NumberPlan::new(renderings(hindi), values)
    }

    fn has_value(&self, v: f64) -> bool {
        self.values.iter().any(|&x| same(x, v))
    }

    /// Whether `s` (the numeric end of an answer, then a token's text) writes only planned
    /// numbers: every digit run it closes is a rendering, and a run at its very end is
    /// one or on its way to one. A run is digits with `,` `.` `:` between digits; a
    /// separator after a finished number is punctuation.
    pub fn allows(&self, s: &str) -> bool {
        let b = s.as_bytes();
        let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        let sep = |i: usize| b.get(i).is_some_and(|&c| is_separator(c as char));
        let mut i = 0;
        while i < b.len() {
            if !digit(i) {
                i += 1;
                continue;
            }
            let start = i;
            let mut j = i;
            loop {
                while digit(j) {
                    j += 1;
                }
                if sep(j) && digit(j + 1) {
                    j += 1;
                    continue;
                }
                break;
            }
            // Runs are ASCII, so these byte ranges are char boundaries.
            let run = &s[start..j];
            if j == b.len() {
                return self.prefixes.contains(run);
            }
            if j + 1 == b.len() && sep(j) {
                return self.complete.contains(run) || self.prefixes.contains(&s[start..=j]);
            }
            if !self.complete.contains(run) {
                return false;
            }
            i = j;
        }
        true
    }

    /// Whether `tail` (the numeric end of an answer) stops inside a planned number that
    /// must go on: only tokens that continue it may follow.
    pub fn open(&self, tail: &str) -> bool {
        let last = last_run(tail);
        !last.is_empty() && !self.complete.contains(last) && self.allows(tail)
    }

    /// The mask for the token after `tail` (an answer's numeric end), over `tokens` (the
    /// vocabulary's number tokens: digits, separators, scale words, with their text).
    /// None: nothing to mask.
    pub fn mask(&self, tail: &str, tokens: &[(u32, String)]) -> Option<std::sync::Arc<Mask>> {
        let mut masks = self.masks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = masks.get(tail) {
            return Some(m.clone());
        }
        let m = std::sync::Arc::new(self.compute_mask(tail, tokens));
        masks.insert(tail.to_string(), m.clone());
        Some(m)
    }

    fn compute_mask(&self, tail: &str, tokens: &[(u32, String)]) -> Mask {
        let mut joined = String::with_capacity(tail.len() + 16);
        let mut digits_ok = |piece: &str| {
            joined.clear();
            joined.push_str(tail);
            joined.push_str(piece);
            self.allows(&joined)
        };
        // A finished number right before: a scale word must keep its value, and a
        // mantissa that is only a source value with its scale must get one.
        let run = last_run(tail);
        let finished = !run.is_empty() && tail.ends_with(run) && self.complete.contains(run);
        let value = run_value(run);
        let scale_ok = |s: f64| finished && value.is_some_and(|v| self.has_value(v * s));
        let needs_scale = finished
            && value.is_some_and(|v| !self.has_value(v))
            && tokens
                .iter()
                .any(|(_, t)| english_scale(t).is_some_and(&scale_ok));
        if self.open(tail) || needs_scale {
            // A token that writes on (digits, or a separator then digits) may continue the
            // number; anything else would end it where it may not end.
            let extends = |t: &str| {
                let mut c = t.chars();
                match c.next() {
                    Some(d) if d.is_ascii_digit() => true,
                    Some(p) if is_separator(p) => {
                        !needs_scale || c.next().is_some_and(|d| d.is_ascii_digit())
                    }
                    _ => false,
                }
            };
            let only = tokens
                .iter()
                .filter(|(_, t)| match english_scale(t) {
                    Some(s) => scale_ok(s),
                    None => extends(t) && digits_ok(t),
                })
                .map(|(id, _)| *id)
                .collect();
            return Mask::Only(only);
        }
        Mask::Ban(
            tokens
                .iter()
                .filter(|(_, t)| match english_scale(t) {
                    Some(s) => finished && !scale_ok(s),
                    None => !digits_ok(t),
                })
                .map(|(id, _)| *id)
                .collect(),
        )
    }
}

/// The last digit run of a numeric tail (`8.30` of `8.30.`; empty without digits).
fn last_run(tail: &str) -> &str {
    let digits = tail.trim_end_matches(is_separator);
    let start = digits
        .rfind(|c: char| !c.is_ascii_digit() && !is_separator(c))
        .map_or(0, |i| i + 1);
    let run = &digits[start..];
    if run.chars().any(|c| c.is_ascii_digit()) {
        run.trim_start_matches(is_separator)
    } else {
        ""
    }
}

/// The end of `text` that a following token could extend into a number: its trailing
/// digits and separators.
pub fn numeric_tail(text: &str) -> &str {
    let keep = text
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit() || is_separator(*c))
        .last()
        .map_or(text.len(), |(i, _)| i);
    &text[keep..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(hindi: &str, english: &[&str]) {
        let r = renderings(hindi);
        for e in english {
            assert!(r.iter().any(|x| x == e), "{hindi}: {e} not in {r:?}");
        }
    }

    #[test]
    fn a_hindi_number_may_be_written_the_ways_english_writes_it() {
        has(
            "1,250 करोड़ रुपये",
            &["1,250", "1250", "12.5", "12,500", "12500"],
        );
        has(
            "1,25,000 लोग",
            &["1,25,000", "125,000", "125000", "1.25", "125"],
        );
        has("सुबह 8.30 बजे", &["8.30", "8:30"]);
        has("10 बजकर 42 मिनट पर", &["10", "42", "10:42", "10.42"]);
        has("कुल 2 1/2 घंटे", &["2", "1", "2.5", "2 1/2"]);
        has("२२ नवंबर को ३,१४० करोड़", &["22", "3,140", "31.4"]);
        has("छह विकेट", &["6"]);
        has("तीन लाख रुपये", &["300,000", "3"]);
        has("वित्त वर्ष 2025-26", &["2025", "26"]);
        has("6.25 प्रतिशत", &["6.25"]);
    }

    #[test]
    fn a_scale_word_after_a_number_must_keep_its_value() {
        let plan = NumberPlan::of("2.4 लाख हेक्टेयर में फसल बर्बाद हुई और 36,000 घर टूटे।");
        let tokens: Vec<(u32, String)> =
            [" lakh", " million", " crore", " thousand", "2", "4", "."]
                .iter()
                .enumerate()
                .map(|(i, t)| (i as u32, t.to_string()))
                .collect();
        // After "2.4" only a scale that keeps 240,000 may come: lakh, not million.
        assert_eq!(*plan.mask("2.4", &tokens).unwrap(), Mask::Only(vec![0]));
        // After "36,000" (a value of its own) a scale word would change it.
        let Mask::Ban(banned) = &*plan.mask("36,000", &tokens).unwrap() else {
            panic!("36,000 needs no scale")
        };
        assert_eq!(banned, &[0, 1, 2, 3, 4, 5]);
        // "240,000" is the same amount written out.
        assert!(plan.allows("240,000 "));
    }

    #[test]
    fn a_clock_time_in_words_is_kept_not_invented() {
        let c = compare(
            "उपग्रह सुबह 10 बजकर 42 मिनट पर छोड़ा गया।",
            "It was launched at 10:42 am.",
        );
        assert!(c.invented.is_empty(), "{:?}", c.invented);
        let c = compare(
            "उपग्रह सुबह 10 बजकर 42 मिनट पर छोड़ा गया।",
            "It was launched at 11:42 am.",
        );
        assert_eq!(c.invented.len(), 1);
    }

    #[test]
    fn the_plan_allows_planned_numbers_and_nothing_else() {
        let plan = NumberPlan::of("सफदरजंग में 112 मिलीमीटर बारिश 8.30 बजे तक हुई।");
        for ok in [
            "112",
            " 112 mm",
            "at 8.30 am",
            "8:30",
            "by 8.30.",
            "112, the",
            "1",
            "11",
            "8.",
        ] {
            assert!(plan.allows(ok), "{ok:?} should be allowed");
        }
        // A changed, shortened or invented number is not.
        for bad in [
            "102", "12 mm", "112.5", "2024", "8.45", "1 ", "11 mm", "8 am",
        ] {
            assert!(!plan.allows(bad), "{bad:?} should not be allowed");
        }
        // Inside a number that is not finished, only its continuation may follow.
        assert!(plan.open("11") && plan.open("8."));
        assert_eq!(last_run("8.30."), "8.30");
        assert_eq!(last_run("."), "");
        assert!(!plan.open("112") && !plan.open("112.") && !plan.open("mm"));
        assert_eq!(numeric_tail("rain of 11"), "11");
        assert_eq!(numeric_tail("by 8."), "8.");
        assert_eq!(numeric_tail("rain."), ".");
        assert_eq!(numeric_tail("rain"), "");
    }
}
