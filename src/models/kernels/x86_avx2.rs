//! AVX2 + FMA + F16C: the packed Q8_0 tile for x86-64 machines without AVX-512.
//!
//! The tile stores weights as unsigned bytes (w + 128, the form `vpdpbusd` wants); here
//! an XOR with 0x80 gives back the signed weight, and the product goes through llama.cpp's
//! AVX2 idiom: |x| (unsigned) times w with x's sign (`vpsignb`), pairs summed by
//! `vpmaddubsw` into i16 (at most 2·127·127, no saturation) and by `vpmaddwd` into i32.
//! ggml's Q8_0 quantizer never writes -128, the one weight `vpsignb` cannot negate.
//! CPUs with AVX-VNNI take `q8_tile_vnni` instead: `vpdpbusd` on the unsigned weights,
//! the +128 taken back exactly through the activation block's sum, as on AVX-512.

use super::{OutPtr, PackedQ8, Q8Rows, QK, TILE, TILE_BLOCK};
use std::arch::x86_64::*;

/// All activation rows against tile `t`, four at a time so each loaded weight vector
/// serves four dot products.
#[target_feature(enable = "avx2,fma,f16c")]
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

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q8_rows<const N: usize>(w: &PackedQ8, t: usize, x: &Q8Rows, m0: usize, out: OutPtr) {
    unsafe {
        let blocks = x.blocks;
        let tile = w.data.as_ptr().add(t * blocks * TILE_BLOCK);
        let flip = _mm256_set1_epi8(-128);
        let ones = _mm256_set1_epi16(1);
        // Per activation row, rows 0-7 and 8-15 of the tile.
        let mut acc = [[_mm256_setzero_ps(); 2]; N];
        for b in 0..blocks {
            let blk = tile.add(b * TILE_BLOCK);
            let dw = [
                _mm256_cvtph_ps(_mm_loadu_si128(blk as *const __m128i)),
                _mm256_cvtph_ps(_mm_loadu_si128(blk.add(16) as *const __m128i)),
            ];
            let q = blk.add(TILE * 2);
            let wv: [[__m256i; 2]; 8] = std::array::from_fn(|g| {
                std::array::from_fn(|h| {
                    let v = _mm256_loadu_si256(q.add(g * 64 + h * 32) as *const __m256i);
                    _mm256_xor_si256(v, flip)
                })
            });
            for (i, a) in acc.iter_mut().enumerate() {
                let row = (m0 + i) * blocks + b;
                let xq = x.qs.as_ptr().add(row * QK) as *const i32;
                let mut dot = [_mm256_setzero_si256(); 2];
                for (g, wg) in wv.iter().enumerate() {
                    let xb = _mm256_set1_epi32(xq.add(g).read_unaligned());
                    let ax = _mm256_sign_epi8(xb, xb);
                    for (d, wh) in dot.iter_mut().zip(wg) {
                        let p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(*wh, xb));
                        *d = _mm256_add_epi32(*d, _mm256_madd_epi16(p, ones));
                    }
                }
                let dx = _mm256_set1_ps(*x.scales.get_unchecked(row));
                for h in 0..2 {
                    let scale = _mm256_mul_ps(dw[h], dx);
                    a[h] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot[h]), a[h]);
                }
            }
        }
        store(w, t, m0, &acc, out);
    }
}

/// `q8_tile` with AVX-VNNI's 256-bit `vpdpbusd`: the same integers, the same float
/// operations, fewer instructions.
#[target_feature(enable = "avx2,fma,f16c,avxvnni")]
pub unsafe fn q8_tile_vnni(w: &PackedQ8, t: usize, x: &Q8Rows, out: OutPtr) {
    let mut m = 0;
    while m + 4 <= x.rows {
        unsafe { q8_rows_vnni::<4>(w, t, x, m, out) };
        m += 4;
    }
    while m < x.rows {
        unsafe { q8_rows_vnni::<1>(w, t, x, m, out) };
        m += 1;
    }
}

#[target_feature(enable = "avx2,fma,f16c,avxvnni")]
unsafe fn q8_rows_vnni<const N: usize>(w: &PackedQ8, t: usize, x: &Q8Rows, m0: usize, out: OutPtr) {
    unsafe {
        let blocks = x.blocks;
        let tile = w.data.as_ptr().add(t * blocks * TILE_BLOCK);
        let mut acc = [[_mm256_setzero_ps(); 2]; N];
        for b in 0..blocks {
            let blk = tile.add(b * TILE_BLOCK);
            let dw = [
                _mm256_cvtph_ps(_mm_loadu_si128(blk as *const __m128i)),
                _mm256_cvtph_ps(_mm_loadu_si128(blk.add(16) as *const __m128i)),
            ];
            let q = blk.add(TILE * 2);
            let wv: [[__m256i; 2]; 8] = std::array::from_fn(|g| {
                std::array::from_fn(
                    |h| _mm256_loadu_si256(q.add(g * 64 + h * 32) as *const __m256i),
                )
            });
            for (i, a) in acc.iter_mut().enumerate() {
                let row = (m0 + i) * blocks + b;
                let xq = x.qs.as_ptr().add(row * QK) as *const i32;
                let mut dot = [_mm256_setzero_si256(); 2];
                for (g, wg) in wv.iter().enumerate() {
                    let xb = _mm256_set1_epi32(xq.add(g).read_unaligned());
                    for (d, wh) in dot.iter_mut().zip(wg) {
                        *d = _mm256_dpbusd_avx_epi32(*d, *wh, xb);
                    }
                }
                let offset = _mm256_set1_epi32(128 * *x.sums.get_unchecked(row));
                let dx = _mm256_set1_ps(*x.scales.get_unchecked(row));
                for h in 0..2 {
                    let d = _mm256_sub_epi32(dot[h], offset);
                    let scale = _mm256_mul_ps(dw[h], dx);
                    a[h] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(d), a[h]);
                }
            }
        }
        store(w, t, m0, &acc, out);
    }
}

/// Write each activation row's 16 sums of tile `t` (fewer in a partial last tile).
#[inline(always)]
unsafe fn store<const N: usize>(
    w: &PackedQ8,
    t: usize,
    m0: usize,
    acc: &[[__m256; 2]; N],
    out: OutPtr,
) {
    unsafe {
        let r0 = t * TILE;
        let lanes = (w.rows - r0).min(TILE);
        for (i, a) in acc.iter().enumerate() {
            let mut v = [0f32; TILE];
            _mm256_storeu_ps(v.as_mut_ptr(), a[0]);
            _mm256_storeu_ps(v.as_mut_ptr().add(8), a[1]);
            let dst = out.get().add((m0 + i) * w.rows + r0);
            std::ptr::copy_nonoverlapping(v.as_ptr(), dst, lanes);
        }
    }
}
