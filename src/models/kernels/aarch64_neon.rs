//! aarch64 NEON: the packed Q8_0 tile for Apple Silicon and Graviton. With the
//! dot-product extension (`sdot`, ARMv8.2+; every Apple M chip and Graviton 2+) four
//! byte products per lane go in one instruction; without it, widening multiplies and
//! pairwise adds give the same integers. Checked under qemu-user by
//! scripts/test-aarch64.sh; its speed is not measured here (no ARM machine).

use super::{OutPtr, PackedQ8, Q8Rows, QK, TILE, TILE_BLOCK};
use std::arch::aarch64::*;

/// All activation rows against tile `t`.
#[target_feature(enable = "neon")]
pub unsafe fn q8_tile(w: &PackedQ8, t: usize, x: &Q8Rows, out: OutPtr) {
    let dotprod = std::arch::is_aarch64_feature_detected!("dotprod");
    for m in 0..x.rows {
        // SAFETY: the driver checked sizes; dotprod was detected just above.
        unsafe {
            if dotprod {
                q8_row_dot(w, t, x, m, out)
            } else {
                q8_row(w, t, x, m, out)
            }
        }
    }
}

/// The 16 weight scales of a block, as f32.
#[inline(always)]
unsafe fn scales(blk: *const u8) -> [float32x4_t; 4] {
    let mut f = [0f32; TILE];
    for (lane, v) in f.iter_mut().enumerate() {
        // SAFETY: a block starts with 16 little-endian f16 scales.
        let bits = unsafe { [*blk.add(lane * 2), *blk.add(lane * 2 + 1)] };
        *v = half::f16::from_le_bytes(bits).to_f32();
    }
    // SAFETY: `f` holds 16 values.
    unsafe { std::array::from_fn(|k| vld1q_f32(f.as_ptr().add(k * 4))) }
}

#[target_feature(enable = "neon,dotprod")]
unsafe fn q8_row_dot(w: &PackedQ8, t: usize, x: &Q8Rows, m: usize, out: OutPtr) {
    unsafe {
        let blocks = x.blocks;
        let tile = w.data.as_ptr().add(t * blocks * TILE_BLOCK);
        let flip = vdupq_n_u8(0x80);
        let mut acc = [vdupq_n_f32(0.0); 4];
        for b in 0..blocks {
            let blk = tile.add(b * TILE_BLOCK);
            let dw = scales(blk);
            let q = blk.add(TILE * 2);
            let row = m * blocks + b;
            let xq = x.qs.as_ptr().add(row * QK) as *const i32;
            let mut dot = [vdupq_n_s32(0); 4];
            for g in 0..8 {
                let xb = vreinterpretq_s8_s32(vdupq_n_s32(xq.add(g).read_unaligned()));
                for (k, d) in dot.iter_mut().enumerate() {
                    let wv = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(q.add(g * 64 + k * 16)), flip));
                    *d = sdot(*d, wv, xb);
                }
            }
            finish(&mut acc, &dw, &dot, *x.scales.get_unchecked(row));
        }
        store(w, t, m, &acc, out);
    }
}

#[target_feature(enable = "neon")]
unsafe fn q8_row(w: &PackedQ8, t: usize, x: &Q8Rows, m: usize, out: OutPtr) {
    unsafe {
        let blocks = x.blocks;
        let tile = w.data.as_ptr().add(t * blocks * TILE_BLOCK);
        let flip = vdupq_n_u8(0x80);
        let mut acc = [vdupq_n_f32(0.0); 4];
        for b in 0..blocks {
            let blk = tile.add(b * TILE_BLOCK);
            let dw = scales(blk);
            let q = blk.add(TILE * 2);
            let row = m * blocks + b;
            let xq = x.qs.as_ptr().add(row * QK) as *const i32;
            let mut dot = [vdupq_n_s32(0); 4];
            for g in 0..8 {
                let xb = vreinterpretq_s8_s32(vdupq_n_s32(xq.add(g).read_unaligned()));
                for (k, d) in dot.iter_mut().enumerate() {
                    // 4 rows × 4 bytes: products widened to i16, then summed pairwise
                    // twice into one i32 per row.
                    let wv = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(q.add(g * 64 + k * 16)), flip));
                    let lo = vpaddlq_s16(vmull_s8(vget_low_s8(wv), vget_low_s8(xb)));
                    let hi = vpaddlq_s16(vmull_s8(vget_high_s8(wv), vget_high_s8(xb)));
                    *d = vaddq_s32(*d, vpaddq_s32(lo, hi));
                }
            }
            finish(&mut acc, &dw, &dot, *x.scales.get_unchecked(row));
        }
        store(w, t, m, &acc, out);
    }
}

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

/// acc += (d_w · d_x) · dot, fused, as on every other instruction set.
#[inline(always)]
unsafe fn finish(acc: &mut [float32x4_t; 4], dw: &[float32x4_t; 4], dot: &[int32x4_t; 4], dx: f32) {
    unsafe {
        let dx = vdupq_n_f32(dx);
        for k in 0..4 {
            let scale = vmulq_f32(dw[k], dx);
            acc[k] = vfmaq_f32(acc[k], scale, vcvtq_f32_s32(dot[k]));
        }
    }
}

#[inline(always)]
unsafe fn store(w: &PackedQ8, t: usize, m: usize, acc: &[float32x4_t; 4], out: OutPtr) {
    unsafe {
        let mut v = [0f32; TILE];
        for (k, a) in acc.iter().enumerate() {
            vst1q_f32(v.as_mut_ptr().add(k * 4), *a);
        }
        let r0 = t * TILE;
        let lanes = (w.rows - r0).min(TILE);
        std::ptr::copy_nonoverlapping(v.as_ptr(), out.get().add(m * w.rows + r0), lanes);
    }
}
