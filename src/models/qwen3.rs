//! Qwen 3: Q/K head norms instead of Qwen 2's biases, an explicit head size (not always
//! width / heads), SiLU, NeoX RoPE.

use super::transformer::{Config, Defaults};
use super::{Meta, RopeLayout};
use candle_core::Result;
use candle_core::quantized::gguf_file;

pub fn config(content: &gguf_file::Content) -> Result<Config> {
    let m = Meta {
        content,
        arch: "qwen3",
    };
    Ok(Config {
        qk_norm: true,
        ..Config::read(
            &m,
            RopeLayout::Neox,
            Defaults {
                rms_eps: 1e-6,
                context: 32768,
                rope_base: 1_000_000.0,
                head_dim_key: "attention.key_length",
            },
        )?
    })
}
