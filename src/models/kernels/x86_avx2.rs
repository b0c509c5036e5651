//! AVX2 + FMA + F16C: the packed quantized tile for x86-64 machines without AVX-512 VNNI.
//!
//! A 16-row tile is two halves of 8 rows (one 256-bit vector per half and group). The
//! group dot products of unsigned stored quants and signed activation bytes go through
//! `vpmaddubsw` (pairs into i16) and `vpmaddwd` (into i32): quants of 4 to 6 bits keep
//! the pairs far from i16 saturation (2·63·127). 8-bit quants (Q8_0's w + 128) would
//! saturate, so they are flipped back to signed and multiplied with llama.cpp's idiom,
//! |x| times w with x's sign (`vpsignb`; ggml's Q8_0 quantizer never writes −128), which
//! gives Σ w·x directly: the same integer as Σ (w + 128)·x − 128·Σx. CPUs with AVX-VNNI
//! take `tile_vnni`: `vpdpbusd` on the unsigned quants, as on AVX-512.

use super::packed::{Format, Job};
use super::{QK, TILE};
use super::{axpy_portable, dot_portable};
use std::arch::x86_64::*;

/// All activation rows against one tile, four at a time so each unpacked weight vector
/// serves four dot products.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn tile<F: Format>(job: &Job) {
    // SAFETY (both): the caller checked the features; rows inside the job's.
    job.in_fours(
        |m| unsafe { rows_plain::<F, 4>(job, m) },
        |m| unsafe { rows_plain::<F, 1>(job, m) },
    );
}

/// `tile` with AVX-VNNI's 256-bit `vpdpbusd`: the same integers, the same float
/// operations, fewer instructions.
#[target_feature(enable = "avx2,fma,f16c,avxvnni")]
pub unsafe fn tile_vnni<F: Format>(job: &Job) {
    // SAFETY (both): the caller checked the features; rows inside the job's.
    job.in_fours(
        |m| unsafe { rows_vnni::<F, 4>(job, m) },
        |m| unsafe { rows_vnni::<F, 1>(job, m) },
    );
}

/// Group g of a block's quants, rows 8h..8h+8, as unsigned bytes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn unpack<F: Format>(area: *const u8, g: usize, h: usize) -> __m256i {
    unsafe {
        let load = |o: usize| _mm256_loadu_si256(area.add(o + h * 32) as *const __m256i);
        if F::BITS == 8 {
            return load(g * 64);
        }
        let low = _mm256_set1_epi8(0x0F);
        let b = load((g % 4) * 64);
        let mut v = if g < 4 {
            _mm256_and_si256(b, low)
        } else {
            _mm256_and_si256(_mm256_srli_epi16::<4>(b), low)
        };
        // Move bits of the high planes to bit 4 (masked first: nothing crosses a byte).
        let (plane, mask, from) = match F::BITS {
            5 => (256, 1u8 << g, g),
            6 => (256 + (g / 4) * 64, 3u8 << (2 * (g % 4)), 2 * (g % 4)),
            _ => return v,
        };
        let bits = _mm256_and_si256(load(plane), _mm256_set1_epi8(mask as i8));
        let moved = if from <= 4 {
            _mm256_sll_epi16(bits, _mm_cvtsi32_si128(4 - from as i32))
        } else {
            _mm256_srl_epi16(bits, _mm_cvtsi32_si128(from as i32 - 4))
        };
        v = _mm256_or_si256(v, moved);
        v
    }
}

// One body, compiled twice with each form's features (`#[target_feature]` on the
// function itself: intrinsics reached through an `#[inline(always)]` helper or a closure
// of a function without the features stay out-of-line calls, several times slower).
macro_rules! rows_fn {
    ($name:ident, $features:literal, $vnni:literal) => {
        #[target_feature(enable = $features)]
        unsafe fn $name<F: Format, const N: usize>(job: &Job, m0: usize) {
            const VNNI: bool = $vnni;
            unsafe {
                let x = job.x;
                let blocks = x.blocks;
                let zero = _mm256_setzero_si256();
                let ones = _mm256_set1_epi16(1);
                let flip = _mm256_set1_epi8(-128);
                // Signed 8-bit quants and the sign idiom, without VNNI (see the module comment).
                let signed = F::BITS == 8 && !VNNI;
                let mut acc = [[_mm256_setzero_ps(); 2]; N];
                for s in 0..blocks / F::SB {
                    let sup = job.tile.add(s * F::SUPER);
                    let f16x8 =
                        |o: usize| _mm256_cvtph_ps(_mm_loadu_si128(sup.add(o) as *const __m128i));
                    let d = [f16x8(0), f16x8(16)];
                    let dmin = if F::MIN { [f16x8(32), f16x8(48)] } else { d };
                    for j in 0..F::SB {
                        let blk = sup.add(F::HDR + j * F::BLK);
                        // The per-row float scales of this block, rows 0-7 and 8-15: d·sc (both
                        // halves for Q6_K) and dmin·m, as candle computes them.
                        let param = |o: usize| {
                            let v = _mm_loadl_epi64(blk.add(o) as *const __m128i);
                            _mm256_cvtepi32_ps(if F::HALVES {
                                _mm256_cvtepi8_epi32(v)
                            } else {
                                _mm256_cvtepu8_epi32(v)
                            })
                        };
                        let other = if F::MIN { dmin } else { d };
                        let (s0, s1) = if F::PARAMS > 0 {
                            (
                                [_mm256_mul_ps(d[0], param(0)), _mm256_mul_ps(d[1], param(8))],
                                [
                                    _mm256_mul_ps(other[0], param(TILE)),
                                    _mm256_mul_ps(other[1], param(TILE + 8)),
                                ],
                            )
                        } else {
                            (d, d)
                        };
                        let area = blk.add(F::PARAMS);
                        let wv: [[__m256i; 2]; 8] = std::array::from_fn(|g| {
                            std::array::from_fn(|h| {
                                let v = unpack::<F>(area, g, h);
                                if signed { _mm256_xor_si256(v, flip) } else { v }
                            })
                        });
                        for (i, a) in acc.iter_mut().enumerate() {
                            let row = (m0 + i) * blocks + s * F::SB + j;
                            let xq = x.qs.as_ptr().add(row * QK) as *const i32;
                            let xs = *x.sums.get_unchecked(row);
                            let xs0 = *x.halves.get_unchecked(row);
                            let dxs = *x.scales.get_unchecked(row);
                            let dx = _mm256_set1_ps(dxs);
                            // dots[half of the block][rows 0-7 or 8-15]
                            let mut dots = [[zero; 2]; 2];
                            for g in 0..8 {
                                let xb = _mm256_set1_epi32(xq.add(g).read_unaligned());
                                let ax = _mm256_sign_epi8(xb, xb);
                                for (part, w) in dots[g / 4].iter_mut().zip(&wv[g]) {
                                    *part = if VNNI {
                                        _mm256_dpbusd_avx_epi32(*part, *w, xb)
                                    } else if signed {
                                        let p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(*w, xb));
                                        _mm256_add_epi32(*part, _mm256_madd_epi16(p, ones))
                                    } else {
                                        let p = _mm256_maddubs_epi16(*w, xb);
                                        _mm256_add_epi32(*part, _mm256_madd_epi16(p, ones))
                                    };
                                }
                            }
                            for h in 0..2 {
                                let (h0, h1) = (dots[0][h], dots[1][h]);
                                if F::HALVES {
                                    let f0 = _mm256_sub_epi32(h0, _mm256_set1_epi32(F::ZERO * xs0));
                                    let f1 = _mm256_sub_epi32(
                                        h1,
                                        _mm256_set1_epi32(F::ZERO * (xs - xs0)),
                                    );
                                    let f0 = _mm256_cvtepi32_ps(f0);
                                    a[h] = _mm256_fmadd_ps(f0, _mm256_mul_ps(s0[h], dx), a[h]);
                                    let f1 = _mm256_cvtepi32_ps(f1);
                                    a[h] = _mm256_fmadd_ps(f1, _mm256_mul_ps(s1[h], dx), a[h]);
                                } else if F::MIN {
                                    let f = _mm256_cvtepi32_ps(_mm256_add_epi32(h0, h1));
                                    a[h] = _mm256_fmadd_ps(f, _mm256_mul_ps(s0[h], dx), a[h]);
                                    a[h] = _mm256_fnmadd_ps(
                                        s1[h],
                                        _mm256_set1_ps(dxs * xs as f32),
                                        a[h],
                                    );
                                } else {
                                    // Signed 8-bit quants already give Σ w·x (no −Z·xs).
                                    let iv = if signed {
                                        _mm256_add_epi32(h0, h1)
                                    } else {
                                        _mm256_sub_epi32(
                                            _mm256_add_epi32(h0, h1),
                                            _mm256_set1_epi32(F::ZERO * xs),
                                        )
                                    };
                                    let scale = _mm256_mul_ps(d[h], dx);
                                    a[h] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(iv), a[h]);
                                }
                            }
                        }
                    }
                }
                for (i, a) in acc.iter().enumerate() {
                    let mut v = [0f32; TILE];
                    _mm256_storeu_ps(v.as_mut_ptr(), a[0]);
                    _mm256_storeu_ps(v.as_mut_ptr().add(8), a[1]);
                    job.store(m0 + i, &v);
                }
            }
        }
    };
}

rows_fn!(rows_plain, "avx2,fma,f16c", false);
rows_fn!(rows_vnni, "avx2,fma,f16c,avxvnni", true);

/// The attention dot product: the portable code compiled for AVX2 (same bits).
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
    dot_portable(a, b)
}

/// y += alpha·x: the portable code compiled for AVX2 (same bits).
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    axpy_portable(alpha, x, y)
}
