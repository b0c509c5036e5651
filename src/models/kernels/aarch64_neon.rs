//! aarch64 NEON: the packed quantized tile for Apple Silicon and Graviton. With the
//! dot-product extension (`sdot`, ARMv8.2+; every Apple M chip and Graviton 2+) four
//! byte products per lane go in one instruction; without it, widening multiplies and
//! pairwise adds give the same integers. Checked under qemu-user by
//! scripts/test-aarch64.sh; its speed is not measured here (no ARM machine).

use super::packed::{Format, Job};
use super::{QK, TILE};
use std::arch::aarch64::*;

/// All activation rows against one tile.
#[target_feature(enable = "neon")]
pub unsafe fn tile<F: Format>(job: &Job) {
    let dotprod = std::arch::is_aarch64_feature_detected!("dotprod");
    for m in 0..job.x.rows {
        // SAFETY: the driver checked sizes; dotprod was detected just above.
        unsafe {
            if dotprod {
                row_dot::<F>(job, m)
            } else {
                row_plain::<F>(job, m)
            }
        }
    }
}

/// 16 little-endian f16 values at `p`, as four f32 vectors.
#[inline(always)]
unsafe fn f16x16(p: *const u8) -> [float32x4_t; 4] {
    let mut f = [0f32; TILE];
    for (lane, v) in f.iter_mut().enumerate() {
        // SAFETY: the caller points at 16 f16 values.
        let bits = unsafe { [*p.add(lane * 2), *p.add(lane * 2 + 1)] };
        *v = half::f16::from_le_bytes(bits).to_f32();
    }
    // SAFETY: `f` holds 16 values.
    unsafe { std::array::from_fn(|k| vld1q_f32(f.as_ptr().add(k * 4))) }
}

/// 16 per-row byte parameters at `p` (signed or not), as four i32 vectors.
#[inline(always)]
unsafe fn params<F: Format>(p: *const u8) -> [int32x4_t; 4] {
    std::array::from_fn(|k| {
        // SAFETY: the caller points at 16 bytes.
        let v: [i32; 4] = std::array::from_fn(|i| unsafe {
            let b = *p.add(k * 4 + i);
            if F::HALVES { b as i8 as i32 } else { b as i32 }
        });
        // SAFETY: `v` holds 4 values.
        unsafe { vld1q_s32(v.as_ptr()) }
    })
}

/// Group g of a block's quants, rows 4k..4k+4, as bytes (unsigned; below 64 but for
/// 8-bit quants).
#[inline(always)]
unsafe fn unpack<F: Format>(area: *const u8, g: usize, k: usize) -> uint8x16_t {
    unsafe {
        let load = |o: usize| vld1q_u8(area.add(o + k * 16));
        if F::BITS == 8 {
            return load(g * 64);
        }
        let b = load((g % 4) * 64);
        let v = if g < 4 {
            vandq_u8(b, vdupq_n_u8(0x0F))
        } else {
            vshrq_n_u8::<4>(b)
        };
        let (plane, shift) = match F::BITS {
            5 => (256, g),
            6 => (256 + (g / 4) * 64, 2 * (g % 4)),
            _ => return v,
        };
        let mask = if F::BITS == 5 { 0x10 } else { 0x30 };
        // Bits `shift..` of the plane to bit 4: a variable shift (negative is right).
        let h = vshlq_u8(load(plane), vdupq_n_s8(4 - shift as i8));
        vorrq_u8(v, vandq_u8(h, vdupq_n_u8(mask)))
    }
}

// One body, compiled twice with each form's features (`#[target_feature]` on the
// function itself, so that `sdot` is inlined into the dot-product form).
macro_rules! row_fn {
    ($name:ident, $features:literal, $dot:literal) => {
        #[target_feature(enable = $features)]
        unsafe fn $name<F: Format>(job: &Job, m: usize) {
            const DOT: bool = $dot;
            unsafe {
                let x = job.x;
                let blocks = x.blocks;
                let flip = vdupq_n_u8(0x80);
                let zero = vdupq_n_s32(0);
                let mut acc = [vdupq_n_f32(0.0); 4];
                for s in 0..blocks / F::SB {
                    let sup = job.tile.add(s * F::SUPER);
                    let d = f16x16(sup);
                    let dmin = if F::MIN { f16x16(sup.add(32)) } else { d };
                    for j in 0..F::SB {
                        let blk = sup.add(F::HDR + j * F::BLK);
                        // The per-row float scales of this block: d·sc (both halves for Q6_K) and
                        // dmin·m, as candle computes them.
                        let other = if F::MIN { dmin } else { d };
                        let (s0, s1) = if F::PARAMS > 0 {
                            let (a, b) = (params::<F>(blk), params::<F>(blk.add(TILE)));
                            (
                                std::array::from_fn(|k| vmulq_f32(d[k], vcvtq_f32_s32(a[k]))),
                                std::array::from_fn(|k| vmulq_f32(other[k], vcvtq_f32_s32(b[k]))),
                            )
                        } else {
                            (d, d)
                        };
                        let area = blk.add(F::PARAMS);
                        let row = m * blocks + s * F::SB + j;
                        let xq = x.qs.as_ptr().add(row * QK) as *const i32;
                        // dots[half of the block][rows 4k..4k+4]; 8-bit quants are flipped back
                        // to signed, which gives Σ w·x directly (no −128·Σx).
                        let mut dots = [[zero; 4]; 2];
                        for g in 0..8 {
                            let xb = vreinterpretq_s8_s32(vdupq_n_s32(xq.add(g).read_unaligned()));
                            for (k, d) in dots[g / 4].iter_mut().enumerate() {
                                let mut w = unpack::<F>(area, g, k);
                                if F::BITS == 8 {
                                    w = veorq_u8(w, flip);
                                }
                                let wv = vreinterpretq_s8_u8(w);
                                *d = if DOT {
                                    sdot(*d, wv, xb)
                                } else {
                                    // 4 rows × 4 bytes: products widened to i16, then summed
                                    // pairwise twice into one i32 per row.
                                    let lo =
                                        vpaddlq_s16(vmull_s8(vget_low_s8(wv), vget_low_s8(xb)));
                                    let hi =
                                        vpaddlq_s16(vmull_s8(vget_high_s8(wv), vget_high_s8(xb)));
                                    vaddq_s32(*d, vpaddq_s32(lo, hi))
                                };
                            }
                        }
                        let xs = *x.sums.get_unchecked(row);
                        let xs0 = *x.halves.get_unchecked(row);
                        let dxs = *x.scales.get_unchecked(row);
                        let dx = vdupq_n_f32(dxs);
                        for k in 0..4 {
                            let (h0, h1) = (dots[0][k], dots[1][k]);
                            if F::HALVES {
                                let f0 = vcvtq_f32_s32(vsubq_s32(h0, vdupq_n_s32(F::ZERO * xs0)));
                                acc[k] = vfmaq_f32(acc[k], f0, vmulq_f32(s0[k], dx));
                                let f1 =
                                    vcvtq_f32_s32(vsubq_s32(h1, vdupq_n_s32(F::ZERO * (xs - xs0))));
                                acc[k] = vfmaq_f32(acc[k], f1, vmulq_f32(s1[k], dx));
                            } else if F::MIN {
                                let f = vcvtq_f32_s32(vaddq_s32(h0, h1));
                                acc[k] = vfmaq_f32(acc[k], f, vmulq_f32(s0[k], dx));
                                acc[k] = vfmsq_f32(acc[k], s1[k], vdupq_n_f32(dxs * xs as f32));
                            } else {
                                // Signed 8-bit quants already give Σ w·x (no −Z·xs).
                                let iv = if F::BITS == 8 {
                                    vaddq_s32(h0, h1)
                                } else {
                                    vsubq_s32(vaddq_s32(h0, h1), vdupq_n_s32(F::ZERO * xs))
                                };
                                acc[k] = vfmaq_f32(acc[k], vmulq_f32(d[k], dx), vcvtq_f32_s32(iv));
                            }
                        }
                    }
                }
                let mut v = [0f32; TILE];
                for (k, a) in acc.iter().enumerate() {
                    vst1q_f32(v.as_mut_ptr().add(k * 4), *a);
                }
                job.store(m, &v);
            }
        }
    };
}

row_fn!(row_dot, "neon,dotprod", true);
row_fn!(row_plain, "neon", false);

/// `sdot`: each i32 lane of `acc` plus the four products of its bytes of `a` and `b`.
/// (Rust's `vdotq_s32` intrinsic is not stable yet; the instruction is.)
#[inline]
#[target_feature(enable = "neon,dotprod")]
unsafe fn sdot(mut acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    // SAFETY: only called from functions compiled with the dotprod feature, after the
    // CPU was found to have it; the instruction touches registers only.
    unsafe {
        std::arch::asm!(
            "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
            acc = inout(vreg) acc,
            a = in(vreg) a,
            b = in(vreg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}
