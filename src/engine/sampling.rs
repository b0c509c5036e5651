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

/// Divide positive values / multiply negative ones by `penalty` for tokens already
/// generated (the usual CTRL-style penalty), discouraging loops on a retry. The values
/// penalised are `logits - shift`: 0 penalises the logits themselves; a row's
/// log-sum-exp penalises its log-probabilities (beam search, as `transformers` does)
/// while the row stays in logits.
pub fn apply_repetition_penalty(logits: &mut [f32], previous: &[u32], penalty: f32, shift: f64) {
    if penalty == 1.0 {
        return;
    }
    let mut seen = std::collections::HashSet::new();
    for &t in previous {
        if seen.insert(t)
            && let Some(l) = logits.get_mut(t as usize)
        {
            let v = (*l as f64 - shift) as f32;
            let p = if v > 0.0 { v / penalty } else { v * penalty };
            *l = (p as f64 + shift) as f32;
        }
    }
}

/// log Σ exp(logits): the softmax's normaliser. It runs once per generated token over
/// the whole vocabulary (262,144 logits for Gemma, 61,950 for OPUS-MT), so exp is a
/// polynomial the compiler vectorises rather than a libm call per logit; relative error
/// under 1e-5 per term (1e-7 near the maximum, where the sum's weight is), summed in 16
/// f32 lanes, then f64.
pub fn log_sum_exp(logits: &[f32]) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return max as f64;
    }
    #[cfg(target_arch = "x86_64")]
    if crate::models::kernels::avx512() {
        // SAFETY: feature checked.
        return max as f64 + unsafe { sum_exp_avx512(logits, max) }.ln();
    }
    max as f64 + sum_exp(logits, max).ln()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sum_exp_avx512(logits: &[f32], max: f32) -> f64 {
    sum_exp(logits, max)
}

#[inline(always)]
fn sum_exp(logits: &[f32], max: f32) -> f64 {
    let mut acc = [0f32; 16];
    let chunks = logits.chunks_exact(16);
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&l| exp_nonpositive(l - max) as f64)
        .sum();
    for c in chunks {
        for (a, &l) in acc.iter_mut().zip(c) {
            *a += exp_nonpositive(l - max);
        }
    }
    acc.iter().map(|&a| a as f64).sum::<f64>() + tail
}

/// e^x for x ≤ 0 (−∞ gives 0): 2^n · 2^f with n = round(x·log₂e), |f| ≤ ½, 2^f by its
/// degree-6 Taylor polynomial.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2: f32 = std::f32::consts::LN_2;
    // Below −87 the result is under f32's normal range: count it as 0.
    let below = x < -87.0;
    let t = x.max(-87.0) * LOG2E;
    // Round to nearest with the 1.5·2²³ trick (no libm call, vectorises).
    let n = (t + 12_582_912.0) - 12_582_912.0;
    let f = (t - n) * LN2;
    let p = 1.0
        + f * (1.0
            + f * (0.5
                + f * (1.0 / 6.0 + f * (1.0 / 24.0 + f * (1.0 / 120.0 + f * (1.0 / 720.0))))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if below { 0.0 } else { p * scale }
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
    if let Some(eps) = s.epsilon.filter(|e| *e > 0.0 && *e < 1.0) {
        return sample_epsilon(logits, s.temperature as f32, eps, rng);
    }
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

/// ε-sampling: draw from the tokens whose probability (at temperature `t`) is at least
/// `eps`, in proportion to it. At most 1/ε tokens survive, so no sort of the vocabulary.
fn sample_epsilon(logits: &[f32], t: f32, eps: f64, rng: &mut Rng) -> u32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let scaled: Vec<f32> = logits.iter().map(|&l| (l - max) / t).collect();
    let lse = log_sum_exp(&scaled);
    let cut = lse + eps.ln();
    let kept: Vec<(u32, f64)> = scaled
        .iter()
        .enumerate()
        .filter(|&(_, &x)| x as f64 >= cut)
        .map(|(i, &x)| (i as u32, (x as f64 - lse).exp()))
        .collect();
    let mass: f64 = kept.iter().map(|p| p.1).sum();
    let mut r = rng.next_f64() * mass;
    for p in &kept {
        r -= p.1;
        if r <= 0.0 {
            return p.0;
        }
    }
    kept.last().map_or_else(|| argmax(logits), |p| p.0)
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
            epsilon: None,
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
    fn epsilon_sampling_draws_only_likely_tokens_and_repeats_with_its_seed() {
        // Probabilities about 0.6, 0.3, 0.09 and then a long tail below 1%.
        let mut logits = vec![-10.0f32; 1000];
        logits[..3].copy_from_slice(&[2.0, 1.3, 0.1]);
        let s = Sampling {
            temperature: 1.0,
            top_p: None,
            epsilon: Some(0.02),
            seed: 3,
        };
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..200)
                .map(|_| pick(&logits, log_sum_exp(&logits), &s, &mut rng).0)
                .collect::<Vec<_>>()
        };
        let a = draw(3);
        assert!(a.iter().all(|&t| t < 3), "only the likely tokens");
        assert!(
            a.contains(&0) && a.contains(&1),
            "not just the most likely one"
        );
        assert_eq!(a, draw(3));
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
        apply_repetition_penalty(&mut l, &[0, 1, 0], 2.0, 0.0);
        assert_eq!(l, [1.0, -4.0, 1.0]);
    }

    #[test]
    fn log_sum_exp_agrees_with_the_plain_sum() {
        let logits: Vec<f32> = (0..70_003)
            .map(|i| ((i * 7919 % 10007) as f32 - 5003.0) / 400.0)
            .chain([f32::NEG_INFINITY, -200.0])
            .collect();
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let plain = max
            + logits
                .iter()
                .map(|&l| (l as f64 - max).exp())
                .sum::<f64>()
                .ln();
        let fast = log_sum_exp(&logits);
        assert!((fast - plain).abs() < 1e-5, "{fast} vs {plain}");
        for x in [0.0f32, -0.3, -1.0, -10.5, -50.0, -86.9] {
            let rel = (exp_nonpositive(x) as f64 / (x as f64).exp() - 1.0).abs();
            assert!(rel < 1e-5, "e^{x}: relative error {rel}");
        }
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
        assert_eq!(log_sum_exp(&[f32::NEG_INFINITY; 3]), f64::NEG_INFINITY);
    }
}
