//! Portable Rust: the reference every instruction set's tile must equal bit for bit,
//! and the path on CPUs with none of them.

use super::packed::{Format, Job, quant, simple_int};
use super::{QK, TILE};

/// All activation rows against one tile.
pub fn tile<F: Format>(job: &Job) {
    let x = job.x;
    let blocks = x.blocks;
    let supers = blocks / F::SB;
    // SAFETY: the tile is `supers` superblocks long (PackedQ::tile).
    let tile = unsafe { std::slice::from_raw_parts(job.tile, supers * F::SUPER) };
    let f16 = |b: &[u8], i: usize| half::f16::from_le_bytes([b[i * 2], b[i * 2 + 1]]).to_f32();
    for m in 0..x.rows {
        let mut acc = [0f32; TILE];
        for (s, sup) in tile.chunks_exact(F::SUPER).enumerate() {
            for j in 0..F::SB {
                let blk = &sup[F::HDR + j * F::BLK..][..F::BLK];
                let area = &blk[F::PARAMS..];
                let row = m * blocks + s * F::SB + j;
                let xq = &x.qs[row * QK..(row + 1) * QK];
                let (dx, xs, xs0) = (x.scales[row], x.sums[row], x.halves[row]);
                for (lane, a) in acc.iter_mut().enumerate() {
                    let mut h = [0i32; 2];
                    for (k, &xv) in xq.iter().enumerate() {
                        h[k / 16] += quant::<F>(area, lane, k) as i32 * xv as i32;
                    }
                    let d = f16(sup, lane);
                    let (p0, p1) = if F::PARAMS > 0 {
                        (blk[lane], blk[TILE + lane])
                    } else {
                        (0, 0)
                    };
                    if F::HALVES {
                        for (hi, (&sc, xsh)) in [p0, p1].iter().zip([xs0, xs - xs0]).enumerate() {
                            let f = (h[hi] - F::ZERO * xsh) as f32;
                            *a = f.mul_add(d * sc as i8 as f32 * dx, *a);
                        }
                    } else if F::MIN {
                        *a = ((h[0] + h[1]) as f32).mul_add(d * p0 as f32 * dx, *a);
                        let min = f16(&sup[32..], lane) * p1 as f32;
                        *a = (-min).mul_add(dx * xs as f32, *a);
                    } else {
                        let i = simple_int::<F>(h[0], h[1], xs);
                        *a = (d * dx).mul_add(i as f32, *a);
                    }
                }
            }
        }
        // SAFETY: this task's tile (the driver's contract).
        unsafe { job.store(m, &acc) };
    }
}
