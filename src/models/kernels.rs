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

/// Activation rows quantized like ggml's Q8_0: per 32 values, scale = max|x|/127 and
/// round-half-away-from-zero of x/scale; plus the sum of each block's quants, for the
/// packed kernel's +128 correction.
pub struct Q8Rows {
    rows: usize,
    blocks: usize,
    scales: Vec<f32>,
    sums: Vec<i32>,
    qs: Vec<i8>,
}

impl Q8Rows {
    /// `x` holds `rows` rows of `cols` values (a multiple of 32).
    pub fn quantize(x: &[f32], cols: usize) -> Q8Rows {
        let rows = x.len() / cols;
        let blocks = cols / QK;
        let mut q = Q8Rows {
            rows,
            blocks,
            scales: Vec::with_capacity(rows * blocks),
            sums: Vec::with_capacity(rows * blocks),
            qs: vec![0i8; rows * cols],
        };
        for (chunk, qs) in x.chunks_exact(QK).zip(q.qs.chunks_exact_mut(QK)) {
            let amax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            // The scale is stored as f16 in ggml; round it the same way so dot products match.
            q.scales.push(half::f16::from_f32(d).to_f32());
            let mut sum = 0i32;
            for (o, v) in qs.iter_mut().zip(chunk) {
                *o = round_half_away(v * id) as i8;
                sum += *o as i32;
            }
            q.sums.push(sum);
        }
        q
    }
}

/// `y.round()` (half away from zero) without the libm call `f32::round` becomes on
/// baseline x86-64: truncate, then step by one where the exact remainder is ≥ ½. Same
/// results bit for bit, for |y| < 2³¹.
#[inline]
fn round_half_away(y: f32) -> i32 {
    let t = y as i32;
    let rest = y - t as f32;
    t + (rest >= 0.5) as i32 - (rest <= -0.5) as i32
}

/// The instruction-set tiers our kernels dispatch on, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust (the compiler's auto-vectorisation only).
    Generic,
    /// x86-64 with AVX2, FMA and F16C.
    Avx2,
    /// AVX2 plus AVX-512 F and BW.
    Avx512,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Generic => "generic",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    fn parse(s: &str) -> Option<Isa> {
        [Isa::Generic, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .find(|i| i.name() == s.trim().to_ascii_lowercase())
    }
}

/// The environment variable that caps the tier (`generic`, `avx2`, `avx512`): every
/// kernel path can then be run and tested on one machine.
pub const ISA_VAR: &str = "ANUVAD_ISA";

/// The cap set in `ANUVAD_ISA`, if any; an error message for a value that is not a tier.
pub fn isa_cap() -> std::result::Result<Option<Isa>, String> {
    match std::env::var(ISA_VAR) {
        Ok(v) if !v.trim().is_empty() => Isa::parse(&v).map(Some).ok_or_else(|| {
            format!("{ISA_VAR}={v:?} is not an instruction-set tier; use generic, avx2 or avx512")
        }),
        _ => Ok(None),
    }
}

/// The highest tier this CPU runs, capped by `ANUVAD_ISA`; looked up once.
pub fn isa() -> Isa {
    static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    *ISA.get_or_init(|| {
        let cpu = cpu_isa();
        match isa_cap() {
            Ok(Some(cap)) => cpu.min(cap),
            _ => cpu,
        }
    })
}

fn cpu_isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c");
        let avx512 = is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw");
        match (avx2, avx512) {
            (true, true) => Isa::Avx512,
            (true, false) => Isa::Avx2,
            _ => Isa::Generic,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Isa::Generic
    }
}

/// Whether this CPU can run the AVX2 fast path.
pub fn available() -> bool {
    isa() >= Isa::Avx2
}

/// Whether the AVX-512 vector helpers (f32 tiles, attention, softmax sums) may run.
pub fn avx512() -> bool {
    isa() >= Isa::Avx512
}

/// out[r] = Σ_c w[r, c] · x[c] for Q8_0 weights `w` (rows × cols, row-major blocks) and
/// one activation row `x`. Callers check `available()` first.
pub fn gemv_q8_0(w: &[u8], rows: usize, cols: usize, x: &Q8Rows, out: &mut [f32]) {
    assert_eq!(x.rows, 1, "gemv_q8_0 takes one activation row");
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
pub(crate) struct OutPtr(pub(crate) *mut f32);
// SAFETY: only used to write disjoint rows from the pool's threads (see gemv_q8_0).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{BLOCK, Q8Rows, QK};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn rows(w: &[u8], row_bytes: usize, x: &Q8Rows, out: &mut [f32]) {
        // SAFETY: the caller checked the CPU features; every pointer below stays inside
        // `w` (rows × row_bytes) and `x.qs` (blocks × 32), whose sizes were asserted.
        unsafe { rows_inner(w, row_bytes, x, out) }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn rows_inner(w: &[u8], row_bytes: usize, x: &Q8Rows, out: &mut [f32]) {
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

// ---------------------------------------------------------------------------------------
// Packed Q8_0 weights for AVX-512 VNNI: one kernel for decode steps, batched decode and
// prefill.
//
// Prefill spent two thirds of its time in candle's Q8_0 dot product (one pair of rows at
// a time, a scalar f16 conversion per block), and candle's own VNNI tiles only take
// tensors whose width is a multiple of 256 (Gemma 3 270M's is 640). So Q8_0 weights are
// repacked at load into tiles of 16 rows: per 32-value block, the 16 row scales (f16, as
// in the file: decode is bound by memory bandwidth) and the quants as unsigned bytes (w + 128) laid out so that one `vpdpbusd` multiplies 4
// consecutive values of all 16 rows by 4 activation bytes broadcast to every lane. The
// +128 offset is taken back exactly in integers (128 · Σx per activation block).
//
// Every (weight row, activation row) result is computed by the same sequence of
// operations whatever the number of activation rows, so a sequence decoded in a batch
// gets bit-for-bit the logits it would get alone.

const TILE: usize = 16;
/// Bytes per 32-value block of a 16-row tile: 16 f16 scales, then 8 groups × 16 rows × 4.
const TILE_BLOCK: usize = TILE * 2 + TILE * QK;

/// A Q8_0 weight matrix repacked for `vpdpbusd` (see above).
pub struct PackedQ8 {
    rows: usize,
    cols: usize,
    data: Vec<u8>,
}

/// Whether this CPU runs the packed kernel (AVX-512 with VNNI).
pub fn packed_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx512() && is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl PackedQ8 {
    /// Repack GGML Q8_0 data of a `rows` × `cols` matrix.
    pub fn from_q8_0(w: &[u8], rows: usize, cols: usize) -> PackedQ8 {
        let blocks = cols / QK;
        assert_eq!(
            w.len(),
            rows * blocks * BLOCK,
            "Q8_0 data is not {rows}x{cols}"
        );
        let tiles = rows.div_ceil(TILE);
        // Rows past the end of the last tile stay zero (scale 0): they compute to 0.
        let mut data = vec![0u8; tiles * blocks * TILE_BLOCK];
        for r in 0..rows {
            let (t, lane) = (r / TILE, r % TILE);
            for b in 0..blocks {
                let src = &w[(r * blocks + b) * BLOCK..][..BLOCK];
                let dst = &mut data[(t * blocks + b) * TILE_BLOCK..][..TILE_BLOCK];
                dst[lane * 2..lane * 2 + 2].copy_from_slice(&src[..2]);
                for (k, &q) in src[2..].iter().enumerate() {
                    let (g, j) = (k / 4, k % 4);
                    dst[TILE * 2 + (g * TILE + lane) * 4 + j] = (q as i8 as i16 + 128) as u8;
                }
            }
        }
        PackedQ8 { rows, cols, data }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `r` dequantized into `out` (an embedding lookup when the matrix is tied).
    pub fn row(&self, r: usize, out: &mut [f32]) {
        let blocks = self.cols / QK;
        let (t, lane) = (r / TILE, r % TILE);
        for b in 0..blocks {
            let src = &self.data[(t * blocks + b) * TILE_BLOCK..][..TILE_BLOCK];
            let d = half::f16::from_le_bytes([src[lane * 2], src[lane * 2 + 1]]).to_f32();
            for k in 0..QK {
                let (g, j) = (k / 4, k % 4);
                let q = src[TILE * 2 + (g * TILE + lane) * 4 + j] as i16 - 128;
                out[b * QK + k] = d * q as f32;
            }
        }
    }

    /// out[m·rows + r] = Σ_c w[r, c] · x[m, c] for every activation row m.
    /// Callers check `packed_available()` first.
    pub fn matmul(&self, x: &Q8Rows, out: &mut [f32]) {
        assert_eq!(x.blocks * QK, self.cols, "activation width");
        assert_eq!(out.len(), x.rows * self.rows, "output size");
        let tiles = self.rows.div_ceil(TILE);
        let out_ptr = OutPtr(out.as_mut_ptr());
        candle_core::utils::barrier_pool().execute_chunked(tiles, |range| {
            for t in range {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: features checked by the caller; each tile's output columns are
                // written by exactly one task, and every access is inside the sizes
                // asserted above.
                unsafe {
                    avx512::tile(self, t, x, out_ptr)
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    let _ = (t, x, out_ptr);
                    unreachable!("PackedQ8::matmul without packed_available()")
                }
            }
        });
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{OutPtr, PackedQ8, Q8Rows, QK, TILE, TILE_BLOCK};
    use std::arch::x86_64::*;

    /// All activation rows against tile `t`, four activation rows at a time so each
    /// loaded weight vector serves four dot products.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn tile(w: &PackedQ8, t: usize, x: &Q8Rows, out: OutPtr) {
        let mut m = 0;
        while m + 4 <= x.rows {
            unsafe { rows::<4>(w, t, x, m, out) };
            m += 4;
        }
        while m < x.rows {
            unsafe { rows::<1>(w, t, x, m, out) };
            m += 1;
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn rows<const N: usize>(w: &PackedQ8, t: usize, x: &Q8Rows, m0: usize, out: OutPtr) {
        unsafe {
            let blocks = x.blocks;
            let tile = w.data.as_ptr().add(t * blocks * TILE_BLOCK);
            let mut acc = [_mm512_setzero_ps(); N];
            for b in 0..blocks {
                let blk = tile.add(b * TILE_BLOCK);
                let dw = _mm512_cvtph_ps(_mm256_loadu_si256(blk as *const __m256i));
                let q = blk.add(TILE * 2);
                let wv: [__m512i; 8] =
                    std::array::from_fn(|g| _mm512_loadu_si512(q.add(g * 64) as *const __m512i));
                for (i, a) in acc.iter_mut().enumerate() {
                    let row = (m0 + i) * blocks + b;
                    let xq = x.qs.as_ptr().add(row * QK) as *const i32;
                    // Two independent chains (even and odd groups) halve the latency of
                    // a block, which is what bounds one-row decode steps.
                    let mut even = _mm512_setzero_si512();
                    let mut odd = _mm512_setzero_si512();
                    for g in (0..8).step_by(2) {
                        let x0 = _mm512_set1_epi32(xq.add(g).read_unaligned());
                        let x1 = _mm512_set1_epi32(xq.add(g + 1).read_unaligned());
                        even = _mm512_dpbusd_epi32(even, wv[g], x0);
                        odd = _mm512_dpbusd_epi32(odd, wv[g + 1], x1);
                    }
                    let dot = _mm512_add_epi32(even, odd);
                    let dot =
                        _mm512_sub_epi32(dot, _mm512_set1_epi32(128 * *x.sums.get_unchecked(row)));
                    let scale = _mm512_mul_ps(dw, _mm512_set1_ps(*x.scales.get_unchecked(row)));
                    *a = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(dot), *a);
                }
            }
            let r0 = t * TILE;
            let lanes = (w.rows - r0).min(TILE);
            let mask: __mmask16 = if lanes == TILE {
                0xFFFF
            } else {
                (1u16 << lanes) - 1
            };
            for (i, a) in acc.iter().enumerate() {
                let dst = out.get().add((m0 + i) * w.rows + r0);
                _mm512_mask_storeu_ps(dst, mask, *a);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// f32 weights packed in tiles of 16 rows, column by column: one vector load gives 16 rows'
// weights for one input column, and a broadcast activation value multiplies it, so sums
// run down the lanes with no horizontal reduction at the end.

/// An f32 weight matrix in 16-row tiles (rows past the end are zero).
pub struct PackedF32 {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl PackedF32 {
    /// Pack a row-major `rows` × `cols` matrix.
    pub fn new(w: &[f32], rows: usize, cols: usize) -> PackedF32 {
        assert_eq!(w.len(), rows * cols, "weight size");
        let tiles = rows.div_ceil(TILE);
        let mut data = vec![0f32; tiles * cols * TILE];
        for r in 0..rows {
            let (t, lane) = (r / TILE, r % TILE);
            for c in 0..cols {
                data[(t * cols + c) * TILE + lane] = w[r * cols + c];
            }
        }
        PackedF32 { rows, cols, data }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// out[m·rows + r] = Σ_c w[r, c] · x[m, c] for every activation row m; a row's result
    /// does not depend on how many rows come with it.
    pub fn matmul(&self, x: &[f32], out: &mut [f32]) {
        let n = x.len() / self.cols.max(1);
        assert_eq!(x.len(), n * self.cols, "activation width");
        assert_eq!(out.len(), n * self.rows, "output size");
        let tiles = self.rows.div_ceil(TILE);
        let out_ptr = OutPtr(out.as_mut_ptr());
        #[cfg(target_arch = "x86_64")]
        let wide = avx512();
        // Two tiles (32 rows) a task: each broadcast activation value serves both.
        candle_core::utils::barrier_pool().execute_chunked(tiles.div_ceil(2), |range| {
            for pair in range {
                let t0 = pair * 2;
                let two = t0 + 1 < tiles;
                #[cfg(target_arch = "x86_64")]
                if wide {
                    // SAFETY: feature checked; each task writes the outputs of its own
                    // tiles, inside the sizes asserted above.
                    unsafe { avx512_f32::tiles(self, t0, two, x, n, out_ptr) };
                    continue;
                }
                for t in t0..t0 + 1 + two as usize {
                    for m in 0..n {
                        let mut acc = [0f32; TILE];
                        for c in 0..self.cols {
                            let xv = x[m * self.cols + c];
                            let wv = &self.data[(t * self.cols + c) * TILE..][..TILE];
                            for (a, w) in acc.iter_mut().zip(wv) {
                                *a = w.mul_add(xv, *a);
                            }
                        }
                        for (lane, a) in acc.iter().enumerate() {
                            let r = t * TILE + lane;
                            if r < self.rows {
                                // SAFETY: this task's tile, inside the asserted size.
                                unsafe { *out_ptr.get().add(m * self.rows + r) = *a };
                            }
                        }
                    }
                }
            }
        });
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512_f32 {
    use super::{OutPtr, PackedF32, TILE};
    use std::arch::x86_64::*;

    /// Tile t0 (and t0 + 1 when `two`) against all n activation rows, 8 at a time.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn tiles(w: &PackedF32, t0: usize, two: bool, x: &[f32], n: usize, out: OutPtr) {
        let mut m = 0;
        unsafe {
            while m + 8 <= n {
                if two {
                    block::<2, 8>(w, t0, x, m, out)
                } else {
                    block::<1, 8>(w, t0, x, m, out)
                }
                m += 8;
            }
            while m < n {
                if two {
                    block::<2, 1>(w, t0, x, m, out)
                } else {
                    block::<1, 1>(w, t0, x, m, out)
                }
                m += 1;
            }
        }
    }

    // The indices address the activation rows and the accumulator grid together.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx512f")]
    unsafe fn block<const T: usize, const M: usize>(
        w: &PackedF32,
        t0: usize,
        x: &[f32],
        m0: usize,
        out: OutPtr,
    ) {
        let cols = w.cols;
        unsafe {
            let base: [*const f32; T] =
                std::array::from_fn(|j| w.data.as_ptr().add((t0 + j) * cols * TILE));
            let xs = x.as_ptr().add(m0 * cols);
            let mut acc = [[_mm512_setzero_ps(); M]; T];
            for c in 0..cols {
                let wv: [__m512; T] =
                    std::array::from_fn(|j| _mm512_loadu_ps(base[j].add(c * TILE)));
                for i in 0..M {
                    let xb = _mm512_set1_ps(*xs.add(i * cols + c));
                    for j in 0..T {
                        acc[j][i] = _mm512_fmadd_ps(wv[j], xb, acc[j][i]);
                    }
                }
            }
            for (j, tile) in acc.iter().enumerate() {
                let r0 = (t0 + j) * TILE;
                let lanes = (w.rows - r0).min(TILE);
                let mask: __mmask16 = if lanes == TILE {
                    0xFFFF
                } else {
                    (1u16 << lanes) - 1
                };
                for (i, a) in tile.iter().enumerate() {
                    _mm512_mask_storeu_ps(out.get().add((m0 + i) * w.rows + r0), mask, *a);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// int8 weights with one scale per row (as CTranslate2 keeps them), packed in 16-row tiles
// of 4-column groups for `vpdpbusd`: whole rows accumulate in int32, and the float work is
// one multiply per output. Activations are quantized per row to unsigned bytes (value +
// 128); the +128 comes back out through each weight row's sum.

/// An int8 weight matrix, one scale per row, in 16-row tiles.
pub struct PackedI8 {
    rows: usize,
    cols: usize,
    /// [tile][column group of 4][16 rows][4 bytes].
    data: Vec<i8>,
    scales: Vec<f32>,
    /// Σ over the row of its int8 weights, times 128.
    offsets: Vec<i32>,
}

/// Activation rows quantized for `PackedI8`: one scale per row, bytes value + 128.
pub struct U8Rows {
    rows: usize,
    cols: usize,
    qs: Vec<u8>,
    scales: Vec<f32>,
}

impl U8Rows {
    pub fn quantize(x: &[f32], cols: usize) -> U8Rows {
        let rows = x.len() / cols;
        let mut qs = vec![0u8; rows * cols];
        let mut scales = Vec::with_capacity(rows);
        for (row, q) in x.chunks_exact(cols).zip(qs.chunks_exact_mut(cols)) {
            let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            scales.push(d);
            for (o, v) in q.iter_mut().zip(row) {
                *o = (round_half_away(v * id) + 128) as u8;
            }
        }
        U8Rows {
            rows,
            cols,
            qs,
            scales,
        }
    }
}

impl PackedI8 {
    /// Quantize a row-major `rows` × `cols` f32 matrix (`cols` a multiple of 4).
    pub fn new(w: &[f32], rows: usize, cols: usize) -> PackedI8 {
        assert!(
            w.len() == rows * cols && cols.is_multiple_of(4),
            "weight size"
        );
        let tiles = rows.div_ceil(TILE);
        let groups = cols / 4;
        let mut data = vec![0i8; tiles * groups * TILE * 4];
        let mut scales = vec![0f32; rows];
        let mut offsets = vec![0i32; rows];
        for r in 0..rows {
            let row = &w[r * cols..(r + 1) * cols];
            let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            scales[r] = d;
            let (t, lane) = (r / TILE, r % TILE);
            let mut sum = 0i32;
            for (c, v) in row.iter().enumerate() {
                let q = round_half_away(v * id).clamp(-127, 127);
                sum += q;
                data[((t * groups + c / 4) * TILE + lane) * 4 + c % 4] = q as i8;
            }
            offsets[r] = 128 * sum;
        }
        PackedI8 {
            rows,
            cols,
            data,
            scales,
            offsets,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// out[m·rows + r] = Σ_c w[r, c] · x[m, c], in int8 × uint8 with int32 sums; a
    /// row's result does not depend on the rows that come with it.
    pub fn matmul(&self, x: &U8Rows, out: &mut [f32]) {
        assert_eq!(x.cols, self.cols, "activation width");
        assert_eq!(out.len(), x.rows * self.rows, "output size");
        let tiles = self.rows.div_ceil(TILE);
        let out_ptr = OutPtr(out.as_mut_ptr());
        #[cfg(target_arch = "x86_64")]
        let wide = packed_available();
        candle_core::utils::barrier_pool().execute_chunked(tiles.div_ceil(2), |range| {
            for pair in range {
                let t0 = pair * 2;
                let two = t0 + 1 < tiles;
                #[cfg(target_arch = "x86_64")]
                if wide {
                    // SAFETY: features checked; each task writes its own tiles' outputs,
                    // inside the sizes asserted above.
                    unsafe { avx512_i8::tiles(self, t0, two, x, out_ptr) };
                    continue;
                }
                for t in t0..t0 + 1 + two as usize {
                    for r in t * TILE..((t + 1) * TILE).min(self.rows) {
                        for m in 0..x.rows {
                            let mut acc = 0i32;
                            for c in 0..self.cols {
                                let w = self.data
                                    [((t * (self.cols / 4) + c / 4) * TILE + r % TILE) * 4 + c % 4];
                                acc += w as i32 * x.qs[m * self.cols + c] as i32;
                            }
                            let v = (acc - self.offsets[r]) as f32 * self.scales[r] * x.scales[m];
                            // SAFETY: this task's tile, inside the asserted size.
                            unsafe { *out_ptr.get().add(m * self.rows + r) = v };
                        }
                    }
                }
            }
        });
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512_i8 {
    use super::{OutPtr, PackedI8, TILE, U8Rows};
    use std::arch::x86_64::*;

    /// Tile t0 (and t0 + 1 when `two`) against every activation row, 8 at a time.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn tiles(w: &PackedI8, t0: usize, two: bool, x: &U8Rows, out: OutPtr) {
        let mut m = 0;
        unsafe {
            while m + 8 <= x.rows {
                if two {
                    block::<2, 8>(w, t0, x, m, out)
                } else {
                    block::<1, 8>(w, t0, x, m, out)
                }
                m += 8;
            }
            while m < x.rows {
                if two {
                    block::<2, 1>(w, t0, x, m, out)
                } else {
                    block::<1, 1>(w, t0, x, m, out)
                }
                m += 1;
            }
        }
    }

    // The indices address the activation rows and the accumulator grid together.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn block<const T: usize, const M: usize>(
        w: &PackedI8,
        t0: usize,
        x: &U8Rows,
        m0: usize,
        out: OutPtr,
    ) {
        let groups = w.cols / 4;
        unsafe {
            let base: [*const i8; T] =
                std::array::from_fn(|j| w.data.as_ptr().add((t0 + j) * groups * TILE * 4));
            let xs = x.qs.as_ptr().add(m0 * w.cols);
            let mut acc = [[_mm512_setzero_si512(); M]; T];
            for g in 0..groups {
                let wv: [__m512i; T] = std::array::from_fn(|j| {
                    _mm512_loadu_si512(base[j].add(g * TILE * 4) as *const __m512i)
                });
                for i in 0..M {
                    let xb = _mm512_set1_epi32(
                        (xs.add(i * w.cols + g * 4) as *const i32).read_unaligned(),
                    );
                    for j in 0..T {
                        acc[j][i] = _mm512_dpbusd_epi32(acc[j][i], xb, wv[j]);
                    }
                }
            }
            for (j, tile) in acc.iter().enumerate() {
                let r0 = (t0 + j) * TILE;
                let lanes = (w.rows - r0).min(TILE);
                let mask: __mmask16 = if lanes == TILE {
                    0xFFFF
                } else {
                    (1u16 << lanes) - 1
                };
                let off = _mm512_maskz_loadu_epi32(mask, w.offsets.as_ptr().add(r0));
                let ws = _mm512_maskz_loadu_ps(mask, w.scales.as_ptr().add(r0));
                for (i, a) in tile.iter().enumerate() {
                    let v = _mm512_cvtepi32_ps(_mm512_sub_epi32(*a, off));
                    let v = _mm512_mul_ps(_mm512_mul_ps(v, ws), _mm512_set1_ps(x.scales[m0 + i]));
                    _mm512_mask_storeu_ps(out.get().add((m0 + i) * w.rows + r0), mask, v);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Attention for decode steps: one query vector against the keys and values of one
// sequence, read straight from its KV cache (shared prefix, then its own entries).
// Tensor operations per sequence, layer and step cost more than the arithmetic here.

/// out = softmax(q · Kᵀ) · V over the rows of `parts` in order; `scores` is scratch.
/// q is already scaled.
pub fn attend_one(q: &[f32], parts: &[(&[f32], &[f32])], out: &mut [f32], scores: &mut Vec<f32>) {
    let hd = q.len();
    scores.clear();
    for (k, _) in parts {
        scores.extend(k.chunks_exact(hd).map(|row| dot(q, row)));
    }
    let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
    let mut sum = 0f32;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    out.fill(0.0);
    let mut j = 0;
    for (_, v) in parts {
        for row in v.chunks_exact(hd) {
            axpy(scores[j] / sum, row, out);
            j += 1;
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if a.len().is_multiple_of(16) && avx512() {
        // SAFETY: feature checked; lengths are equal multiples of 16.
        return unsafe { avx512_vec::dot(a, b) };
    }
    // Eight partial sums, like the vector path, so the compiler can vectorise.
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if x.len().is_multiple_of(16) && avx512() {
        // SAFETY: feature checked; lengths are equal multiples of 16.
        return unsafe { avx512_vec::axpy(alpha, x, y) };
    }
    for (o, v) in y.iter_mut().zip(x) {
        *o += alpha * v;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512_vec {
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        unsafe {
            let mut acc = _mm512_setzero_ps();
            for i in (0..a.len()).step_by(16) {
                let x = _mm512_loadu_ps(a.as_ptr().add(i));
                let y = _mm512_loadu_ps(b.as_ptr().add(i));
                acc = _mm512_fmadd_ps(x, y, acc);
            }
            _mm512_reduce_add_ps(acc)
        }
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
        assert_eq!(x.len(), y.len());
        unsafe {
            let a = _mm512_set1_ps(alpha);
            for i in (0..x.len()).step_by(16) {
                let xv = _mm512_loadu_ps(x.as_ptr().add(i));
                let yv = _mm512_loadu_ps(y.as_ptr().add(i));
                _mm512_storeu_ps(y.as_mut_ptr().add(i), _mm512_fmadd_ps(a, xv, yv));
            }
        }
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
            &Q8Rows::quantize(&x, cols),
            &mut got,
        );
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-3 * b.abs().max(1.0),
                "row {i}: {a} vs {b}"
            );
        }
    }

    fn q8_0_matrix(rows: usize, cols: usize) -> std::sync::Arc<QTensor> {
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919 % 1013) as f32 - 506.0) / 300.0)
            .collect();
        let t = Tensor::from_vec(w, (rows, cols), &Device::Cpu).unwrap();
        std::sync::Arc::new(QTensor::quantize(&t, GgmlDType::Q8_0).unwrap())
    }

    fn activations(rows: usize, cols: usize) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| ((i * 31 % 97) as f32 - 48.0) / 10.0 * if i % 7 == 0 { 3.0 } else { 1.0 })
            .collect()
    }

    #[test]
    fn packed_matmul_matches_candles_q8_0_matmul() {
        if !packed_available() {
            return;
        }
        // 37 rows: a partial last tile; 5 activation rows: one group of four and one left.
        let (rows, cols, m) = (37, 640, 5);
        let qw = q8_0_matrix(rows, cols);
        let x = activations(m, cols);
        let want: Vec<f32> = QMatMul::from_arc(qw.clone())
            .unwrap()
            .forward(&Tensor::from_vec(x.clone(), (m, cols), &Device::Cpu).unwrap())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let packed = PackedQ8::from_q8_0(&qw.data().unwrap(), rows, cols);
        let mut got = vec![0f32; m * rows];
        packed.matmul(&Q8Rows::quantize(&x, cols), &mut got);
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{i}: {a} vs {b}");
        }
    }

    #[test]
    fn a_row_gets_the_same_bits_alone_or_in_a_batch() {
        if !packed_available() {
            return;
        }
        let (rows, cols) = (50, 256);
        let qw = q8_0_matrix(rows, cols);
        let packed = PackedQ8::from_q8_0(&qw.data().unwrap(), rows, cols);
        let x = activations(7, cols);
        let mut batch = vec![0f32; 7 * rows];
        packed.matmul(&Q8Rows::quantize(&x, cols), &mut batch);
        for m in 0..7 {
            let mut alone = vec![0f32; rows];
            packed.matmul(
                &Q8Rows::quantize(&x[m * cols..(m + 1) * cols], cols),
                &mut alone,
            );
            assert_eq!(alone, batch[m * rows..(m + 1) * rows], "activation row {m}");
        }
    }

    #[test]
    fn packed_rows_dequantize_like_candle() {
        let (rows, cols) = (20, 64);
        let qw = q8_0_matrix(rows, cols);
        let packed = PackedQ8::from_q8_0(&qw.data().unwrap(), rows, cols);
        let want: Vec<Vec<f32>> = qw.dequantize(&Device::Cpu).unwrap().to_vec2().unwrap();
        let mut row = vec![0f32; cols];
        for (r, w) in want.iter().enumerate() {
            packed.row(r, &mut row);
            assert_eq!(&row, w, "row {r}");
        }
    }

    #[test]
    fn rounding_is_f32_round_bit_for_bit() {
        let mut v = -130.0f32;
        while v < 130.0 {
            for y in [v, v + 0.5, v - 0.5, f32::from_bits(v.to_bits() + 1)] {
                assert_eq!(round_half_away(y), y.round() as i32, "{y}");
            }
            v += 0.173;
        }
        for y in [
            0.49999997f32,
            -0.49999997,
            0.5,
            -0.5,
            1.5,
            -2.5,
            126.5,
            -127.49998,
        ] {
            assert_eq!(round_half_away(y), y.round() as i32, "{y}");
        }
    }

    #[test]
    fn packed_f32_matches_plain_sums_and_a_row_is_the_same_alone() {
        for (rows, cols) in [(37, 96), (64, 40), (5, 7)] {
            let w = activations(rows, cols);
            let p = PackedF32::new(&w, rows, cols);
            for n in [1, 3, 8, 9, 19] {
                let x = activations(n, cols);
                let mut out = vec![0f32; n * rows];
                p.matmul(&x, &mut out);
                for m in 0..n {
                    for r in 0..rows {
                        let want: f64 = (0..cols)
                            .map(|c| w[r * cols + c] as f64 * x[m * cols + c] as f64)
                            .sum();
                        let got = out[m * rows + r] as f64;
                        assert!(
                            (got - want).abs() < 1e-3,
                            "{rows}x{cols} n {n}: {got} vs {want}"
                        );
                    }
                    let mut alone = vec![0f32; rows];
                    p.matmul(&x[m * cols..(m + 1) * cols], &mut alone);
                    assert_eq!(alone, out[m * rows..(m + 1) * rows], "row {m} of {n}");
                }
            }
        }
    }

    #[test]
    fn packed_i8_computes_the_quantized_product_and_a_row_is_the_same_alone() {
        for (rows, cols) in [(37, 96), (64, 512), (5, 8)] {
            let w = activations(rows, cols);
            let p = PackedI8::new(&w, rows, cols);
            for n in [1, 3, 8, 9, 19] {
                let x = activations(n, cols);
                let q = U8Rows::quantize(&x, cols);
                let mut out = vec![0f32; n * rows];
                p.matmul(&q, &mut out);
                // The same product on the quantized values, in f64.
                let quantized = |v: &[f32]| -> Vec<f64> {
                    let d = v.iter().fold(0f32, |a, x| a.max(x.abs())) / 127.0;
                    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
                    v.iter()
                        .map(|x| round_half_away(x * id).clamp(-127, 127) as f64 * d as f64)
                        .collect()
                };
                for m in 0..n {
                    let xq = quantized(&x[m * cols..(m + 1) * cols]);
                    for r in 0..rows {
                        let wq = quantized(&w[r * cols..(r + 1) * cols]);
                        let want: f64 = wq.iter().zip(&xq).map(|(a, b)| a * b).sum();
                        let got = out[m * rows + r] as f64;
                        assert!(
                            (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                            "{rows}x{cols} n {n}: {got} vs {want}"
                        );
                    }
                    let alone = U8Rows::quantize(&x[m * cols..(m + 1) * cols], cols);
                    let mut one = vec![0f32; rows];
                    p.matmul(&alone, &mut one);
                    assert_eq!(one, out[m * rows..(m + 1) * rows], "row {m} of {n}");
                }
            }
        }
    }
}
