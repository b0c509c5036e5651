//! Gemma 3 (text): post-attention and post-MLP norms, Q/K head norms, GELU (tanh), the
//! embedding scaled by sqrt(width), and five sliding-window layers (RoPE base 10k) to
//! every global one (RoPE base 1M, optional linear scaling). Pinned to llama.cpp on the
//! real default model by tests/llama_cpp_parity.rs.

use super::transformer::{Activation, Config, Sliding};
use super::{Meta, RopeLayout};
use candle_core::Result;
use candle_core::quantized::gguf_file;

pub fn config(content: &gguf_file::Content) -> Result<Config> {
    let m = Meta {
        content,
        arch: "gemma3",
    };
    let heads = m.usize("attention.head_count")?;
    let hidden = m.usize("embedding_length")?;
    Ok(Config {
        arch: "gemma3".into(),
        hidden,
        layers: m.usize("block_count")?,
        heads,
        kv_heads: m.usize("attention.head_count_kv")?,
        head_dim: m.usize_or("attention.key_length", hidden / heads.max(1))?,
        rms_eps: m.f32_or("attention.layer_norm_rms_epsilon", 1e-6)? as f64,
        context: m.usize_or("context_length", 32768)?,
        rope_layout: RopeLayout::Neox,
        rope_base: m.f32_or("rope.freq_base", 1_000_000.0)?,
        rope_scale: m.linear_rope_scale()?,
        sliding: Some(Sliding {
            window: m.usize_or("attention.sliding_window", 512)?.max(1),
            pattern: m.usize_or("attention.sliding_window_pattern", 6)?.max(1),
            rope_base: m.f32_or("rope.local_freq_base", 10_000.0)?,
        }),
        activation: Activation::GeluTanh,
        embed_scale: true,
        post_norms: true,
        qk_norm: true,
        qkv_bias: false,
    })
}
