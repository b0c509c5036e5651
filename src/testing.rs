//! Tiny random-weight models for tests and benchmarks. Speed and plumbing do not depend
//! on weight values, so a few-MB model with a real SentencePiece-style vocabulary
//! (bytes, ASCII, Devanagari, some merges) exercises every stage in milliseconds. Every
//! architecture the engine supports can be written: gemma3, llama, qwen2, qwen3.

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Result, Tensor};
use std::path::Path;

/// Shape of a random model. `tiny()` is a Gemma 3 for tests; real configs (e.g. Gemma 3
/// 1B) can be written for benchmarks.
#[derive(Debug, Clone)]
pub struct TinyModel {
    /// GGUF architecture: gemma3, llama, qwen2 or qwen3.
    pub arch: String,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub ffn: usize,
    pub sliding_window: usize,
    pub context: usize,
    pub seed: u64,
    /// Vocabulary size: the tiny vocabulary padded with unused control tokens (a real
    /// model's 262,144-row embedding and output head cost real time). 0 = unpadded.
    pub vocab: usize,
    /// Weight types as llama.cpp's Q4_K_M gives Gemma 3 270M (Q5_0 where rows are not a
    /// multiple of 256, Q4_K/Q6_K where they are, Q8_0 embeddings); otherwise all Q8_0.
    pub like_q4_k_m: bool,
    /// Norm weights and Q/K/V biases drawn at random around their neutral values
    /// (1 and 0), so a test comparing two implementations sees every one of them.
    pub random_norms: bool,
}

impl TinyModel {
    pub fn tiny() -> Self {
        TinyModel {
            arch: "gemma3".into(),
            hidden: 64,
            layers: 6,
            heads: 2,
            kv_heads: 1,
            head_dim: 32,
            ffn: 128,
            sliding_window: 16,
            context: 4096,
            seed: 7,
            vocab: 0,
            like_q4_k_m: false,
            random_norms: false,
        }
    }

    /// Gemma 3 1B's real shape (google/gemma-3-1b-it config), for benchmarks.
    pub fn gemma3_1b() -> Self {
        TinyModel {
            arch: "gemma3".into(),
            hidden: 1152,
            layers: 26,
            heads: 4,
            kv_heads: 1,
            head_dim: 256,
            ffn: 6912,
            sliding_window: 512,
            context: 32768,
            seed: 7,
            vocab: 262_144,
            like_q4_k_m: true,
            random_norms: false,
        }
    }

    /// Gemma 3 4B's text model (google/gemma-3-4b-it), for benchmarks.
    pub fn gemma3_4b() -> Self {
        TinyModel {
            hidden: 2560,
            layers: 34,
            heads: 8,
            kv_heads: 4,
            head_dim: 256,
            ffn: 10240,
            sliding_window: 1024,
            ..Self::gemma3_1b()
        }
    }

    /// Llama 3.2 3B (meta-llama/Llama-3.2-3B-Instruct), for benchmarks.
    pub fn llama32_3b() -> Self {
        TinyModel {
            arch: "llama".into(),
            hidden: 3072,
            layers: 28,
            heads: 24,
            kv_heads: 8,
            head_dim: 128,
            ffn: 8192,
            vocab: 128_256,
            ..Self::gemma3_1b()
        }
    }

    /// Qwen 2.5 3B (Qwen/Qwen2.5-3B-Instruct), for benchmarks.
    pub fn qwen25_3b() -> Self {
        TinyModel {
            arch: "qwen2".into(),
            hidden: 2048,
            layers: 36,
            heads: 16,
            kv_heads: 2,
            head_dim: 128,
            ffn: 11008,
            vocab: 151_936,
            ..Self::gemma3_1b()
        }
    }

    /// A real shape by name (`gemma3-1b`, `gemma3-4b`, `llama3.2-3b`, `qwen2.5-3b`).
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "gemma3-1b" => Self::gemma3_1b(),
            "gemma3-4b" => Self::gemma3_4b(),
            "llama3.2-3b" => Self::llama32_3b(),
            "qwen2.5-3b" => Self::qwen25_3b(),
            _ => return None,
        })
    }
}

/// The vocabulary: control tokens, 256 byte-fallback tokens, then pieces; scores fall
/// with the index so longer merges added later still win over their parts when listed
/// earlier (the SPM rule is highest score first).
pub fn tiny_vocab() -> (Vec<String>, Vec<f32>, Vec<i32>) {
    let mut tokens: Vec<String> = [
        "<pad>",
        "<eos>",
        "<bos>",
        "<unk>",
        "<start_of_turn>",
        "<end_of_turn>",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut types = vec![3, 3, 3, 2, 3, 3];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
    }
    let mut pieces: Vec<String> = vec!["\n".into(), "\n\n".into(), "▁".into()];
    for w in [
        "▁the",
        "▁of",
        "▁and",
        "▁in",
        "▁to",
        "▁The",
        "▁said",
        "▁on",
        "▁was",
        "▁rain",
        "▁Delhi",
        "▁government",
    ] {
        pieces.push(w.into());
    }
    for w in [
        "▁है",
        "▁के",
        "▁में",
        "▁की",
        "▁को",
        "▁ने",
        "▁और",
        "▁से",
        "▁सरकार",
        "▁दिल्ली",
        "▁बारिश",
        "।",
    ] {
        pieces.push(w.into());
    }
    for c in (b'!'..=b'~').map(|b| (b as char).to_string()) {
        pieces.push(c);
    }
    for c in ('\u{0900}'..='\u{097F}').map(|c| c.to_string()) {
        pieces.push(c);
    }
    let mut scores = vec![0.0; tokens.len()];
    for (i, p) in pieces.into_iter().enumerate() {
        tokens.push(p);
        scores.push(-(i as f32));
        types.push(1);
    }
    (tokens, scores, types)
}

struct Rng(u64);

impl Rng {
    fn normal_vec(&mut self, n: usize, std: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                // Sum of uniforms: cheap, bounded, close enough to normal for weights.
                let s: f32 = (0..4).map(|_| self.unit()).sum::<f32>() - 2.0;
                s * std * 1.7
            })
            .collect()
    }
    fn unit(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// The type llama.cpp's Q4_K_M mix gives a tensor: Q4_K, with Q6_K for half of the
/// V projections and MLP down projections and for a tied embedding; where rows are not
/// a multiple of 256 (Gemma 3 270M's width of 640) Q5_0 and Q8_0 instead, as in the
/// 270M file.
fn q4_k_m_type(name: &str, cols: usize) -> GgmlDType {
    let layer: usize = name
        .split('.')
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let kind = name.rsplit('.').nth(1).unwrap_or("");
    if !cols.is_multiple_of(256) {
        return match kind {
            "token_embd" => GgmlDType::Q8_0,
            "attn_v" if layer.is_multiple_of(2) => GgmlDType::Q8_0,
            _ => GgmlDType::Q5_0,
        };
    }
    match kind {
        "token_embd" => GgmlDType::Q6K,
        "attn_v" | "ffn_down" if layer.is_multiple_of(2) => GgmlDType::Q6K,
        _ => GgmlDType::Q4K,
    }
}

/// Write a random GGUF of `cfg.arch` with the tiny vocabulary to `path`.
pub fn write_model(path: &Path, cfg: &TinyModel) -> Result<()> {
    let arch = cfg.arch.as_str();
    let dev = Device::Cpu;
    let (mut tokens, mut scores, mut types) = tiny_vocab();
    if cfg.vocab > 0 {
        // llama.cpp refuses a vocabulary with a piece twice (the tiny one lists "।" in
        // its words and again among the Devanagari letters): rename repeats.
        let mut seen = std::collections::HashSet::new();
        for (i, t) in tokens.iter_mut().enumerate() {
            if !seen.insert(t.clone()) {
                *t = format!("<repeat{i}>");
            }
        }
    }
    for i in tokens.len()..cfg.vocab {
        tokens.push(format!("<unused{i}>"));
        scores.push(0.0);
        types.push(3);
    }
    let vocab = tokens.len();
    let mut rng = Rng(cfg.seed.max(1));
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let mut matrix = |name: String, rows: usize, cols: usize, rng: &mut Rng| -> Result<()> {
        let t = Tensor::from_vec(rng.normal_vec(rows * cols, 0.05), (rows, cols), &dev)?;
        let dtype = if cfg.like_q4_k_m {
            q4_k_m_type(&name, cols)
        } else {
            GgmlDType::Q8_0
        };
        tensors.push((name, QTensor::quantize(&t, dtype)?));
        Ok(())
    };
    matrix("token_embd.weight".into(), vocab, cfg.hidden, &mut rng)?;
    let q_dim = cfg.heads * cfg.head_dim;
    let kv_dim = cfg.kv_heads * cfg.head_dim;
    for l in 0..cfg.layers {
        let p = format!("blk.{l}");
        matrix(format!("{p}.attn_q.weight"), q_dim, cfg.hidden, &mut rng)?;
        matrix(format!("{p}.attn_k.weight"), kv_dim, cfg.hidden, &mut rng)?;
        matrix(format!("{p}.attn_v.weight"), kv_dim, cfg.hidden, &mut rng)?;
        matrix(
            format!("{p}.attn_output.weight"),
            cfg.hidden,
            q_dim,
            &mut rng,
        )?;
        matrix(
            format!("{p}.ffn_gate.weight"),
            cfg.ffn,
            cfg.hidden,
            &mut rng,
        )?;
        matrix(format!("{p}.ffn_up.weight"), cfg.ffn, cfg.hidden, &mut rng)?;
        matrix(
            format!("{p}.ffn_down.weight"),
            cfg.hidden,
            cfg.ffn,
            &mut rng,
        )?;
    }
    let mut vector = |name: String, n: usize, value: f64| -> Result<()> {
        let t = if cfg.random_norms {
            let noise = rng.normal_vec(n, 0.2);
            let v: Vec<f32> = noise.iter().map(|e| value as f32 + e).collect();
            Tensor::from_vec(v, n, &dev)?
        } else {
            (Tensor::ones(n, candle_core::DType::F32, &dev)? * value)?
        };
        tensors.push((name, QTensor::quantize(&t, GgmlDType::F32)?));
        Ok(())
    };
    for l in 0..cfg.layers {
        let p = format!("blk.{l}");
        vector(format!("{p}.attn_norm.weight"), cfg.hidden, 1.0)?;
        vector(format!("{p}.ffn_norm.weight"), cfg.hidden, 1.0)?;
        if arch == "gemma3" {
            vector(format!("{p}.post_attention_norm.weight"), cfg.hidden, 1.0)?;
            vector(format!("{p}.post_ffw_norm.weight"), cfg.hidden, 1.0)?;
        }
        if arch == "gemma3" || arch == "qwen3" {
            vector(format!("{p}.attn_q_norm.weight"), cfg.head_dim, 1.0)?;
            vector(format!("{p}.attn_k_norm.weight"), cfg.head_dim, 1.0)?;
        }
        if arch == "qwen2" {
            // Qwen2 has biases on the Q/K/V projections; zeros keep them inert.
            vector(format!("{p}.attn_q.bias"), q_dim, 0.0)?;
            vector(format!("{p}.attn_k.bias"), kv_dim, 0.0)?;
            vector(format!("{p}.attn_v.bias"), kv_dim, 0.0)?;
        }
    }
    vector("output_norm.weight".into(), cfg.hidden, 1.0)?;

    let u = |v: usize| Value::U32(v as u32);
    let arch_keys: Vec<(String, Value)> = vec![
        ("context_length", u(cfg.context)),
        ("embedding_length", u(cfg.hidden)),
        ("block_count", u(cfg.layers)),
        ("feed_forward_length", u(cfg.ffn)),
        ("attention.head_count", u(cfg.heads)),
        ("attention.head_count_kv", u(cfg.kv_heads)),
        ("attention.key_length", u(cfg.head_dim)),
        ("attention.value_length", u(cfg.head_dim)),
        ("attention.sliding_window", u(cfg.sliding_window)),
        ("attention.layer_norm_rms_epsilon", Value::F32(1e-6)),
        ("rope.freq_base", Value::F32(1_000_000.0)),
        ("rope.dimension_count", u(cfg.head_dim)),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{arch}.{k}"), v))
    .collect();
    let mut metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String(arch.into())),
        (
            "general.name",
            Value::String(format!("anuvad tiny random {arch}")),
        ),
        ("tokenizer.ggml.model", Value::String("llama".into())),
        ("tokenizer.ggml.pre", Value::String("default".into())),
        (
            "tokenizer.ggml.tokens",
            Value::Array(tokens.into_iter().map(Value::String).collect()),
        ),
        (
            "tokenizer.ggml.scores",
            Value::Array(scores.into_iter().map(Value::F32).collect()),
        ),
        (
            "tokenizer.ggml.token_type",
            Value::Array(types.into_iter().map(Value::I32).collect()),
        ),
        ("tokenizer.ggml.bos_token_id", u(2)),
        ("tokenizer.ggml.eos_token_id", u(1)),
        ("tokenizer.ggml.unknown_token_id", u(3)),
        ("tokenizer.ggml.padding_token_id", u(0)),
        ("tokenizer.ggml.add_bos_token", Value::Bool(true)),
        ("tokenizer.ggml.add_space_prefix", Value::Bool(false)),
    ];
    metadata.extend(arch_keys.iter().map(|(k, v)| (k.as_str(), v.clone())));
    if cfg.random_norms {
        // candle-transformers' Qwen 3 (the reference in tests/architectures.rs) builds
        // its RoPE tables in F16 unless the file says its weights are F32.
        metadata.push(("general.dtype", u(0)));
    }
    let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tmp = path.with_extension("gguf.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    gguf_file::write(&mut f, &md, &ts)?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Where a GGUF file's metadata value for `key` starts and its GGUF type number (4 =
/// u32, 6 = f32, …): for tests that tamper with one value in place.
pub fn metadata_value(bytes: &[u8], key: &str) -> Option<(usize, u32)> {
    let at = find_name(bytes, key)?;
    let ty = u32::from_le_bytes(bytes[at..at + 4].try_into().ok()?);
    Some((at + 4, ty))
}

/// Set the u32 metadata value `key` of a GGUF file's bytes.
pub fn set_metadata_u32(bytes: &mut [u8], key: &str, value: u32) {
    let (at, ty) = metadata_value(bytes, key).unwrap_or_else(|| panic!("no metadata {key}"));
    assert_eq!(ty, 4, "{key} is not a u32");
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// Set the f32 metadata value `key` of a GGUF file's bytes.
pub fn set_metadata_f32(bytes: &mut [u8], key: &str, value: f32) {
    let (at, ty) = metadata_value(bytes, key).unwrap_or_else(|| panic!("no metadata {key}"));
    assert_eq!(ty, 6, "{key} is not an f32");
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// Where tensor `name`'s info starts after its name (its dimension count, then the
/// dimensions innermost first as u64, the type as u32 and the data offset as u64).
pub fn tensor_info(bytes: &[u8], name: &str) -> Option<usize> {
    find_name(bytes, name)
}

/// The position just after the GGUF string `name` (u64 length, then its bytes).
fn find_name(bytes: &[u8], name: &str) -> Option<usize> {
    let mut needle = (name.len() as u64).to_le_bytes().to_vec();
    needle.extend_from_slice(name.as_bytes());
    bytes
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
        .map(|p| p + needle.len())
}
