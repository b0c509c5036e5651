//! AVX-512 kernels (F, BW, VNNI): the packed Q8_0 tile, the f32 and int8 tiles of the
//! Marian model, and the vector helpers of attention. Every function here is called only
//! after `super::isa()` (and, for VNNI, `super::vnni()`) said the CPU has it.

use super::{OutPtr, PackedF32, PackedI8, PackedQ8, Q8Rows, QK, TILE, TILE_BLOCK, U8Rows};
use std::arch::x86_64::*;

/// All activation rows against tile `t`, four activation rows at a time so each
/// loaded weight vector serves four dot products.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn q8_tile(w: &PackedQ8, t: usize, x: &Q8Rows, out: OutPtr) {
    let mut m = 0;
    while m + 4 <= x.rows {
        unsafe { q8_rows::<4>(w, t, x, m, out) };
        m += 4;
    }
    while m < x.rows {
        unsafe { q8_rows::<1>(w, t, x, m, out) };
        m += 1;
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn q8_rows<const N: usize>(w: &PackedQ8, t: usize, x: &Q8Rows, m0: usize, out: OutPtr) {
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
