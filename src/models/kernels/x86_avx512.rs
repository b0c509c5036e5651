//! AVX-512 kernels (F, BW, VNNI): the packed quantized tile of every GGML type, the f32 and int8 tiles of the
//! Marian model, and the vector helpers of attention. Every function here is called only
//! after `super::isa()` (and, for VNNI, `super::vnni()`) said the CPU has it.

use super::packed::{Format, Job};
use super::{OutPtr, PackedF32, PackedI8, QK, TILE, U8Rows};
use std::arch::x86_64::*;

/// All activation rows against one tile, four at a time so each unpacked weight
/// vector serves four dot products.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn tile<F: Format>(job: &Job) {
    // SAFETY (both): the caller checked the features; rows inside the job's.
    job.in_fours(
        |m| unsafe { rows::<F, 4>(job, m) },
        |m| unsafe { rows::<F, 1>(job, m) },
    );
}

/// The 8 groups of a block's quants (4 values × 16 rows each) as unsigned bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn unpack<F: Format>(area: *const u8) -> [__m512i; 8] {
    unsafe {
        let load = |o: usize| _mm512_loadu_si512(area.add(o) as *const __m512i);
        if F::BITS == 8 {
            return std::array::from_fn(|g| load(g * 64));
        }
        let low = _mm512_set1_epi8(0x0F);
        let mut v = [_mm512_setzero_si512(); 8];
        for p in 0..4 {
            let b = load(p * 64);
            v[p] = _mm512_and_si512(b, low);
            v[p + 4] = _mm512_and_si512(_mm512_srli_epi16::<4>(b), low);
        }
        // Move bit `from` of every byte to bit 4 (no bit crosses a byte: masked first).
        let to4 = |h: __m512i, mask: i8, from: i32| {
            let bits = _mm512_and_si512(h, _mm512_set1_epi8(mask));
            if from <= 4 {
                _mm512_sll_epi16(bits, _mm_cvtsi32_si128(4 - from))
            } else {
                _mm512_srl_epi16(bits, _mm_cvtsi32_si128(from - 4))
            }
        };
        if F::BITS == 5 {
            let h = load(256);
            for (g, vg) in v.iter_mut().enumerate() {
                *vg = _mm512_or_si512(*vg, to4(h, (1u8 << g) as i8, g as i32));
            }
        } else if F::BITS == 6 {
            for half in 0..2 {
                let h = load(256 + half * 64);
                for k in 0..4 {
                    let g = half * 4 + k;
                    v[g] = _mm512_or_si512(v[g], to4(h, (3u8 << (2 * k)) as i8, 2 * k as i32));
                }
            }
        }
        v
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn rows<F: Format, const N: usize>(job: &Job, m0: usize) {
    unsafe {
        let x = job.x;
        let blocks = x.blocks;
        let zero = _mm512_setzero_si512();
        let mut acc = [_mm512_setzero_ps(); N];
        for s in 0..blocks / F::SB {
            let sup = job.tile.add(s * F::SUPER);
            let d = _mm512_cvtph_ps(_mm256_loadu_si256(sup as *const __m256i));
            let dmin = if F::MIN {
                _mm512_cvtph_ps(_mm256_loadu_si256(sup.add(32) as *const __m256i))
            } else {
                d
            };
            for j in 0..F::SB {
                let blk = sup.add(F::HDR + j * F::BLK);
                // The per-row float scales of this block: d·sc (both halves for Q6_K)
                // and dmin·m, as candle computes them.
                let (s0, s1) = if F::PARAMS > 0 {
                    let (a, b) = (
                        _mm_loadu_si128(blk as *const __m128i),
                        _mm_loadu_si128(blk.add(TILE) as *const __m128i),
                    );
                    let (a, b) = if F::HALVES {
                        (_mm512_cvtepi8_epi32(a), _mm512_cvtepi8_epi32(b))
                    } else {
                        (_mm512_cvtepu8_epi32(a), _mm512_cvtepu8_epi32(b))
                    };
                    let other = if F::MIN { dmin } else { d };
                    (
                        _mm512_mul_ps(d, _mm512_cvtepi32_ps(a)),
                        _mm512_mul_ps(other, _mm512_cvtepi32_ps(b)),
                    )
                } else {
                    (d, d)
                };
                let wv = unpack::<F>(blk.add(F::PARAMS));
                for (i, a) in acc.iter_mut().enumerate() {
                    let row = (m0 + i) * blocks + s * F::SB + j;
                    let xq = x.qs.as_ptr().add(row * QK) as *const i32;
                    // Two independent chains (the two halves) halve the latency of a
                    // block, which is what bounds one-row decode steps.
                    let (mut h0, mut h1) = (zero, zero);
                    for g in 0..4 {
                        let x0 = _mm512_set1_epi32(xq.add(g).read_unaligned());
                        let x1 = _mm512_set1_epi32(xq.add(g + 4).read_unaligned());
                        h0 = _mm512_dpbusd_epi32(h0, wv[g], x0);
                        h1 = _mm512_dpbusd_epi32(h1, wv[g + 4], x1);
                    }
                    let xs = *x.sums.get_unchecked(row);
                    let dxs = *x.scales.get_unchecked(row);
                    let dx = _mm512_set1_ps(dxs);
                    if F::HALVES {
                        let xs0 = *x.halves.get_unchecked(row);
                        let f0 = _mm512_sub_epi32(h0, _mm512_set1_epi32(F::ZERO * xs0));
                        let f1 = _mm512_sub_epi32(h1, _mm512_set1_epi32(F::ZERO * (xs - xs0)));
                        let f0 = _mm512_cvtepi32_ps(f0);
                        *a = _mm512_fmadd_ps(f0, _mm512_mul_ps(s0, dx), *a);
                        let f1 = _mm512_cvtepi32_ps(f1);
                        *a = _mm512_fmadd_ps(f1, _mm512_mul_ps(s1, dx), *a);
                    } else if F::MIN {
                        let f = _mm512_cvtepi32_ps(_mm512_add_epi32(h0, h1));
                        *a = _mm512_fmadd_ps(f, _mm512_mul_ps(s0, dx), *a);
                        *a = _mm512_fnmadd_ps(s1, _mm512_set1_ps(dxs * xs as f32), *a);
                    } else {
                        let iv = _mm512_sub_epi32(
                            _mm512_add_epi32(h0, h1),
                            _mm512_set1_epi32(F::ZERO * xs),
                        );
                        *a = _mm512_fmadd_ps(_mm512_mul_ps(d, dx), _mm512_cvtepi32_ps(iv), *a);
                    }
                }
            }
        }
        let lanes = job.lanes();
        let mask: __mmask16 = if lanes == TILE {
            0xFFFF
        } else {
            (1u16 << lanes) - 1
        };
        for (i, a) in acc.iter().enumerate() {
            let dst = job.out.get().add((m0 + i) * job.w.rows() + job.t * TILE);
            _mm512_mask_storeu_ps(dst, mask, *a);
        }
    }
}

/// Tile t0 (and t0 + 1 when `two`) against all n activation rows, 8 at a time.
#[target_feature(enable = "avx512f")]
pub unsafe fn f32_tiles(w: &PackedF32, t0: usize, two: bool, x: &[f32], n: usize, out: OutPtr) {
    let mut m = 0;
    unsafe {
        while m + 8 <= n {
            if two {
                f32_block::<2, 8>(w, t0, x, m, out)
            } else {
                f32_block::<1, 8>(w, t0, x, m, out)
            }
            m += 8;
        }
        while m < n {
            if two {
                f32_block::<2, 1>(w, t0, x, m, out)
            } else {
                f32_block::<1, 1>(w, t0, x, m, out)
            }
            m += 1;
        }
    }
}

// The indices address the activation rows and the accumulator grid together.
#[allow(clippy::needless_range_loop)]
#[target_feature(enable = "avx512f")]
unsafe fn f32_block<const T: usize, const M: usize>(
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
            let wv: [__m512; T] = std::array::from_fn(|j| _mm512_loadu_ps(base[j].add(c * TILE)));
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

/// Tile t0 (and t0 + 1 when `two`) against every activation row, 8 at a time.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn i8_tiles(w: &PackedI8, t0: usize, two: bool, x: &U8Rows, out: OutPtr) {
    let mut m = 0;
    unsafe {
        while m + 8 <= x.rows {
            if two {
                i8_block::<2, 8>(w, t0, x, m, out)
            } else {
                i8_block::<1, 8>(w, t0, x, m, out)
            }
            m += 8;
        }
        while m < x.rows {
            if two {
                i8_block::<2, 1>(w, t0, x, m, out)
            } else {
                i8_block::<1, 1>(w, t0, x, m, out)
            }
            m += 1;
        }
    }
}

// The indices address the activation rows and the accumulator grid together.
#[allow(clippy::needless_range_loop)]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn i8_block<const T: usize, const M: usize>(
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
                let xb =
                    _mm512_set1_epi32((xs.add(i * w.cols + g * 4) as *const i32).read_unaligned());
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
