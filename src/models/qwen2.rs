//! Qwen 2 and 2.5: biases on the Q, K and V projections, SiLU, NeoX RoPE (base 1M in
//! 2.5), no sliding window in the GGUF releases (`use_sliding_window` is off).

use super::transformer::{Config, Defaults};
use super::{Meta, RopeLayout};
use candle_core::Result;
use candle_core::quantized::gguf_file;

pub fn config(content: &gguf_file::Content) -> Result<Config> {
    let m = Meta {
        content,
        arch: "qwen2",
    };
    Ok(Config {
        qkv_bias: true,
        ..Config::read(
            &m,
            RopeLayout::Neox,
            Defaults {
                rms_eps: 1e-6,
                context: 32768,
                rope_base: 10_000.0,
                head_dim_key: "attention.key_length",
            },
        )?
    })
}
