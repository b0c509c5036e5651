//! Llama 2/3.x: SiLU, no biases or head norms, llama.cpp's interleaved ("normal") RoPE
//! (its converter permutes the Q and K rows to match), and Llama 3.1+'s long-context
//! frequency scaling, which the GGUF stores as the tensor `rope_freqs.weight` (read by
//! the shared loader).

use super::transformer::{Config, Defaults};
use super::{Meta, RopeLayout};
use candle_core::Result;
use candle_core::quantized::gguf_file;

pub fn config(content: &gguf_file::Content) -> Result<Config> {
    let m = Meta {
        content,
        arch: "llama",
    };
    Config::read(
        &m,
        RopeLayout::Interleaved,
        Defaults {
            rms_eps: 1e-5,
            context: 8192,
            rope_base: 10_000.0,
            head_dim_key: "rope.dimension_count",
        },
    )
}
