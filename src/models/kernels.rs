//! A matrix-vector product for Q8_0 weights, used for one-token decode steps.
//!
//! candle 0.11's Q8_0 dot product runs one row at a time with a single accumulator
//! chain, so it is latency-bound (~13 cycles per 32-value block here) instead of bound by
//! memory bandwidth. Decode reads every weight once per token (the tied 262,144-row output
//! head of Gemma 3 270M alone is 178 MB), so this kernel streams the rows front to back
//! with an explicit prefetch ahead and four independent accumulators per row. Rows are split across candle's own pinned
//! worker pool (a second pool would fight its spinning workers for the cores).
//! Results equal candle's up to float summation order (tests below).

const QK: usize = 32;
const BLOCK: usize = 34; // f16 scale + 32 signed bytes

/// Activations quantized like ggml's Q8_0: per 32 values, scale = max|x|/127 and
/// round-half-away-from-zero of x/scale.
pub struct Q8Row {
    scales: Vec<f32>,
    qs: Vec<i8>,
}

impl Q8Row {
    pub fn quantize(x: &[f32]) -> Q8Row {
        let blocks = x.len() / QK;
        let mut scales = Vec::with_capacity(blocks);
        let mut qs = vec![0i8; blocks * QK];
        for (b, chunk) in x.chunks_exact(QK).enumerate() {
            let amax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            // The scale is stored as f16 in ggml; round it the same way so dot products match.
            scales.push(half::f16::from_f32(d).to_f32());
            for (q, v) in qs[b * QK..(b + 1) * QK].iter_mut().zip(chunk) {
                *q = (v * id).round() as i8;
            }
        }
        Q8Row { scales, qs }
    }
}

/// Whether this CPU can run the fast path.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// out[r] = Σ_c w[r, c] · x[c] for Q8_0 weights `w` (rows × cols, row-major blocks).
/// Callers check `available()` first.
pub fn gemv_q8_0(w: &[u8], rows: usize, cols: usize, x: &Q8Row, out: &mut [f32]) {
    let row_bytes = cols / QK * BLOCK;
    assert_eq!(
        w.len(),
        rows * row_bytes,
        "weight size does not match {rows}x{cols}"
    );
    assert_eq!(out.len(), rows);
    const ROWS_PER_TASK: usize = 64;
    let tasks = rows.div_ceil(ROWS_PER_TASK);
    let out_ptr = OutPtr(out.as_mut_ptr());
    candle_core::utils::barrier_pool().execute_chunked(tasks, |range| {
        let first = range.start * ROWS_PER_TASK;
        let last = (range.end * ROWS_PER_TASK).min(rows);
        // SAFETY: the pool hands out disjoint task ranges, so each output row is written
        // by exactly one thread, and `out` outlives this call.
        let out = unsafe { std::slice::from_raw_parts_mut(out_ptr.get().add(first), last - first) };
        let w = &w[first * row_bytes..last * row_bytes];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `available()` was checked by the caller; slices are bounds-checked above.
        unsafe {
            avx2::rows(w, row_bytes, x, out)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (w, row_bytes, x, out);
            unreachable!("gemv_q8_0 without available()")
        }
    });
}

#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: only used to write disjoint rows from the pool's threads (see gemv_q8_0).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{BLOCK, Q8Row, QK};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn rows(w: &[u8], row_bytes: usize, x: &Q8Row, out: &mut [f32]) {
        // SAFETY: the caller checked the CPU features; every pointer below stays inside
        // `w` (rows × row_bytes) and `x.qs` (blocks × 32), whose sizes were asserted.
        unsafe { rows_inner(w, row_bytes, x, out) }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn rows_inner(w: &[u8], row_bytes: usize, x: &Q8Row, out: &mut [f32]) {
        unsafe {
            let blocks = row_bytes / BLOCK;
            let ones = _mm256_set1_epi16(1);
            // Rows are read front to back, one after another: one sequential stream that
            // the hardware prefetcher follows, helped by an explicit prefetch a few rows
            // ahead. Four accumulators (block index mod 4) break the FMA dependency chain.
            const AHEAD: usize = 4;
            let n = out.len();
            for (r, o) in out.iter_mut().enumerate() {
                let row = w.as_ptr().add(r * row_bytes);
                if r + AHEAD < n {
                    let next = row.add(AHEAD * row_bytes);
                    let mut off = 0;
                    while off < row_bytes {
                        _mm_prefetch(next.add(off) as *const i8, _MM_HINT_T0);
                        off += 64;
                    }
                }
                let mut acc = [_mm256_setzero_ps(); 4];
                for b in 0..blocks {
                    let blk = row.add(b * BLOCK);
                    let xq = _mm256_loadu_si256(x.qs.as_ptr().add(b * QK) as *const __m256i);
                    let ax = _mm256_sign_epi8(xq, xq); // |x| as unsigned bytes
                    let wq = _mm256_loadu_si256(blk.add(2) as *const __m256i);
                    let sw = _mm256_sign_epi8(wq, xq); // w with x's sign
                    let dot = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sw), ones);
                    let d = f16_to_f32(u16::from_le_bytes([*blk, *blk.add(1)]))
                        * *x.scales.get_unchecked(b);
                    let a = acc.get_unchecked_mut(b & 3);
                    *a = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(dot), *a);
                }
                let sum =
                    _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
                *o = hsum(sum);
            }
        }
    }

    #[target_feature(enable = "f16c")]
    fn f16_to_f32(bits: u16) -> f32 {
        _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
    }

    #[target_feature(enable = "avx2")]
    fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
    use candle_core::{Device, Module, Tensor};

    #[test]
    fn matches_candles_q8_0_matmul() {
        if !available() {
            return;
        }
        let dev = Device::Cpu;
        let (rows, cols) = (1031, 256); // not a multiple of 4 or of the task size
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919 % 1013) as f32 - 506.0) / 300.0)
            .collect();
        let x: Vec<f32> = (0..cols)
            .map(|i| ((i * 31 % 97) as f32 - 48.0) / 10.0)
            .collect();
        let qw = std::sync::Arc::new(
            QTensor::quantize(
                &Tensor::from_vec(w, (rows, cols), &dev).unwrap(),
                GgmlDType::Q8_0,
            )
            .unwrap(),
        );
        let xt = Tensor::from_vec(x.clone(), (1, cols), &dev).unwrap();
        let want: Vec<f32> = QMatMul::from_arc(qw.clone())
            .unwrap()
            .forward(&xt)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let mut got = vec![0f32; rows];
        gemv_q8_0(
            &qw.data().unwrap(),
            rows,
            cols,
            &Q8Row::quantize(&x),
            &mut got,
        );
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-3 * b.abs().max(1.0),
                "row {i}: {a} vs {b}"
            );
        }
    }
}
