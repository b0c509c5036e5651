//! Quantized weight matrices in our own tiles, one layout for every GGML type a decoder
//! GGUF uses (Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K), read straight from the file's blocks:
//! the GGML copy is dropped once packed, so a model is in memory once, at its file size
//! (within 3%).
//!
//! A tile is 16 weight rows. Per 32-value block of the tile, the quants of the 16 rows are
//! stored as unsigned integers in "groups" of 4 consecutive values per row: the byte
//! order (`(group · 16 + row) · 4 + j`) lets one `vpdpbusd` multiply 4 values of all 16
//! rows by 4 activation bytes broadcast to every lane. Narrow types keep their width:
//! - 8 bits (Q8_0): 8 groups of 64 bytes, the weight plus 128;
//! - 4 bits: 4 "nibble planes" of 64 bytes: plane p holds group p in its low nibbles and
//!   group p + 4 in its high ones;
//! - 5 bits: the nibble planes and one 64-byte plane whose bit g is bit 4 of group g;
//! - 6 bits: the nibble planes and two 64-byte planes of 2-bit pairs (groups 0-3, 4-7).
//!
//! The scales stay as the file has them (f16 `d`, `dmin`; the K-types' 6-bit or 8-bit
//! sub-scales, unpacked to one byte each), at the head of each "superblock" (one block
//! for the simple types, 8 blocks = 256 values for the K-types). Activations come
//! quantized per 32 values for the simple types (`Q8Rows::quantize`, ggml's Q8_0) and
//! per 256 for the K-types (`Q8Rows::quantize_k`, ggml's Q8_K, as llama.cpp and candle
//! multiply them): scale `dx`, quants `x`, sums `xs` per block and `xs0` per first half.
//! A (weight row, activation row) result then accumulates, block by block:
//!
//! ```text
//! simple (Q8_0, Q4_0, Q5_0):  acc = fma(d·dx, (Σ q·x − Z·xs) as f32, acc)     Z = 128, 8, 16
//! Q4_K, Q5_K:                 acc = fma((Σ q·x) as f32, (d·sc)·dx, acc)
//!                             acc = acc − (dmin·m)·(dx·xs)                 (fused)
//! Q6_K, per 16-value half h:  acc = fma((Σₕ q·x − 32·xsₕ) as f32, (d·scₕ)·dx, acc)
//! ```
//!
//! which is candle's arithmetic for its own k-quant tiles, operation for operation (so
//! models keep their outputs bit for bit). The integer sums are exact, so every
//! instruction set computes them its own way; the float operations are the same, in the
//! same order, everywhere. A row thus gives the same bits alone or in a batch, on every
//! instruction set (tested in `kernels`).

use super::{Isa, OutPtr, Q8Rows, QK, TILE, isa};

/// Bytes of one 16-row tile's quants for one 32-value block, by bit width.
const fn quant_bytes(bits: usize) -> usize {
    TILE * QK * bits / 8
}

/// What the tile kernels need to know of a GGML type (all compile-time, so each kernel
/// is compiled once per type with the branches of the others removed).
pub trait Format {
    const NAME: &'static str;
    /// Bits per stored quant: 4, 5, 6 or 8.
    const BITS: usize;
    /// Blocks of 32 per superblock (the span of `d`): 1, or 8 for the K-types.
    const SB: usize;
    /// Whether blocks carry a min (Q4_K, Q5_K): a `dmin` per superblock, an `m` per block.
    const MIN: bool;
    /// Whether blocks carry one unsigned 6-bit scale (Q4_K, Q5_K).
    const SCALED: bool;
    /// Whether blocks carry two signed scales, one per 16 values (Q6_K).
    const HALVES: bool;
    /// The zero point subtracted from the stored quants.
    const ZERO: i32;

    /// Header bytes per superblock: 16 f16 `d`, and 16 f16 `dmin` with mins.
    const HDR: usize = TILE * 2 * (1 + Self::MIN as usize);
    /// Per-block scale bytes: 16 `sc` and 16 `m`, or 16 `sc0` and 16 `sc1`.
    const PARAMS: usize = if Self::SCALED || Self::HALVES {
        2 * TILE
    } else {
        0
    };
    const QUANTS: usize = quant_bytes(Self::BITS);
    const BLK: usize = Self::PARAMS + Self::QUANTS;
    const SUPER: usize = Self::HDR + Self::SB * Self::BLK;
    /// GGML bytes per superblock of one row (what the file holds).
    const GGML: usize;
}

pub enum Q8_0 {}
pub enum Q4_0 {}
pub enum Q5_0 {}
pub enum Q4K {}
pub enum Q5K {}
pub enum Q6K {}

macro_rules! ggml_format {
    ($t:ty, $name:expr, bits $bits:expr, sb $sb:expr, min $min:expr, scaled $sc:expr,
     halves $h:expr, zero $z:expr, ggml $g:expr) => {
        impl Format for $t {
            const NAME: &'static str = $name;
            const BITS: usize = $bits;
            const SB: usize = $sb;
            const MIN: bool = $min;
            const SCALED: bool = $sc;
            const HALVES: bool = $h;
            const ZERO: i32 = $z;
            const GGML: usize = $g;
        }
    };
}
ggml_format!(Q8_0, "Q8_0", bits 8, sb 1, min false, scaled false, halves false, zero 128, ggml 34);
ggml_format!(Q4_0, "Q4_0", bits 4, sb 1, min false, scaled false, halves false, zero 8, ggml 18);
ggml_format!(Q5_0, "Q5_0", bits 5, sb 1, min false, scaled false, halves false, zero 16, ggml 22);
ggml_format!(Q4K, "Q4_K", bits 4, sb 8, min true, scaled true, halves false, zero 0, ggml 144);
ggml_format!(Q5K, "Q5_K", bits 5, sb 8, min true, scaled true, halves false, zero 0, ggml 176);
ggml_format!(Q6K, "Q6_K", bits 6, sb 8, min false, scaled false, halves true, zero 32, ggml 210);

/// The GGML types we pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Q8_0,
    Q4_0,
    Q5_0,
    Q4K,
    Q5K,
    Q6K,
}

/// `$body` with the type alias `$F` naming the `Format` of `$kind`: one copy of `$body`
/// compiled per type.
macro_rules! with_format {
    ($kind:expr, $F:ident => $body:expr) => {
        match $kind {
            Kind::Q8_0 => {
                type $F = Q8_0;
                $body
            }
            Kind::Q4_0 => {
                type $F = Q4_0;
                $body
            }
            Kind::Q5_0 => {
                type $F = Q5_0;
                $body
            }
            Kind::Q4K => {
                type $F = Q4K;
                $body
            }
            Kind::Q5K => {
                type $F = Q5K;
                $body
            }
            Kind::Q6K => {
                type $F = Q6K;
                $body
            }
        }
    };
}

impl Kind {
    #[cfg(test)]
    pub fn name(self) -> &'static str {
        with_format!(self, F => F::NAME)
    }

    /// Whether activations for this type are quantized per 256 values (ggml's Q8_K).
    pub fn k_activations(self) -> bool {
        self.span() > QK
    }

    /// Values per superblock (the column count must be a multiple).
    fn span(self) -> usize {
        with_format!(self, F => F::SB * QK)
    }
}

/// One row's superblock unpacked from GGML: what `write` puts into a tile.
struct Unpacked {
    d: u16,
    dmin: u16,
    /// Per block of 32: the scale and the min (K-types), or the two half scales (Q6_K).
    params: [[u8; 2]; 8],
    /// The quants as stored, zero point included (0..2^BITS).
    q: [u8; 8 * QK],
}

fn f16_bits(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

/// ggml's 6-bit scale and min of sub-block j of a Q4_K/Q5_K superblock.
fn scale_min_k4(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// Decode one GGML superblock (`F::GGML` bytes) of one row.
fn unpack<F: Format>(b: &[u8]) -> Unpacked {
    let mut u = Unpacked {
        d: 0,
        dmin: 0,
        params: [[0; 2]; 8],
        q: [0; 8 * QK],
    };
    match F::NAME {
        "Q8_0" => {
            u.d = f16_bits(b);
            for (o, &v) in u.q.iter_mut().zip(&b[2..34]) {
                *o = (v as i8 as i16 + 128) as u8;
            }
        }
        "Q4_0" => {
            u.d = f16_bits(b);
            for j in 0..16 {
                u.q[j] = b[2 + j] & 0x0F;
                u.q[j + 16] = b[2 + j] >> 4;
            }
        }
        "Q5_0" => {
            u.d = f16_bits(b);
            let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
            for j in 0..16 {
                u.q[j] = (b[6 + j] & 0x0F) | ((((qh >> j) & 1) as u8) << 4);
                u.q[j + 16] = (b[6 + j] >> 4) | ((((qh >> (j + 16)) & 1) as u8) << 4);
            }
        }
        "Q4_K" | "Q5_K" => {
            u.d = f16_bits(b);
            u.dmin = f16_bits(&b[2..]);
            let scales = &b[4..16];
            for (j, p) in u.params.iter_mut().enumerate() {
                let (sc, m) = scale_min_k4(j, scales);
                *p = [sc, m];
            }
            let (qh, qs) = if F::BITS == 5 {
                (&b[16..48], &b[48..176])
            } else {
                (&b[0..0], &b[16..144])
            };
            // 32-byte chunks c: sub-block 2c in the low nibbles, 2c + 1 in the high ones;
            // Q5_K's fifth bits are bits 2c and 2c + 1 of qh[l].
            for c in 0..4 {
                for l in 0..32 {
                    let v = qs[c * 32 + l];
                    let (mut lo, mut hi) = (v & 0x0F, v >> 4);
                    if F::BITS == 5 {
                        lo |= ((qh[l] >> (2 * c)) & 1) << 4;
                        hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
                    }
                    u.q[c * 64 + l] = lo;
                    u.q[c * 64 + 32 + l] = hi;
                }
            }
        }
        "Q6_K" => {
            let (ql, qh, sc) = (&b[0..128], &b[128..192], &b[192..208]);
            u.d = f16_bits(&b[208..]);
            for (j, p) in u.params.iter_mut().enumerate() {
                *p = [sc[2 * j], sc[2 * j + 1]];
            }
            for half in 0..2 {
                let (ql, qh) = (&ql[64 * half..], &qh[32 * half..]);
                let q = &mut u.q[128 * half..];
                for l in 0..32 {
                    q[l] = (ql[l] & 0x0F) | ((qh[l] & 3) << 4);
                    q[l + 32] = (ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4);
                    q[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                    q[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
                }
            }
        }
        other => unreachable!("no GGML decoder for {other}"),
    }
    u
}

/// Byte offset of value `k` (0..32) of tile row `lane` within its group, and its group.
#[inline(always)]
fn slot(lane: usize, k: usize) -> (usize, usize) {
    (k / 4, lane * 4 + k % 4)
}

/// Stored quant of value k of row `lane` in a block's quant area.
#[inline(always)]
pub(crate) fn quant<F: Format>(area: &[u8], lane: usize, k: usize) -> u8 {
    let (g, i) = slot(lane, k);
    if F::BITS == 8 {
        return area[g * 64 + i];
    }
    let nib = (area[(g % 4) * 64 + i] >> (4 * (g / 4))) & 0x0F;
    let high = match F::BITS {
        5 => (area[256 + i] >> g) & 1,
        6 => (area[256 + (g / 4) * 64 + i] >> (2 * (g % 4))) & 3,
        _ => 0,
    };
    nib | (high << 4)
}

/// Store value k of row `lane` (zero point included) into a block's quant area.
fn put<F: Format>(area: &mut [u8], lane: usize, k: usize, q: u8) {
    let (g, i) = slot(lane, k);
    if F::BITS == 8 {
        area[g * 64 + i] = q;
        return;
    }
    area[(g % 4) * 64 + i] |= (q & 0x0F) << (4 * (g / 4));
    match F::BITS {
        5 => area[256 + i] |= ((q >> 4) & 1) << g,
        6 => area[256 + (g / 4) * 64 + i] |= ((q >> 4) & 3) << (2 * (g % 4)),
        _ => {}
    }
}

/// Why a weight matrix cannot be packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackError(pub String);

impl std::fmt::Display for PackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A quantized weight matrix in 16-row tiles (see the module comment).
pub struct PackedQ {
    kind: Kind,
    rows: usize,
    cols: usize,
    data: Vec<u8>,
}

impl std::fmt::Debug for PackedQ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedQ({:?}, {}x{})", self.kind, self.rows, self.cols)
    }
}

impl PackedQ {
    /// Pack the GGML data of a `rows` × `cols` matrix of type `kind`. The sizes are
    /// checked against each other (the data comes from a file).
    pub fn from_ggml(kind: Kind, w: &[u8], rows: usize, cols: usize) -> Result<PackedQ, PackError> {
        with_format!(kind, F => Self::pack::<F>(kind, w, rows, cols))
    }

    fn pack<F: Format>(
        kind: Kind,
        w: &[u8],
        rows: usize,
        cols: usize,
    ) -> Result<PackedQ, PackError> {
        let span = F::SB * QK;
        if cols == 0 || !cols.is_multiple_of(span) {
            return Err(PackError(format!(
                "{} rows must hold a whole number of {span}-value blocks; these have {cols} values",
                F::NAME
            )));
        }
        let supers = cols / span;
        let want = rows
            .checked_mul(supers)
            .and_then(|n| n.checked_mul(F::GGML))
            .ok_or_else(|| PackError(format!("{rows}x{cols} is too large")))?;
        if w.len() != want {
            return Err(PackError(format!(
                "{} data of {} bytes is not a {rows}x{cols} matrix ({want} bytes)",
                F::NAME,
                w.len()
            )));
        }
        let tiles = rows.div_ceil(TILE);
        // Rows past the end of the last tile stay zero (d = 0): they compute to 0.
        let mut data = vec![0u8; tiles * supers * F::SUPER];
        for r in 0..rows {
            let (t, lane) = (r / TILE, r % TILE);
            for s in 0..supers {
                let u = unpack::<F>(&w[(r * supers + s) * F::GGML..][..F::GGML]);
                let sup = &mut data[(t * supers + s) * F::SUPER..][..F::SUPER];
                sup[lane * 2..lane * 2 + 2].copy_from_slice(&u.d.to_le_bytes());
                if F::MIN {
                    sup[32 + lane * 2..32 + lane * 2 + 2].copy_from_slice(&u.dmin.to_le_bytes());
                }
                for j in 0..F::SB {
                    let blk = &mut sup[F::HDR + j * F::BLK..][..F::BLK];
                    if F::PARAMS > 0 {
                        blk[lane] = u.params[j][0];
                        blk[TILE + lane] = u.params[j][1];
                    }
                    let area = &mut blk[F::PARAMS..];
                    for k in 0..QK {
                        put::<F>(area, lane, k, u.q[j * QK + k]);
                    }
                }
            }
        }
        Ok(PackedQ {
            kind,
            rows,
            cols,
            data,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Activation rows (`cols` values each) quantized as this matrix's kernels take them:
    /// per 256 values for the K-types, per 32 for the rest.
    pub fn quantize(&self, x: &[f32]) -> Q8Rows {
        if self.kind.k_activations() {
            Q8Rows::quantize_k(x, self.cols)
        } else {
            Q8Rows::quantize(x, self.cols)
        }
    }

    /// Whether `quantize` makes per-256 (Q8_K) activations: matrices that agree can
    /// share one quantized input.
    pub fn k_activations(&self) -> bool {
        self.kind.k_activations()
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes held.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// The bytes of tile `t`.
    pub(crate) fn tile(&self, t: usize) -> &[u8] {
        let len = self.data.len() / self.rows.div_ceil(TILE);
        &self.data[t * len..(t + 1) * len]
    }

    /// Row `r` dequantized into `out` (an embedding lookup when the matrix is tied),
    /// with ggml's float operations, so values equal ggml's own dequantization.
    pub fn row(&self, r: usize, out: &mut [f32]) {
        with_format!(self.kind, F => self.row_of::<F>(r, out))
    }

    fn row_of<F: Format>(&self, r: usize, out: &mut [f32]) {
        let (t, lane) = (r / TILE, r % TILE);
        let tile = self.tile(t);
        let f16 = |b: &[u8], i: usize| half::f16::from_le_bytes([b[i * 2], b[i * 2 + 1]]).to_f32();
        for (s, sup) in tile.chunks_exact(F::SUPER).enumerate() {
            let d = f16(sup, lane);
            let dmin = if F::MIN { f16(&sup[32..], lane) } else { 0.0 };
            for j in 0..F::SB {
                let blk = &sup[F::HDR + j * F::BLK..][..F::BLK];
                let area = &blk[F::PARAMS..];
                let o = &mut out[(s * F::SB + j) * QK..][..QK];
                for (k, v) in o.iter_mut().enumerate() {
                    let q = quant::<F>(area, lane, k) as i32 - F::ZERO;
                    *v = if F::MIN {
                        d * blk[lane] as f32 * q as f32 - dmin * blk[TILE + lane] as f32
                    } else if F::HALVES {
                        let sc = blk[(k / 16) * TILE + lane] as i8;
                        d * (sc as f32 * q as f32)
                    } else {
                        d * q as f32
                    };
                }
            }
        }
    }

    /// out[m·rows + r] = Σ_c w[r, c] · x[m, c] for every activation row m, on the best
    /// instruction set here.
    pub fn matmul(&self, x: &Q8Rows, out: &mut [f32]) {
        // `isa()` is what this CPU runs: no check per product (this is every weight
        // product of a model).
        self.run(isa(), x, out)
    }

    /// `matmul` on a given instruction set, which this CPU must run (see
    /// `Isa::all_here`); every one gives the same bits. For the tests that compare them.
    #[cfg(test)]
    pub fn matmul_on(&self, isa: Isa, x: &Q8Rows, out: &mut [f32]) {
        assert!(
            Isa::all_here().contains(&isa),
            "{} kernels do not run on this CPU",
            isa.name()
        );
        self.run(isa, x, out)
    }

    fn run(&self, isa: Isa, x: &Q8Rows, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        let vnni = (isa == Isa::Avx512 && super::vnni(), super::avx_vnni());
        #[cfg(not(target_arch = "x86_64"))]
        let vnni = (false, false);
        self.run_with(isa, vnni, x, out)
    }

    /// The AVX2 tile without AVX-VNNI, which `matmul_on` does not take on CPUs that
    /// have AVX-VNNI (for the test that compares it).
    #[cfg(all(test, target_arch = "x86_64"))]
    pub fn matmul_avx2_plain(&self, x: &Q8Rows, out: &mut [f32]) {
        assert!(Isa::all_here().contains(&Isa::Avx2));
        self.run_with(Isa::Avx2, (false, false), x, out)
    }

    /// `run` with the VNNI forms (AVX-512, AVX-VNNI) allowed or not.
    fn run_with(&self, isa: Isa, vnni: (bool, bool), x: &Q8Rows, out: &mut [f32]) {
        with_format!(self.kind, F => self.run_as::<F>(isa, vnni, x, out))
    }

    #[allow(unused_variables)]
    fn run_as<F: Format>(&self, isa: Isa, vnni: (bool, bool), x: &Q8Rows, out: &mut [f32]) {
        let (vnni, avx_vnni) = vnni;
        self.drive(x, out, &|t, out_ptr| {
            let job = Job {
                w: self,
                tile: self.tile(t).as_ptr(),
                t,
                x,
                out: out_ptr,
            };
            // SAFETY: the instruction set was checked by `isa()` or `matmul_on`; the
            // driver checked the sizes and gives each tile to one task.
            unsafe { super::tile_on::<F>(isa, vnni, avx_vnni, &job) }
        });
    }

    /// The tile driver: tiles of 16 weight rows spread over candle's worker pool, each
    /// computed against every activation row by `tile(t, out)`.
    fn drive(&self, x: &Q8Rows, out: &mut [f32], tile: &(dyn Fn(usize, OutPtr) + Sync)) {
        assert_eq!(x.blocks * QK, self.cols, "activation width");
        assert_eq!(out.len(), x.rows * self.rows, "output size");
        let tiles = self.rows.div_ceil(TILE);
        let out_ptr = OutPtr(out.as_mut_ptr());
        candle_core::utils::barrier_pool().execute_chunked(tiles, |range| {
            for t in range {
                tile(t, out_ptr);
            }
        });
    }
}

/// One tile's work for the kernels: tile `t` of `w` (its bytes at `tile`) against every
/// activation row of `x`, written to `out`.
pub(crate) struct Job<'a> {
    pub w: &'a PackedQ,
    pub tile: *const u8,
    pub t: usize,
    pub x: &'a Q8Rows,
    pub out: OutPtr,
}

impl Job<'_> {
    /// Tile rows that exist (fewer than 16 in a partial last tile).
    pub fn lanes(&self) -> usize {
        (self.w.rows - self.t * TILE).min(TILE)
    }

    /// The activation rows in groups of four (`four(m0)` for rows m0..m0 + 4), then the
    /// rest one by one (`one(m)`): each unpacked weight vector serves four products. (The
    /// x86 tiles; NEON's goes row by row.)
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub fn in_fours(&self, mut four: impl FnMut(usize), mut one: impl FnMut(usize)) {
        let mut m = 0;
        while m + 4 <= self.x.rows {
            four(m);
            m += 4;
        }
        while m < self.x.rows {
            one(m);
            m += 1;
        }
    }

    /// Write activation row m's 16 results (the existing ones).
    ///
    /// # Safety
    /// Only from the task the driver gave tile `t`.
    #[inline(always)]
    pub unsafe fn store(&self, m: usize, v: &[f32; TILE]) {
        // SAFETY: inside the output the driver asserted; tile t is this task's.
        unsafe {
            let dst = self.out.get().add(m * self.w.rows + self.t * TILE);
            std::ptr::copy_nonoverlapping(v.as_ptr(), dst, self.lanes());
        }
    }
}

/// The float part of a simple type's block (see the module comment) for one
/// (weight row, activation row) pair, from the dot products of the two 16-value halves
/// of raw stored quants and activation quants; the portable form of every kernel's.
#[inline(always)]
pub(crate) fn simple_int<F: Format>(h0: i32, h1: i32, xs: i32) -> i32 {
    h0 + h1 - F::ZERO * xs
}
