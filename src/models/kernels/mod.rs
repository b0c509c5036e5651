//! Our CPU kernels: the packed quantized matrix product every decoder weight goes
//! through (Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K; `packed.rs`), for decode steps, decode
//! batches and prompts alike; the f32 and int8 tiles of the Marian model; attention
//! helpers.
//!
//! One tile driver (`PackedQ::matmul`: tiles of 16 weight rows spread over candle's
//! pinned worker pool) and one file per instruction-set family, chosen at run time:
//! `x86_avx512.rs` (AVX-512 VNNI), `x86_avx2.rs` (AVX2 + FMA + F16C, AVX-VNNI where
//! present), `aarch64_neon.rs` (NEON, with the dot-product instructions where present)
//! and `generic.rs` (portable Rust). Every one computes a (weight row, activation row)
//! result with the same exact integer dot products per 32-value block and the same
//! float operations in the same order, so a row gives the same bits alone or in a
//! batch, and the same bits on every instruction set (tested below).
//! `ANUVAD_ISA` caps the choice, so each path can be run and tested on one machine.

#[cfg(target_arch = "aarch64")]
mod aarch64_neon;
mod generic;
mod packed;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;

pub use packed::{Kind, PackedQ};

const QK: usize = 32;
/// Weight rows per tile.
const TILE: usize = 16;

/// Activation rows quantized like ggml's Q8_0: per 32 values, scale = max|x|/127 and
/// round-half-away-from-zero of x/scale; plus the sum of each block's quants and of its
/// first 16, for the packed kernels' zero points and mins.
pub struct Q8Rows {
    rows: usize,
    blocks: usize,
    scales: Vec<f32>,
    sums: Vec<i32>,
    halves: Vec<i32>,
    qs: Vec<i8>,
}

impl Q8Rows {
    /// `x` holds `rows` rows of `cols` values (a multiple of 32).
    pub fn quantize(x: &[f32], cols: usize) -> Q8Rows {
        Self::by_groups(x, cols, QK, |chunk, qs| {
            let amax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let id = if d != 0.0 { 1.0 / d } else { 0.0 };
            for (o, v) in qs.iter_mut().zip(chunk) {
                *o = round_half_away(v * id) as i8;
            }
            // The scale is stored as f16 in ggml; round it the same way so dot products match.
            half::f16::from_f32(d).to_f32()
        })
    }

    /// `x` quantized like ggml's Q8_K, what llama.cpp and candle multiply k-quant weights
    /// with: per 256 values, scale = max/−127 with `max` the value of largest magnitude
    /// (kept as f32), quants rounded half away from zero and clamped to −128..127. Each
    /// 32-value block carries its superblock's scale, so the kernels index all alike.
    pub fn quantize_k(x: &[f32], cols: usize) -> Q8Rows {
        Self::by_groups(x, cols, 8 * QK, |chunk, qs| {
            let (mut max, mut amax) = (0f32, 0f32);
            for &v in chunk {
                if amax < v.abs() {
                    amax = v.abs();
                    max = v;
                }
            }
            if amax == 0.0 {
                return 0.0;
            }
            let iscale = -127.0 / max;
            for (o, v) in qs.iter_mut().zip(chunk) {
                *o = round_half_away(iscale * v).clamp(-128, 127) as i8;
            }
            1.0 / iscale
        })
    }

    /// `x` quantized `group` values at a time by `quantize` (which writes the group's
    /// quants and returns its scale); then, per 32-value block, the scale, the sum of the
    /// quants and the sum of the first 16. A prompt's rows are split over the threads
    /// (each row is quantized alone, so the bits do not depend on the split).
    fn by_groups(
        x: &[f32],
        cols: usize,
        group: usize,
        quantize: impl Fn(&[f32], &mut [i8]) -> f32 + Sync,
    ) -> Q8Rows {
        let rows = x.len() / cols;
        let blocks = cols / QK;
        let mut q = Q8Rows {
            rows,
            blocks,
            scales: vec![0.0; rows * blocks],
            sums: vec![0; rows * blocks],
            halves: vec![0; rows * blocks],
            qs: vec![0i8; rows * cols],
        };
        // One row: its quants, and per block its scale and sums.
        let row =
            |r: usize, qs: &mut [i8], scales: &mut [f32], sums: &mut [i32], halves: &mut [i32]| {
                let x = &x[r * cols..(r + 1) * cols];
                let groups = x.chunks_exact(group).zip(qs.chunks_exact_mut(group));
                for (g, (chunk, qs)) in groups.enumerate() {
                    let d = quantize(chunk, qs);
                    for (j, block) in qs.chunks_exact(QK).enumerate() {
                        let i = g * (group / QK) + j;
                        halves[i] = block[..QK / 2].iter().map(|&v| v as i32).sum();
                        sums[i] =
                            halves[i] + block[QK / 2..].iter().map(|&v| v as i32).sum::<i32>();
                        scales[i] = d;
                    }
                }
            };
        let ptrs = (
            OutPtr(q.qs.as_mut_ptr()),
            OutPtr(q.scales.as_mut_ptr()),
            OutPtr(q.sums.as_mut_ptr()),
            OutPtr(q.halves.as_mut_ptr()),
        );
        let rows_of = |range: std::ops::Range<usize>| {
            for r in range {
                let (values, blocks) = (r * cols..(r + 1) * cols, r * blocks..(r + 1) * blocks);
                // SAFETY: row r's ranges lie inside the buffers allocated above, and each
                // row is handed to one task only.
                unsafe {
                    row(
                        r,
                        ptrs.0.slice(values),
                        ptrs.1.slice(blocks.clone()),
                        ptrs.2.slice(blocks.clone()),
                        ptrs.3.slice(blocks),
                    )
                }
            }
        };
        // A decode step's few rows are not worth waking the other threads for.
        if rows >= 16 {
            candle_core::utils::barrier_pool().execute_chunked(rows, rows_of);
        } else {
            rows_of(0..rows);
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

/// The instruction sets our kernels dispatch on; on x86-64 lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust (the compiler's auto-vectorisation only).
    Generic,
    /// x86-64 with AVX2, FMA and F16C.
    Avx2,
    /// AVX2 plus AVX-512 F and BW (VNNI, where present, for the int8 tiles).
    Avx512,
    /// aarch64 NEON (Apple Silicon, Graviton), with dot-product instructions where present.
    Neon,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Generic => "generic",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    fn parse(s: &str) -> Option<Isa> {
        [Isa::Generic, Isa::Avx2, Isa::Avx512, Isa::Neon]
            .into_iter()
            .find(|i| i.name() == s.trim().to_ascii_lowercase())
    }

    /// Every instruction set this CPU runs, lowest first (for tests that compare them).
    #[cfg(test)]
    pub fn all_here() -> Vec<Isa> {
        let cpu = cpu_isa();
        [Isa::Generic, Isa::Avx2, Isa::Avx512, Isa::Neon]
            .into_iter()
            .filter(|&i| i == Isa::Generic || i == cpu || (i < cpu && cpu != Isa::Neon))
            .collect()
    }
}

/// The environment variable that caps the instruction set (`generic`, `avx2`, `avx512`,
/// `neon`): every kernel path can then be run and tested on one machine.
pub const ISA_VAR: &str = "ANUVAD_ISA";

/// The cap set in `ANUVAD_ISA`, if any; an error message for a value that is not one.
pub fn isa_cap() -> std::result::Result<Option<Isa>, String> {
    match std::env::var(ISA_VAR) {
        Ok(v) if !v.trim().is_empty() => Isa::parse(&v).map(Some).ok_or_else(|| {
            format!("{ISA_VAR}={v:?} is not an instruction set; use generic, avx2, avx512 or neon")
        }),
        _ => Ok(None),
    }
}

/// The best instruction set this CPU runs, capped by `ANUVAD_ISA`; looked up once.
pub fn isa() -> Isa {
    static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    *ISA.get_or_init(|| {
        let cpu = cpu_isa();
        match isa_cap() {
            // A cap from the other architecture family means nothing here.
            Ok(Some(cap)) if cap == Isa::Generic || (cap != Isa::Neon && cpu != Isa::Neon) => {
                cpu.min(cap)
            }
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
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            Isa::Neon
        } else {
            Isa::Generic
        }
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        Isa::Generic
    }
}

/// The CPU features our kernels use on this machine (detected at run time, after the
/// `ANUVAD_ISA` cap): the tier first, then the optional instructions it picks up.
pub fn features_in_use() -> Vec<&'static str> {
    let mut out = vec![isa().name()];
    #[cfg(target_arch = "x86_64")]
    {
        if vnni() {
            out.push("avx512vnni");
        } else if avx_vnni() {
            out.push("avxvnni");
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if isa() == Isa::Neon && std::arch::is_aarch64_feature_detected!("dotprod") {
            out.push("dotprod");
        }
    }
    out
}

/// Whether the AVX-512 vector helpers (f32 tiles, attention, softmax sums) may run.
pub fn avx512() -> bool {
    isa() == Isa::Avx512
}

/// Whether the 256-bit VNNI instructions (AVX-VNNI: Alder Lake and later, Sapphire
/// Rapids, Zen 5) may run: the AVX2 tier's Q8_0 tile then uses `vpdpbusd`.
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx_vnni() -> bool {
    isa() >= Isa::Avx2 && is_x86_feature_detected!("avxvnni")
}

/// Whether the AVX-512 VNNI int8 instructions may run (the Q8_0 tile's fastest form and
/// the Marian int8 tiles).
pub fn vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx512() && is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One tile of a packed product on instruction set `isa` (with its VNNI forms where
/// `vnni` / `avx_vnni` say so): the per-ISA files' kernels for type `F`.
///
/// # Safety
/// `isa` (and the VNNI forms asked for) must run on this CPU; `job` must be the task's
/// own tile, inside the sizes the driver checked.
#[allow(unused_variables)]
unsafe fn tile_on<F: packed::Format>(isa: Isa, vnni: bool, avx_vnni: bool, job: &packed::Job) {
    // SAFETY (every arm): the caller's contract.
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if vnni => unsafe { x86_avx512::tile::<F>(job) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 if avx_vnni => unsafe { x86_avx2::tile_vnni::<F>(job) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => unsafe { x86_avx2::tile::<F>(job) },
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => unsafe { aarch64_neon::tile::<F>(job) },
        _ => generic::tile::<F>(job),
    }
}

pub(crate) struct OutPtr<T = f32>(pub(crate) *mut T);
// SAFETY: only used to write disjoint rows from the pool's threads (see PackedQ::drive).
unsafe impl<T> Send for OutPtr<T> {}
unsafe impl<T> Sync for OutPtr<T> {}
// Not derived: derives would require `T: Copy`, which a pointer does not need.
impl<T> Clone for OutPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for OutPtr<T> {}

impl<T> OutPtr<T> {
    pub(crate) fn get(self) -> *mut T {
        self.0
    }

    /// Elements `range` of the buffer this points into.
    ///
    /// # Safety
    /// The range lies inside the buffer, and no other live slice overlaps it.
    unsafe fn slice<'a>(self, range: std::ops::Range<usize>) -> &'a mut [T] {
        // SAFETY: per this function's contract.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(range.start), range.len()) }
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

    /// Row `r` (an embedding lookup when the matrix is tied).
    pub fn row(&self, r: usize, out: &mut [f32]) {
        let (t, lane) = (r / TILE, r % TILE);
        for (c, o) in out.iter_mut().enumerate().take(self.cols) {
            *o = self.data[(t * self.cols + c) * TILE + lane];
        }
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
                    unsafe { x86_avx512::f32_tiles(self, t0, two, x, n, out_ptr) };
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
        let wide = vnni();
        candle_core::utils::barrier_pool().execute_chunked(tiles.div_ceil(2), |range| {
            for pair in range {
                let t0 = pair * 2;
                let two = t0 + 1 < tiles;
                #[cfg(target_arch = "x86_64")]
                if wide {
                    // SAFETY: features checked; each task writes its own tiles' outputs,
                    // inside the sizes asserted above.
                    unsafe { x86_avx512::i8_tiles(self, t0, two, x, out_ptr) };
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
    {
        if a.len().is_multiple_of(16) && avx512() {
            // SAFETY: feature checked; lengths are equal multiples of 16.
            return unsafe { x86_avx512::dot(a, b) };
        }
        if isa() >= Isa::Avx2 {
            // SAFETY: feature checked (the portable code, compiled for AVX2).
            return unsafe { x86_avx2::dot(a, b) };
        }
    }
    dot_portable(a, b)
}

/// Eight partial sums, like the vector paths, so the compiler can vectorise; a separate
/// multiply and add (never fused), so every vector width gives the same bits.
#[inline(always)]
pub(crate) fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
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
    {
        if x.len().is_multiple_of(16) && avx512() {
            // SAFETY: feature checked; lengths are equal multiples of 16.
            return unsafe { x86_avx512::axpy(alpha, x, y) };
        }
        if isa() >= Isa::Avx2 {
            // SAFETY: feature checked (the portable code, compiled for AVX2).
            return unsafe { x86_avx2::axpy(alpha, x, y) };
        }
    }
    axpy_portable(alpha, x, y)
}

#[inline(always)]
pub(crate) fn axpy_portable(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (o, v) in y.iter_mut().zip(x) {
        *o += alpha * v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
    use candle_core::{Device, Module, Tensor};

    /// candle's aarch64 quantized kernels use the dot-product instructions without
    /// asking the CPU (SIGILL on an ARMv8.0 core); only our own kernels run there.
    fn candle_runs_here() -> bool {
        #[cfg(target_arch = "aarch64")]
        {
            std::arch::is_aarch64_feature_detected!("dotprod")
        }
        #[cfg(not(target_arch = "aarch64"))]
        {
            true
        }
    }

    const KINDS: [(Kind, GgmlDType); 6] = [
        (Kind::Q8_0, GgmlDType::Q8_0),
        (Kind::Q4_0, GgmlDType::Q4_0),
        (Kind::Q5_0, GgmlDType::Q5_0),
        (Kind::Q4K, GgmlDType::Q4K),
        (Kind::Q5K, GgmlDType::Q5K),
        (Kind::Q6K, GgmlDType::Q6K),
    ];

    /// A rows × cols matrix quantized by candle (ggml's quantizers), with rows of
    /// different magnitudes and signs so scales, mins and zero points all vary.
    fn matrix(dtype: GgmlDType, rows: usize, cols: usize) -> std::sync::Arc<QTensor> {
        let mut rng = noise(7);
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| {
                let (r, c) = (i / cols, i % cols);
                rng() * (1.0 + (r % 5) as f32)
                    + if c % 64 < 32 {
                        0.3 * (r % 3) as f32
                    } else {
                        0.0
                    }
            })
            .collect();
        let t = Tensor::from_vec(w, (rows, cols), &Device::Cpu).unwrap();
        std::sync::Arc::new(QTensor::quantize(&t, dtype).unwrap())
    }

    /// Uniform noise in [-1.7, 1.7) from a fixed seed (xorshift): no pattern that could
    /// line up with block boundaries.
    fn noise(seed: u64) -> impl FnMut() -> f32 {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 3.4
        }
    }

    /// Activations with an outlier now and then, as real hidden states have.
    fn noisy_activations(rows: usize, cols: usize) -> Vec<f32> {
        let mut rng = noise(11);
        (0..rows * cols)
            .map(|i| rng() * if i % 37 == 0 { 8.0 } else { 1.0 })
            .collect()
    }

    fn activations(rows: usize, cols: usize) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| ((i * 31 % 97) as f32 - 48.0) / 10.0 * if i % 7 == 0 { 3.0 } else { 1.0 })
            .collect()
    }

    fn packed(kind: Kind, qw: &QTensor) -> PackedQ {
        let (rows, cols) = qw.shape().dims2().unwrap();
        PackedQ::from_ggml(kind, &qw.data().unwrap(), rows, cols).unwrap()
    }

    #[test]
    fn packed_rows_dequantize_exactly_like_ggml_and_keep_the_file_size() {
        for (kind, dtype) in KINDS {
            let (rows, cols) = (32, 512);
            let qw = matrix(dtype, rows, cols);
            let p = packed(kind, &qw);
            let want: Vec<Vec<f32>> = qw.dequantize(&Device::Cpu).unwrap().to_vec2().unwrap();
            let mut row = vec![0f32; cols];
            for (r, w) in want.iter().enumerate() {
                p.row(r, &mut row);
                assert_eq!(&row, w, "{}: row {r}", kind.name());
            }
            // In memory at the file's size: the K-types' sub-scales take a byte each
            // (+4 bytes per 256 values), nothing else is added.
            let file = qw.data().unwrap().len();
            assert!(
                p.bytes() <= file + file / 30,
                "{}: {} bytes packed for {file} in the file",
                kind.name(),
                p.bytes()
            );
        }
    }

    #[test]
    fn bad_sizes_are_refused_not_trusted() {
        let qw = matrix(GgmlDType::Q4K, 16, 256);
        let data = qw.data().unwrap();
        let err = PackedQ::from_ggml(Kind::Q4K, &data[..data.len() - 1], 16, 256).unwrap_err();
        assert!(err.0.contains("not a 16x256 matrix"), "{err}");
        let err = PackedQ::from_ggml(Kind::Q4K, &data, 32, 128).unwrap_err();
        assert!(err.0.contains("256-value blocks"), "{err}");
        let err = PackedQ::from_ggml(Kind::Q8_0, &data, usize::MAX / 2, 64).unwrap_err();
        assert!(err.0.contains("too large"), "{err}");
    }

    /// For every GGML type, on every instruction set this CPU runs: the product is the
    /// exact product of the dequantized weights and quantized activations (up to float
    /// rounding), it is close to candle's, a row gives the same bits alone as in a batch,
    /// and every instruction set gives the portable kernel's bits exactly.
    #[test]
    fn packed_tiles_of_every_type_agree_with_the_math_and_with_each_other_bit_for_bit() {
        // 37 rows: a partial last tile; 19 activation rows: groups of four and a rest,
        // and enough rows for their quantization to be split over the threads.
        let (rows, cols, m) = (37, 512, 19);
        let x = noisy_activations(m, cols);
        for (kind, dtype) in KINDS {
            let name = kind.name();
            let qw = matrix(dtype, rows, cols);
            let p = packed(kind, &qw);
            let q = p.quantize(&x);
            let mut reference = vec![0f32; m * rows];
            p.matmul_on(Isa::Generic, &q, &mut reference);
            let w: Vec<f32> = qw
                .dequantize(&Device::Cpu)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            for i in 0..m {
                for r in 0..rows {
                    let exact: f64 = (0..cols)
                        .map(|c| {
                            let b = i * q.blocks + c / QK;
                            w[r * cols + c] as f64 * q.qs[i * cols + c] as f64 * q.scales[b] as f64
                        })
                        .sum();
                    let got = reference[i * rows + r] as f64;
                    assert!(
                        (got - exact).abs() <= 1e-4 * exact.abs().max(10.0),
                        "{name} ({i}, {r}): {got} vs {exact}"
                    );
                }
            }
            if candle_runs_here() {
                // Against the product with unquantized activations, our error (activations
                // quantized per 32 values) is no larger than candle's (per 32 values for
                // the simple types, per 256 for the K-types).
                let candle: Vec<f32> = QMatMul::from_arc(qw.clone())
                    .unwrap()
                    .forward(&Tensor::from_vec(x.clone(), (m, cols), &Device::Cpu).unwrap())
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap();
                let (mut ours, mut theirs) = (0f64, 0f64);
                for i in 0..m {
                    for r in 0..rows {
                        let exact: f64 = (0..cols)
                            .map(|c| w[r * cols + c] as f64 * x[i * cols + c] as f64)
                            .sum();
                        ours += (reference[i * rows + r] as f64 - exact).abs();
                        theirs += (candle[i * rows + r] as f64 - exact).abs();
                    }
                }
                assert!(
                    ours <= theirs * 1.05,
                    "{name}: error {ours} against candle's {theirs}"
                );
            }
            #[cfg(target_arch = "x86_64")]
            if Isa::all_here().contains(&Isa::Avx2) {
                let mut plain = vec![0f32; m * rows];
                p.matmul_avx2_plain(&q, &mut plain);
                assert_eq!(
                    plain, reference,
                    "{name}: the AVX2 tile without VNNI differs"
                );
            }
            for isa in Isa::all_here() {
                let mut got = vec![0f32; m * rows];
                p.matmul_on(isa, &q, &mut got);
                assert_eq!(
                    got,
                    reference,
                    "{name}: {} differs from the portable kernel",
                    isa.name()
                );
                for r in 0..m {
                    let alone = p.quantize(&x[r * cols..(r + 1) * cols]);
                    let mut one = vec![0f32; rows];
                    p.matmul_on(isa, &alone, &mut one);
                    assert_eq!(
                        one,
                        got[r * rows..(r + 1) * rows],
                        "{name} {}: row {r}",
                        isa.name()
                    );
                }
            }
        }
    }

    /// The K-types take candle's arithmetic operation for operation, so where candle runs
    /// its own tiles (x86 with AVX-512 VNNI, widths of whole tiles) the results are
    /// equal bit for bit: models keep the outputs they had before our kernels took over.
    #[test]
    fn k_quant_products_equal_candles_own_tiles_bit_for_bit() {
        #[cfg(target_arch = "x86_64")]
        {
            if !(is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512bw")) {
                eprintln!("SKIP: candle's AVX-512 VNNI tiles do not run on this CPU");
                return;
            }
            let (rows, cols) = (48, 768);
            for (kind, dtype) in [(Kind::Q4K, GgmlDType::Q4K), (Kind::Q6K, GgmlDType::Q6K)] {
                let qw = matrix(dtype, rows, cols);
                let p = packed(kind, &qw);
                let mm = QMatMul::from_arc(qw.clone()).unwrap();
                // candle takes its tiles from 2 rows (Q6_K) or 1 (Q4_K); its AMX tiles,
                // where the CPU has them, from 32 (same arithmetic).
                for m in [2, 5, 9, 40] {
                    let x = noisy_activations(m, cols);
                    let mut ours = vec![0f32; m * rows];
                    p.matmul(&p.quantize(&x), &mut ours);
                    let theirs: Vec<f32> = mm
                        .forward(&Tensor::from_vec(x, (m, cols), &Device::Cpu).unwrap())
                        .unwrap()
                        .flatten_all()
                        .unwrap()
                        .to_vec1()
                        .unwrap();
                    assert_eq!(ours, theirs, "{} with {m} rows", kind.name());
                }
            }
        }
    }

    /// The attention helpers give the portable code's bits on the AVX2 path (the same
    /// code compiled for AVX2), so that tier's outputs do not depend on the CPU.
    #[test]
    fn attention_helpers_on_avx2_equal_the_portable_code_bit_for_bit() {
        #[cfg(target_arch = "x86_64")]
        if Isa::all_here().contains(&Isa::Avx2) {
            for n in [7, 64, 100, 256] {
                let a = noisy_activations(1, n);
                let b = activations(1, n);
                // SAFETY: AVX2 is present (checked above).
                let got = unsafe { x86_avx2::dot(&a, &b) };
                assert_eq!(got.to_bits(), dot_portable(&a, &b).to_bits(), "dot {n}");
                let (mut y1, mut y2) = (b.clone(), b.clone());
                unsafe { x86_avx2::axpy(0.37, &a, &mut y1) };
                axpy_portable(0.37, &a, &mut y2);
                assert_eq!(y1, y2, "axpy {n}");
            }
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
