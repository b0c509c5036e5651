//! Gemma 3 (text): post-attention and post-MLP norms, Q/K head norms, GELU (tanh), the
//! embedding scaled by sqrt(width), and five sliding-window layers (RoPE base 10k) to
//! every global one (RoPE base 1M, optional linear scaling). Pinned to llama.cpp on the
//! real default model by tests/llama_cpp_parity.rs.

use super::transformer::{
    Activation, Config, Defaults, MAX_CONTEXT, MAX_HEADS, MAX_LAYERS, Sliding,
};
use super::{Meta, RopeLayout};
use candle_core::Result;
use candle_core::quantized::gguf_file;

pub fn config(content: &gguf_file::Content) -> Result<Config> {
    let m = Meta {
        content,
        arch: "gemma3",
    };
    let base = Config::read(
        &m,
        RopeLayout::Neox,
        Defaults {
            rms_eps: 1e-6,
            context: 32768,
            rope_base: 1_000_000.0,
            head_dim_key: "attention.key_length",
        },
    )?;
    Ok(Config {
        // Required here, not defaulted to the head count.
        kv_heads: m.count("attention.head_count_kv", MAX_HEADS)?,
        sliding: Some(Sliding {
            window: m.count_or("attention.sliding_window", 512, MAX_CONTEXT)?,
            pattern: m.count_or("attention.sliding_window_pattern", 6, MAX_LAYERS)?,
            rope_base: m.positive_or("rope.local_freq_base", 10_000.0)?,
        }),
        activation: Activation::GeluTanh,
        embed_scale: true,
        post_norms: true,
        qk_norm: true,
        ..base
    })
}
