//! Portable Rust: the reference every instruction set's tile must equal bit for bit,
//! and the path on CPUs with none of them.

use super::{OutPtr, PackedQ8, Q8Rows, QK, TILE, TILE_BLOCK};

/// All activation rows against tile `t` of `w`.
pub fn q8_tile(w: &PackedQ8, t: usize, x: &Q8Rows, out: OutPtr) {
    let blocks = x.blocks;
    let tile = &w.data[t * blocks * TILE_BLOCK..(t + 1) * blocks * TILE_BLOCK];
    let lanes = (w.rows - t * TILE).min(TILE);
    for m in 0..x.rows {
        let mut acc = [0f32; TILE];
        for b in 0..blocks {
            let blk = &tile[b * TILE_BLOCK..(b + 1) * TILE_BLOCK];
            let row = m * blocks + b;
            let xq = &x.qs[row * QK..(row + 1) * QK];
            for (lane, a) in acc.iter_mut().enumerate() {
                let dw = half::f16::from_le_bytes([blk[lane * 2], blk[lane * 2 + 1]]).to_f32();
                let mut dot = 0i32;
                for (k, &xv) in xq.iter().enumerate() {
                    let (g, j) = (k / 4, k % 4);
                    let q = blk[TILE * 2 + (g * TILE + lane) * 4 + j] as i32 - 128;
                    dot += q * xv as i32;
                }
                *a = (dw * x.scales[row]).mul_add(dot as f32, *a);
            }
        }
        for (lane, a) in acc.iter().take(lanes).enumerate() {
            // SAFETY: this task's tile, inside the size the driver asserted.
            unsafe { *out.get().add(m * w.rows + t * TILE + lane) = *a };
        }
    }
}
