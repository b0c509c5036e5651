//! Align an English translation made elsewhere to its Hindi source, sentence by
//! sentence, for `anuvad review`: paragraphs first (one line each), then the sentences
//! inside each pair of paragraphs, by dynamic programming over 1–1, 1–2, 2–1, 1–0 and
//! 0–1 groups, scored by length (against the text's own English/Hindi ratio) and by the
//! numbers the two sides share.

use crate::text::segment::{self, Document};

/// English sentences of a paragraph: split after `.`, `!` or `?` (and closing quotes or
/// brackets) before whitespace and a capital, digit or quote; not after abbreviations
/// or initials, and a leading dateline (`New Delhi, July 14 (PTI).`) stays with its
/// sentence, as in the Hindi.
pub fn split_english(paragraph: &str) -> Vec<String> {
    const ABBREVIATIONS: &[&str] = &[
        "mr", "mrs", "ms", "dr", "rs", "st", "jr", "sr", "no", "vs", "etc", "inc", "ltd", "co",
        "gov", "govt", "sen", "rep", "gen", "lt", "col", "capt", "prof", "a.m", "p.m", "u.s",
        "i.e", "e.g", "approx", "dept", "jan", "feb", "mar", "apr", "aug", "sept", "sep", "oct",
        "nov", "dec", "km", "kg",
    ];
    let chars: Vec<char> = paragraph.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '.' | '!' | '?') {
            let mut end = i + 1;
            while end < chars.len() && matches!(chars[end], '"' | '\'' | '”' | '’' | ')') {
                end += 1;
            }
            let next = chars[end..].iter().position(|c| !c.is_whitespace());
            let boundary = match next {
                Some(k) if k > 0 => {
                    let n = chars[end + k];
                    n.is_uppercase() || n.is_ascii_digit() || matches!(n, '"' | '“' | '\'' | '‘')
                }
                _ => false,
            };
            let word: String = chars[start..i]
                .iter()
                .rev()
                .take_while(|c| !c.is_whitespace())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<String>()
                .trim_start_matches(['(', '"', '“'])
                .to_lowercase();
            let abbreviation = c == '.'
                && (ABBREVIATIONS.contains(&word.as_str())
                    || (word.chars().count() == 1 && word.chars().all(char::is_alphabetic)));
            if boundary && !abbreviation {
                let s: String = chars[start..end].iter().collect();
                out.push(s.trim().to_string());
                start = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    let tail: String = chars[start..].iter().collect();
    if !tail.trim().is_empty() {
        out.push(tail.trim().to_string());
    }
    // A dateline on its own goes with the sentence it introduces.
    if out.len() > 1 && is_dateline(&out[0]) {
        let first = out.remove(0);
        out[0] = format!("{first} {}", out[0]);
    }
    out
}

fn is_dateline(s: &str) -> bool {
    let s = s.trim_end_matches(['.', ':', '-', '—']);
    s.chars().count() <= 45
        && s.ends_with(')')
        && s.contains('(')
        && s.contains(',')
        && !s.contains(". ")
}

/// One aligned group: Hindi sentences (as paragraph and sentence index) and the
/// English sentences translated from them. Either side may be empty; `paragraph` is
/// the paragraph the group is shown in.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub paragraph: usize,
    pub source: Vec<(usize, usize)>,
    pub english: Vec<String>,
}

/// Align `english` (one paragraph per non-empty line; normalized here like the
/// source) to `doc`.
pub fn align(doc: &Document, english: &str) -> Vec<Group> {
    let english = segment::normalize(english);
    let en_paras: Vec<Vec<String>> = english
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(split_english)
        .collect();
    let hi_lens: Vec<f64> = doc
        .paragraphs
        .iter()
        .map(|p| chars(&p.text) as f64)
        .collect();
    let en_lens: Vec<f64> = en_paras
        .iter()
        .map(|p| p.iter().map(|s| chars(s)).sum::<usize>() as f64)
        .collect();
    // The text's own English/Hindi length ratio, but not below 1.0: English runs
    // 1.1–1.2× the Hindi's letters in full translations (measured on the test
    // articles), and a translation that dropped sentences would otherwise teach the
    // aligner to expect short English and hide the drop.
    let ratio =
        ((en_lens.iter().sum::<f64>() + 1.0) / (hi_lens.iter().sum::<f64>() + 1.0)).clamp(1.0, 1.6);

    let para_pairs: Vec<(Vec<usize>, Vec<usize>)> = if hi_lens.len() == en_lens.len() {
        (0..hi_lens.len()).map(|i| (vec![i], vec![i])).collect()
    } else {
        let hi_text: Vec<String> = doc.paragraphs.iter().map(|p| p.text.clone()).collect();
        let en_text: Vec<String> = en_paras.iter().map(|p| p.join(" ")).collect();
        dp_within(&hi_text, &en_text, ratio, None)
    };

    let mut groups = Vec::new();
    for (his, ens) in para_pairs {
        let english: Vec<String> = ens.iter().flat_map(|&e| en_paras[e].clone()).collect();
        if his.is_empty() {
            let paragraph = groups.last().map_or(0, |g: &Group| g.paragraph);
            groups.push(Group {
                paragraph,
                source: vec![],
                english,
            });
            continue;
        }
        // Hindi sentences of the paragraph(s), remembering where each came from.
        let mut hi: Vec<(usize, usize, String)> = Vec::new();
        for &p in &his {
            for (k, s) in doc.paragraphs[p].sentences.iter().enumerate() {
                hi.push((p, k, s.clone()));
            }
        }
        let hi_text: Vec<String> = hi.iter().map(|(_, _, s)| s.clone()).collect();
        let para_of: Vec<usize> = hi.iter().map(|(p, _, _)| *p).collect();
        for (hs, es) in dp_within(&hi_text, &english, ratio, Some(&para_of)) {
            let paragraph = hs.first().map_or_else(
                || groups.last().map_or(his[0], |g: &Group| g.paragraph),
                |&h| hi[h].0,
            );
            groups.push(Group {
                paragraph,
                source: hs.iter().map(|&h| (hi[h].0, hi[h].1)).collect(),
                english: es.iter().map(|&e| english[e].clone()).collect(),
            });
        }
    }
    groups
}

fn chars(s: &str) -> usize {
    s.chars().filter(|c| !c.is_whitespace()).count()
}

/// Cost of putting Hindi `h` and English `e` (joined texts) in one group: a prior for
/// the group's shape plus a Gale–Church-style length term (the English length's
/// deviation from `ratio` × the Hindi length, in units that grow with the square root
/// of the length, so a long sentence missing from a group costs more than a short
/// one), minus evidence from numbers both sides share.
fn cost(h: &str, e: &str, ratio: f64, kind: (usize, usize)) -> f64 {
    // Hindi → English lengths vary less per sentence than this allows for noise in
    // short sentences; 3.0 separates a dropped short sentence from a merged one.
    const VARIANCE: f64 = 3.0;
    let prior = match kind {
        (1, 1) => 0.0,
        (1, 0) | (0, 1) => 4.5,
        _ => 2.3,
    };
    if h.is_empty() || e.is_empty() {
        return prior;
    }
    let (hl, el) = (chars(h) as f64, chars(e) as f64);
    let delta = (el - ratio * hl) / (hl.max(1.0) * VARIANCE).sqrt();
    let (shared, unshared) = super::checks::number_agreement(h, e);
    prior + delta * delta / 2.0 - shared as f64 + unshared as f64
}

/// Minimum-cost monotone alignment of `hi` to `en` with groups of sizes 1–1, 1–2,
/// 2–1, 1–0, 0–1; returns the index groups in order. With `para_of`, two Hindi
/// sentences are grouped only when they are in the same paragraph.
fn dp_within(
    hi: &[String],
    en: &[String],
    ratio: f64,
    para_of: Option<&[usize]>,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    let (n, m) = (hi.len(), en.len());
    let mut best = vec![vec![f64::INFINITY; m + 1]; n + 1];
    let mut back = vec![vec![(0usize, 0usize); m + 1]; n + 1];
    best[0][0] = 0.0;
    const MOVES: [(usize, usize); 5] = [(1, 1), (1, 0), (0, 1), (2, 1), (1, 2)];
    for i in 0..=n {
        for j in 0..=m {
            if best[i][j].is_infinite() {
                continue;
            }
            for (di, dj) in MOVES {
                if i + di > n || j + dj > m {
                    continue;
                }
                if di == 2 && para_of.is_some_and(|p| p[i] != p[i + 1]) {
                    continue;
                }
                let h = hi[i..i + di].join(" ");
                let e = en[j..j + dj].join(" ");
                let c = best[i][j] + cost(&h, &e, ratio, (di, dj));
                if c < best[i + di][j + dj] {
                    best[i + di][j + dj] = c;
                    back[i + di][j + dj] = (di, dj);
                }
            }
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        let (di, dj) = back[i][j];
        out.push(((i - di..i).collect(), (j - dj..j).collect()));
        i -= di;
        j -= dj;
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment_and_align(hindi: &str, english: &str) -> (Document, Vec<Group>) {
        let doc = segment::segment(&segment::normalize(hindi));
        let groups = align(&doc, english);
        (doc, groups)
    }

    #[test]
    fn english_sentences_split_at_ends_but_not_abbreviations_decimals_or_datelines() {
        assert_eq!(
            split_english(
                "New Delhi, July 14 (PTI). Rain hit Delhi. Mr. Singh said Rs. 6.25 crore was spent at 8.30 a.m. on Sunday. \"It was bad,\" he said. Was it? Yes!"
            ),
            [
                "New Delhi, July 14 (PTI). Rain hit Delhi.",
                "Mr. Singh said Rs. 6.25 crore was spent at 8.30 a.m. on Sunday.",
                "\"It was bad,\" he said.",
                "Was it?",
                "Yes!"
            ]
        );
        assert_eq!(
            split_english("He said, \"We are ready.\" The team left."),
            ["He said, \"We are ready.\"", "The team left."]
        );
    }

    const HINDI: &str = "दिल्ली में बारिश\n\nनई दिल्ली, 14 जुलाई (भाषा)। राजधानी में रविवार को भारी बारिश हुई। सफदरजंग में 112 मिलीमीटर बारिश दर्ज की गई। दिल्ली सरकार ने जलभराव को देखते हुए सभी सरकारी और निजी स्कूलों में सोमवार को छुट्टी की घोषणा की है। शहर में 45 जगह पंप लगाए गए।\n";

    fn shape(groups: &[Group]) -> Vec<(usize, Vec<usize>, usize)> {
        groups
            .iter()
            .map(|g| {
                let s = g.source.iter().map(|(_, s)| *s).collect();
                (g.paragraph, s, g.english.len())
            })
            .collect()
    }

    #[test]
    fn one_to_one_translations_align_sentence_by_sentence() {
        let en = "Rain in Delhi\n\nNew Delhi, July 14 (PTI). Heavy rain lashed the capital on Sunday. Safdarjung recorded 112 millimetres of rain. In view of the waterlogging, the Delhi government has announced a holiday on Monday in all government and private schools. Pumps were installed at 45 places in the city.\n";
        let (_, g) = segment_and_align(HINDI, en);
        assert_eq!(
            shape(&g),
            [
                (0, vec![0], 1),
                (1, vec![0], 1),
                (1, vec![1], 1),
                (1, vec![2], 1),
                (1, vec![3], 1)
            ]
        );
    }

    #[test]
    fn merged_and_missing_sentences_are_grouped_right() {
        // Two Hindi sentences merged into one English sentence; the holiday sentence
        // dropped. (Lengths are the evidence: a dropped sentence much shorter than its
        // neighbours can be taken as merged into one of them instead.)
        let en = "Rain in Delhi\n\nNew Delhi, July 14 (PTI). Heavy rain lashed the capital on Sunday, and Safdarjung recorded 112 millimetres of rain. Pumps were installed at 45 places in the city.\n";
        let (_, g) = segment_and_align(HINDI, en);
        assert_eq!(
            shape(&g),
            [
                (0, vec![0], 1),
                (1, vec![0, 1], 1),
                (1, vec![2], 0),
                (1, vec![3], 1)
            ]
        );
    }

    #[test]
    fn a_sentence_translated_as_two_is_one_group() {
        let en = "Rain in Delhi\n\nNew Delhi, July 14 (PTI). Heavy rain lashed the capital on Sunday. Safdarjung recorded rain. It measured 112 millimetres. In view of the waterlogging, the Delhi government has announced a holiday on Monday in all government and private schools. Pumps were installed at 45 places in the city.\n";
        let (_, g) = segment_and_align(HINDI, en);
        assert_eq!(
            shape(&g),
            [
                (0, vec![0], 1),
                (1, vec![0], 1),
                (1, vec![1], 2),
                (1, vec![2], 1),
                (1, vec![3], 1)
            ]
        );
    }

    #[test]
    fn a_missing_paragraph_leaves_its_sentences_without_english() {
        let en = "New Delhi, July 14 (PTI). Heavy rain lashed the capital on Sunday. Safdarjung recorded 112 millimetres of rain. In view of the waterlogging, the Delhi government has announced a holiday on Monday in all government and private schools. Pumps were installed at 45 places in the city.\n";
        let (_, g) = segment_and_align(HINDI, en);
        assert_eq!(g[0].paragraph, 0);
        assert!(g[0].english.is_empty(), "{g:?}");
        assert_eq!(g.iter().filter(|g| !g.english.is_empty()).count(), 4);
    }
}
