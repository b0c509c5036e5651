//! Qwen 3: Q/K head norms instead of Qwen 2's biases, an explicit head size (not always
//! width / heads), SiLU, NeoX RoPE.

use super::transformer::{Activation, Config};
use super::{Meta, RopeLayout};
use candle_core::Result;
use candle_core::quantized::gguf_file;

pub fn config(content: &gguf_file::Content) -> Result<Config> {
    let m = Meta {
        content,
        arch: "qwen3",
    };
    let heads = m.usize("attention.head_count")?;
    let hidden = m.usize("embedding_length")?;
    Ok(Config {
        arch: "qwen3".into(),
        hidden,
        layers: m.usize("block_count")?,
        heads,
        kv_heads: m.usize_or("attention.head_count_kv", heads)?,
        head_dim: m.usize_or("attention.key_length", hidden / heads.max(1))?,
        rms_eps: m.f32_or("attention.layer_norm_rms_epsilon", 1e-6)? as f64,
        context: m.usize_or("context_length", 32768)?,
        rope_layout: RopeLayout::Neox,
        rope_base: m.f32_or("rope.freq_base", 1_000_000.0)?,
        rope_scale: m.linear_rope_scale()?,
        sliding: None,
        activation: Activation::Silu,
        embed_scale: false,
        post_norms: false,
        qk_norm: true,
        qkv_bias: false,
    })
}
