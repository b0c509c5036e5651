//! Gemma 3 (text): post-attention and post-MLP norms, Q/K head norms, GELU (tanh), the
//! embedding scaled by sqrt(width), and five sliding-window layers (RoPE base 10k) to
//! every global one (RoPE base 1M, optional linear scaling). Pinned to llama.cpp on the
//! real default model by tests/llama_cpp_parity.rs.

use super::transformer::{Activation, Config, Defaults, Sliding};
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
        kv_heads: m.usize("attention.head_count_kv")?,
        sliding: Some(Sliding {
            window: m.usize_or("attention.sliding_window", 512)?.max(1),
            pattern: m.usize_or("attention.sliding_window_pattern", 6)?.max(1),
            rope_base: m.f32_or("rope.local_freq_base", 10_000.0)?,
        }),
        activation: Activation::GeluTanh,
        embed_scale: true,
        post_norms: true,
        qk_norm: true,
        ..base
    })
}
