//! Llama 2/3.x: SiLU, no biases or head norms, llama.cpp's interleaved ("normal") RoPE
//! (its converter permutes the Q and K rows to match), and Llama 3.1+'s long-context
//! frequency scaling, which the GGUF stores as the tensor `rope_freqs.weight` (read by
//! the shared loader).

use super::transformer::{Activation, Config};
use super::{Meta, RopeLayout};
use candle_core::Result;
use candle_core::quantized::gguf_file;

pub fn config(content: &gguf_file::Content) -> Result<Config> {
    let m = Meta {
        content,
        arch: "llama",
    };
    let heads = m.usize("attention.head_count")?;
    let hidden = m.usize("embedding_length")?;
    Ok(Config {
        arch: "llama".into(),
        hidden,
        layers: m.usize("block_count")?,
        heads,
        kv_heads: m.usize_or("attention.head_count_kv", heads)?,
        head_dim: m.usize_or("rope.dimension_count", hidden / heads.max(1))?,
        rms_eps: m.f32_or("attention.layer_norm_rms_epsilon", 1e-5)? as f64,
        context: m.usize_or("context_length", 8192)?,
        rope_layout: RopeLayout::Interleaved,
        rope_base: m.f32_or("rope.freq_base", 10_000.0)?,
        rope_scale: m.linear_rope_scale()?,
        sliding: None,
        activation: Activation::Silu,
        embed_scale: false,
        post_norms: false,
        qk_norm: false,
        qkv_bias: false,
    })
}
