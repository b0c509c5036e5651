//! Translation metrics with sacreBLEU's definitions, so numbers here can be compared
//! with published ones: chrF (character 6-grams, β = 2, whitespace removed, sacreBLEU 2
//! averaging) and BLEU (13a tokenization, exponential smoothing, brevity penalty), both
//! at corpus level from summed segment statistics. `tests/metrics.rs` checks them
//! against the `sacrebleu` package on fixtures.

use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;

const CHAR_ORDER: usize = 6;
const BETA: f64 = 2.0;
const BLEU_ORDER: usize = 4;

/// Counts of each n-gram of `items` (characters or tokens) for n = `n`.
fn ngrams<T: AsRef<str>>(items: &[T], n: usize, sep: &str) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    if items.len() >= n {
        for w in items.windows(n) {
            let key = w.iter().map(|x| x.as_ref()).collect::<Vec<_>>().join(sep);
            *m.entry(key).or_insert(0) += 1;
        }
    }
    m
}

/// Clipped matches of `hyp` against `reference`, and the hypothesis total.
fn matches(hyp: &HashMap<String, usize>, reference: &HashMap<String, usize>) -> (usize, usize) {
    let mut matched = 0;
    let mut total = 0;
    for (g, &c) in hyp {
        total += c;
        if let Some(&r) = reference.get(g) {
            matched += c.min(r);
        }
    }
    (matched, total)
}

/// chrF statistics of one segment: (hypothesis, reference, match) counts per order.
pub fn chrf_stats(hyp: &str, reference: &str) -> [usize; 3 * CHAR_ORDER] {
    let chars = |s: &str| -> Vec<String> {
        s.split_whitespace()
            .collect::<String>()
            .chars()
            .map(String::from)
            .collect()
    };
    let (h, r) = (chars(hyp), chars(reference));
    let mut out = [0; 3 * CHAR_ORDER];
    for n in 1..=CHAR_ORDER {
        let hn = ngrams(&h, n, "");
        let rn = ngrams(&r, n, "");
        let (m, total) = matches(&hn, &rn);
        let k = 3 * (n - 1);
        // As sacreBLEU: no hypothesis count for an order the reference does not have.
        out[k] = if rn.is_empty() { 0 } else { total };
        out[k + 1] = rn.values().sum();
        out[k + 2] = m;
    }
    out
}

/// chrF from summed statistics (sacreBLEU 2: precision and recall averaged over the
/// orders both sides have, then one F-β).
pub fn chrf_from_stats(stats: &[usize; 3 * CHAR_ORDER]) -> f64 {
    let factor = BETA * BETA;
    let (mut p, mut r, mut orders) = (0.0, 0.0, 0);
    for n in 0..CHAR_ORDER {
        let (hyp, refs, m) = (stats[3 * n], stats[3 * n + 1], stats[3 * n + 2]);
        if hyp > 0 && refs > 0 {
            p += m as f64 / hyp as f64;
            r += m as f64 / refs as f64;
            orders += 1;
        }
    }
    if orders == 0 {
        return 0.0;
    }
    let (p, r) = (p / orders as f64, r / orders as f64);
    if p + r == 0.0 {
        return 0.0;
    }
    100.0 * (1.0 + factor) * p * r / (factor * p + r)
}

/// Corpus chrF of line-aligned hypotheses and references.
pub fn chrf(hyps: &[&str], refs: &[&str]) -> f64 {
    let mut total = [0; 3 * CHAR_ORDER];
    for (h, r) in hyps.iter().zip(refs) {
        for (t, s) in total.iter_mut().zip(chrf_stats(h, r)) {
            *t += s;
        }
    }
    chrf_from_stats(&total)
}

static RULES: LazyLock<[(Regex, &'static str); 4]> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).expect("valid pattern");
    [
        // Punctuation and symbols (ASCII ranges of mteval-v13a) become their own tokens.
        (re(r"([\{-~\[-` -&\(-\+:-@/])"), " $1 "),
        // Period and comma, unless preceded by a digit.
        (re(r"([^0-9])([\.,])"), "$1 $2 "),
        // Period and comma, unless followed by a digit.
        (re(r"([\.,])([^0-9])"), " $1 $2"),
        // A dash after a digit.
        (re(r"([0-9])(-)"), "$1 $2 "),
    ]
});

/// sacreBLEU's `13a` tokenizer (mteval-v13a), as used for WMT BLEU.
pub fn tokenize_13a(line: &str) -> String {
    let mut s = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if s.contains('&') {
        s = s
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut s = format!(" {s} ");
    for (re, rep) in RULES.iter() {
        s = re.replace_all(&s, *rep).into_owned();
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// BLEU statistics of one segment: matches and totals per order, hypothesis and
/// reference lengths in tokens.
pub fn bleu_stats(
    hyp: &str,
    reference: &str,
) -> ([usize; BLEU_ORDER], [usize; BLEU_ORDER], usize, usize) {
    let h = tokenize_13a(hyp);
    let r = tokenize_13a(reference);
    let h: Vec<&str> = h.split_whitespace().collect();
    let r: Vec<&str> = r.split_whitespace().collect();
    let (mut correct, mut total) = ([0; BLEU_ORDER], [0; BLEU_ORDER]);
    for n in 1..=BLEU_ORDER {
        let (m, t) = matches(&ngrams(&h, n, " "), &ngrams(&r, n, " "));
        correct[n - 1] = m;
        total[n - 1] = t;
    }
    (correct, total, h.len(), r.len())
}

/// Corpus BLEU of line-aligned hypotheses and references (one reference each).
pub fn bleu(hyps: &[&str], refs: &[&str]) -> f64 {
    let (mut correct, mut total) = ([0usize; BLEU_ORDER], [0usize; BLEU_ORDER]);
    let (mut sys_len, mut ref_len) = (0usize, 0usize);
    for (h, r) in hyps.iter().zip(refs) {
        let (c, t, hl, rl) = bleu_stats(h, r);
        for n in 0..BLEU_ORDER {
            correct[n] += c[n];
            total[n] += t[n];
        }
        sys_len += hl;
        ref_len += rl;
    }
    let bp = if sys_len < ref_len {
        if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    if correct.iter().all(|&c| c == 0) {
        return 0.0;
    }
    // Exponential smoothing (mteval's): each order with no match counts as 1/2^k.
    let mut precisions = [0.0f64; BLEU_ORDER];
    let mut smooth = 1.0;
    for n in 0..BLEU_ORDER {
        if total[n] == 0 {
            break;
        }
        precisions[n] = if correct[n] == 0 {
            smooth *= 2.0;
            100.0 / (smooth * total[n] as f64)
        } else {
            100.0 * correct[n] as f64 / total[n] as f64
        };
    }
    let log = |p: f64| if p == 0.0 { -9_999_999_999.0 } else { p.ln() };
    bp * (precisions.iter().map(|&p| log(p)).sum::<f64>() / BLEU_ORDER as f64).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenization_follows_13a() {
        assert_eq!(
            tokenize_13a("Rs 1,250 crore (about $150m), up 4.5% on Monday-Tuesday; 2024-25."),
            "Rs 1,250 crore ( about $ 150m ) , up 4.5 % on Monday-Tuesday ; 2024 - 25 ."
        );
        assert_eq!(
            tokenize_13a("He said &quot;yes&quot;."),
            "He said \" yes \" ."
        );
    }

    #[test]
    fn identical_text_scores_100_and_nothing_in_common_scores_0() {
        let s = ["The Sensex rose 412 points to 80,245."];
        assert!((chrf(&s, &s) - 100.0).abs() < 1e-9);
        assert!((bleu(&s, &s) - 100.0).abs() < 1e-9);
        assert_eq!(bleu(&["xyz"], &["The Sensex rose."]), 0.0);
        assert_eq!(chrf(&[""], &["The Sensex rose."]), 0.0);
    }
}
