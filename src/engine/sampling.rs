//! Choosing the next token from logits: greedy by default, optional temperature/top-p
//! with a seeded generator so sampled runs are reproducible too.

use crate::config::Sampling;

/// splitmix64: tiny, seedable, good enough for sampling; avoids a `rand` dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Divide positive logits / multiply negative ones by `penalty` for tokens already
/// generated (the usual CTRL-style penalty), discouraging loops on a retry.
pub fn apply_repetition_penalty(logits: &mut [f32], previous: &[u32], penalty: f32) {
    if penalty == 1.0 {
        return;
    }
    let mut seen = std::collections::HashSet::new();
    for &t in previous {
        if seen.insert(t)
            && let Some(l) = logits.get_mut(t as usize)
        {
            *l = if *l > 0.0 { *l / penalty } else { *l * penalty };
        }
    }
}

/// log Σ exp(logits): the softmax's normaliser. Terms are exponentiated in f32 (the
/// logits' own precision) and summed in f64; over a 262,144-token vocabulary this runs
/// once per generated token, so its speed shows.
pub fn log_sum_exp(logits: &[f32]) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| (l - max).exp() as f64).sum();
    max as f64 + sum.ln()
}

/// Natural-log probability of `token` under `logits`.
pub fn log_prob(logits: &[f32], token: u32) -> f32 {
    let lse = log_sum_exp(logits);
    logits
        .get(token as usize)
        .map_or(f32::NEG_INFINITY, |&l| (l as f64 - lse) as f32)
}

/// Returns (token, natural-log probability of that token); `lse` is
/// `log_sum_exp(logits)`.
pub fn pick(logits: &[f32], lse: f64, s: &Sampling, rng: &mut Rng) -> (u32, f32) {
    let token = if s.temperature <= 0.0 {
        argmax(logits)
    } else {
        sample(logits, s, rng)
    };
    (token, (logits[token as usize] as f64 - lse) as f32)
}

fn argmax(logits: &[f32]) -> u32 {
    // First maximum wins, so ties resolve the same way every run.
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

fn sample(logits: &[f32], s: &Sampling, rng: &mut Rng) -> u32 {
    let t = s.temperature as f32;
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<(u32, f64)> = logits
        .iter()
        .enumerate()
        .map(|(i, &l)| (i as u32, (((l - max) / t) as f64).exp()))
        .collect();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let total: f64 = probs.iter().map(|p| p.1).sum();
    let mut keep = probs.len();
    if let Some(top_p) = s.top_p.filter(|p| *p > 0.0 && *p < 1.0) {
        let mut acc = 0.0;
        for (i, p) in probs.iter().enumerate() {
            acc += p.1 / total;
            if acc >= top_p {
                keep = i + 1;
                break;
            }
        }
    }
    let kept = &probs[..keep];
    let mass: f64 = kept.iter().map(|p| p.1).sum();
    let mut r = rng.next_f64() * mass;
    for p in kept {
        r -= p.1;
        if r <= 0.0 {
            return p.0;
        }
    }
    kept[kept.len() - 1].0
}

/// The repetition guard: true when the last `n` tokens have already occurred `limit`
/// times (counting this one) in `tokens`, i.e. the output is looping.
pub fn is_looping(tokens: &[u32], n: usize, limit: usize) -> bool {
    if n == 0 || limit < 2 || tokens.len() < n * limit {
        return false;
    }
    let tail = &tokens[tokens.len() - n..];
    tokens.windows(n).filter(|w| *w == tail).count() >= limit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_picks_the_first_maximum_and_reports_its_log_probability() {
        let logits = [0.0, 2.0, 2.0, -1.0];
        let (t, lp) = pick(
            &logits,
            log_sum_exp(&logits),
            &Sampling::default(),
            &mut Rng::new(1),
        );
        assert_eq!(t, 1);
        let expected = 2.0 - (1.0f64 + 2.0 * 2f64.exp() + (-1f64).exp()).ln();
        assert!((lp as f64 - expected).abs() < 1e-5);
    }

    #[test]
    fn sampling_with_a_seed_is_reproducible() {
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32 * 0.3).collect();
        let s = Sampling {
            temperature: 0.8,
            top_p: Some(0.9),
            seed: 7,
        };
        let run = || {
            let mut rng = Rng::new(s.seed);
            (0..20)
                .map(|_| pick(&logits, log_sum_exp(&logits), &s, &mut rng).0)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn loop_detection_needs_the_ngram_repeated_limit_times() {
        let looping = [5, 1, 2, 3, 1, 2, 3, 1, 2, 3];
        assert!(is_looping(&looping, 3, 3));
        assert!(!is_looping(&looping, 3, 4));
        assert!(!is_looping(&[1, 2, 3, 4, 5, 6, 7, 8, 9], 3, 2));
    }

    #[test]
    fn repetition_penalty_lowers_previous_tokens_only() {
        let mut l = [2.0, -2.0, 1.0];
        apply_repetition_penalty(&mut l, &[0, 1, 0], 2.0);
        assert_eq!(l, [1.0, -4.0, 1.0]);
    }
}
