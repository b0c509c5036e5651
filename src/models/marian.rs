//! Marian (OPUS-MT): a post-norm transformer encoder-decoder, as `transformers`'
//! `MarianMTModel` runs it, read from a hub repository's `model.safetensors` or
//! `pytorch_model.bin` with its `config.json`.
//!
//! The layer layout and configuration follow candle-transformers' `marian` model; what
//! this file adds is what batches need: a padding mask on the encoder's self-attention,
//! and cross-attention over each sentence's real source positions only (upstream
//! translates one sentence at a time and has neither); cross-attention keys and values
//! computed once per sentence rather than per step; decoder state in plain buffers that
//! can be reordered or thinned row by row (beam search, and dropping finished sentences
//! from a batch); weights packed for kernels that read each weight once for all rows of
//! the batch, in f32 (`kernels::PackedF32`) or in int8 with one scale per row, whole
//! rows accumulated in int32 (`kernels::PackedI8`).

use super::Linear as QLinear;
use super::kernels;
use crate::config::Precision;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::LayerNorm;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The fields of a Marian `config.json` the model uses.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Config {
    pub max_position_embeddings: usize,
    pub d_model: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub encoder_attention_heads: usize,
    pub decoder_attention_heads: usize,
    #[serde(default = "default_activation")]
    pub activation_function: String,
    #[serde(default = "default_true")]
    pub scale_embedding: bool,
    pub decoder_start_token_id: u32,
    #[serde(default = "default_true")]
    pub share_encoder_decoder_embeddings: bool,
    #[serde(default = "default_true")]
    pub tie_word_embeddings: bool,
}

fn default_activation() -> String {
    "swish".into()
}
fn default_true() -> bool {
    true
}

impl Config {
    pub fn from_file(path: &Path) -> std::result::Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let config: Config = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        config.check()?;
        Ok(config)
    }

    /// The sizes bounded before anything divides by them or allocates from them (the
    /// file comes from outside): far past OPUS-MT's (width 512–1,024, 8–16 heads, 6
    /// layers, 512 positions), low enough that the position table stays small.
    fn check(&self) -> std::result::Result<(), String> {
        let fields = [
            ("d_model", self.d_model, 8192),
            ("encoder_layers", self.encoder_layers, 256),
            ("decoder_layers", self.decoder_layers, 256),
            (
                "encoder_attention_heads",
                self.encoder_attention_heads,
                1024,
            ),
            (
                "decoder_attention_heads",
                self.decoder_attention_heads,
                1024,
            ),
            (
                "max_position_embeddings",
                self.max_position_embeddings,
                8192,
            ),
        ];
        for (key, value, max) in fields {
            if !(1..=max).contains(&value) {
                return Err(format!(
                    "`{key}` is {value}; it must be between 1 and {max}"
                ));
            }
        }
        for key in ["encoder_attention_heads", "decoder_attention_heads"] {
            let heads = if key.starts_with("encoder") {
                self.encoder_attention_heads
            } else {
                self.decoder_attention_heads
            };
            if !self.d_model.is_multiple_of(heads) {
                return Err(format!(
                    "`d_model` ({}) is not a multiple of `{key}` ({heads})",
                    self.d_model
                ));
            }
        }
        Ok(())
    }
}

/// A checkpoint's tensors by name.
pub struct Checkpoint(HashMap<String, Tensor>);

impl Checkpoint {
    /// Read `model.safetensors` or a PyTorch `pytorch_model.bin` (zip of pickles).
    pub fn read(path: &Path) -> Result<Checkpoint> {
        let is_bin = path
            .extension()
            .is_some_and(|e| e == "bin" || e == "pt" || e == "pth");
        let map: HashMap<String, Tensor> = if is_bin {
            super::pickle::read_all(path)?.into_iter().collect()
        } else {
            candle_core::safetensors::load(path, &Device::Cpu)?
        };
        Ok(Checkpoint(map))
    }

    fn get(&self, name: &str) -> Result<Tensor> {
        match self.0.get(name) {
            Some(t) => t.to_dtype(DType::F32),
            None => candle_core::bail!("tensor `{name}` is missing from the checkpoint"),
        }
    }

    fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Every weight's shape against the width `d` of config.json, before anything is
    /// packed: a mismatch would otherwise surface as a bare shape error in the first
    /// matrix product, naming neither the file nor the tensor.
    fn check_shapes(&self, d: usize) -> Result<()> {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        for name in names {
            let dims = self.0[name].dims();
            let want: Option<(usize, &str)> = if name.ends_with("_proj.weight") {
                (dims != [d, d]).then_some((d, "[d_model, d_model]"))
            } else if name.ends_with("fc1.weight")
                || name.ends_with("embed_tokens.weight")
                || name.ends_with("shared.weight")
                || name.ends_with("lm_head.weight")
            {
                (dims.len() != 2 || dims[1] != d).then_some((d, "[n, d_model]"))
            } else if name.ends_with("fc2.weight") {
                (dims.len() != 2 || dims[0] != d).then_some((d, "[d_model, n]"))
            } else if name.contains("layer_norm.") || name.ends_with("_proj.bias") {
                (dims != [d]).then_some((d, "[d_model]"))
            } else {
                None
            };
            if let Some((d, shape)) = want {
                candle_core::bail!(
                    "tensor `{name}` is {dims:?}, expected {shape} with `d_model` = {d} from config.json"
                )
            }
        }
        Ok(())
    }
}

/// A dense layer `x·Wᵀ + b`.
struct Dense {
    w: Weight,
    b: Tensor,
}

enum Weight {
    /// Packed in 16-row tiles for our f32 kernel (`kernels::PackedF32`).
    F32(kernels::PackedF32),
    /// int8 with a scale per row, for the AVX-512 VNNI kernel (`kernels::PackedI8`).
    Int8(kernels::PackedI8),
    /// Without AVX-512 VNNI: Q8_0 through candle's quantized kernels.
    Q8(QLinear),
}

impl Dense {
    fn load(ck: &Checkpoint, name: &str, precision: Precision) -> Result<Dense> {
        let w = ck.get(&format!("{name}.weight"))?;
        let b = ck.get(&format!("{name}.bias"))?;
        Ok(Dense {
            w: weight(w, precision)?,
            b,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = match &self.w {
            Weight::F32(w) => packed_product(x, w.rows(), w.cols(), |xs, out| w.matmul(xs, out))?,
            Weight::Int8(w) => packed_product(x, w.rows(), w.cols(), |xs, out| {
                w.matmul(&kernels::U8Rows::quantize(xs, w.cols()), out)
            })?,
            Weight::Q8(q) => q.forward(&x.contiguous()?)?,
        };
        y.broadcast_add(&self.b)
    }
}

/// x (…, cols) → (…, rows) through one of our packed kernels, which take and fill
/// plain row-major buffers.
fn packed_product(
    x: &Tensor,
    rows: usize,
    cols: usize,
    kernel: impl FnOnce(&[f32], &mut [f32]),
) -> Result<Tensor> {
    let n = x.elem_count() / cols;
    let mut dims = x.dims().to_vec();
    *dims.last_mut().expect("rank >= 1") = rows;
    let xs: Vec<f32> = x.flatten_all()?.to_vec1()?;
    let mut out = vec![0f32; n * rows];
    kernel(&xs, &mut out);
    Tensor::from_vec(out, dims, &Device::Cpu)
}

fn weight(w: Tensor, precision: Precision) -> Result<Weight> {
    let (rows, cols) = w.dims2()?;
    let data: Vec<f32> = w.flatten_all()?.to_vec1()?;
    if precision == Precision::Int8 {
        if kernels::vnni() && cols % 4 == 0 {
            return Ok(Weight::Int8(kernels::PackedI8::new(&data, rows, cols)));
        }
        // Q8_0 needs rows of whole 32-value blocks.
        if cols % 32 == 0 {
            return Ok(Weight::Q8(QLinear::new(Arc::new(QTensor::quantize(
                &w,
                GgmlDType::Q8_0,
            )?))?));
        }
    }
    Ok(Weight::F32(kernels::PackedF32::new(&data, rows, cols)))
}

struct Attention {
    q: Dense,
    k: Dense,
    v: Dense,
    out: Dense,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn load(ck: &Checkpoint, name: &str, heads: usize, d: usize, p: Precision) -> Result<Self> {
        Ok(Attention {
            q: Dense::load(ck, &format!("{name}.q_proj"), p)?,
            k: Dense::load(ck, &format!("{name}.k_proj"), p)?,
            v: Dense::load(ck, &format!("{name}.v_proj"), p)?,
            out: Dense::load(ck, &format!("{name}.out_proj"), p)?,
            heads,
            head_dim: d / heads,
        })
    }

    /// (B, T, D) → (B, H, T, Dh).
    fn split(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        x.reshape((b, t, self.heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()
    }

    fn keys_values(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok((
            self.split(&self.k.forward(x)?)?,
            self.split(&self.v.forward(x)?)?,
        ))
    }

    /// Queries from `x` attend to `k`/`v` (B, H, S, Dh); `mask` is added to the scores
    /// (broadcast to (B, H, T, S)). The encoder's path; decode steps use `attend_rows`.
    fn attend(&self, x: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let scale = (self.head_dim as f64).powf(-0.5);
        let q = self.split(&(self.q.forward(x)? * scale)?)?;
        let scores = q.matmul(&k.transpose(2, 3)?)?.broadcast_add(mask)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let y = probs.matmul(v)?.transpose(1, 2)?.reshape((b, t, d))?;
        self.out.forward(&y)
    }
}

struct FeedForward {
    fc1: Dense,
    fc2: Dense,
    activation: Activation,
}

#[derive(Clone, Copy)]
enum Activation {
    Silu,
    Relu,
    Gelu,
}

impl FeedForward {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.fc1.forward(x)?;
        let h = match self.activation {
            Activation::Silu => h.silu()?,
            Activation::Relu => h.relu()?,
            Activation::Gelu => h.gelu_erf()?,
        };
        self.fc2.forward(&h)
    }
}

fn layer_norm(ck: &Checkpoint, name: &str) -> Result<LayerNorm> {
    Ok(LayerNorm::new(
        ck.get(&format!("{name}.weight"))?,
        ck.get(&format!("{name}.bias"))?,
        1e-5,
    ))
}

struct EncoderLayer {
    attn: Attention,
    attn_norm: LayerNorm,
    ffn: FeedForward,
    ffn_norm: LayerNorm,
}

struct DecoderLayer {
    self_attn: Attention,
    self_norm: LayerNorm,
    cross_attn: Attention,
    cross_norm: LayerNorm,
    ffn: FeedForward,
    ffn_norm: LayerNorm,
}

fn feed_forward(ck: &Checkpoint, name: &str, act: Activation, p: Precision) -> Result<FeedForward> {
    Ok(FeedForward {
        fc1: Dense::load(ck, &format!("{name}.fc1"), p)?,
        fc2: Dense::load(ck, &format!("{name}.fc2"), p)?,
        activation: act,
    })
}

/// The encoder's output for a batch of sources, and their padding.
pub struct Encoded {
    /// (B, S, D).
    pub hidden: Tensor,
    /// Real (unpadded) length of each row.
    pub lengths: Vec<usize>,
}

/// Per-row decoder state in plain buffers, read directly by the decode step's attention
/// (`kernels::attend_one`): tensor operations per row, head and step would cost more than
/// the arithmetic. Layout of every buffer: [row][head][position][head_dim].
pub struct DecoderState {
    /// Per layer: self-attention keys and values of the positions fed so far, room for
    /// `capacity` positions per row and head.
    self_k: Vec<Vec<f32>>,
    self_v: Vec<Vec<f32>>,
    capacity: usize,
    /// Per layer: cross-attention keys and values of each source (padded to
    /// `source_len` positions; only the first `lengths[source]` are attended to). Rows
    /// refer to their source (`source_of`), so reordering rows never copies these.
    cross_k: Arc<Vec<Vec<f32>>>,
    cross_v: Arc<Vec<Vec<f32>>>,
    source_len: usize,
    lengths: Vec<usize>,
    source_of: Vec<usize>,
    heads: usize,
    head_dim: usize,
    /// Decoder positions already fed.
    pub position: usize,
}

impl DecoderState {
    /// Keep rows `rows` (in this order, repeats allowed): beam reordering, or a batch
    /// without its finished sentences. Only the positions fed so far are moved, in
    /// place: the buffers keep their room for the positions still to come.
    pub fn select(&mut self, rows: &[u32]) {
        let (heads, hd, cap) = (self.heads, self.head_dim, self.capacity);
        let filled = self.position * hd;
        let mut kept = Vec::with_capacity(rows.len() * heads * filled);
        for buf in self.self_k.iter_mut().chain(self.self_v.iter_mut()) {
            kept.clear();
            for &from in rows {
                for h in 0..heads {
                    let src = (from as usize * heads + h) * cap * hd;
                    kept.extend_from_slice(&buf[src..src + filled]);
                }
            }
            buf.resize(rows.len() * heads * cap * hd, 0.0);
            for (i, part) in kept.chunks_exact(filled.max(1)).enumerate() {
                let dst = i * cap * hd;
                buf[dst..dst + part.len()].copy_from_slice(part);
            }
        }
        self.source_of = rows.iter().map(|&r| self.source_of[r as usize]).collect();
    }
}

pub struct Model {
    pub config: Config,
    src_embed: Tensor,
    tgt_embed: Tensor,
    positions: Tensor,
    embed_scale: f64,
    encoder: Vec<EncoderLayer>,
    decoder: Vec<DecoderLayer>,
    /// Output projection (the tied target embedding) plus `final_logits_bias`.
    lm_head: Dense,
}

impl Model {
    pub fn load(config: Config, ck: &Checkpoint, precision: Precision) -> Result<Model> {
        let act = match config.activation_function.as_str() {
            "swish" | "silu" => Activation::Silu,
            "relu" => Activation::Relu,
            "gelu" => Activation::Gelu,
            other => candle_core::bail!(
                "activation `{other}` in config.json is not supported (swish, silu, relu, gelu)"
            ),
        };
        let d = config.d_model;
        ck.check_shapes(d)?;
        let shared = if ck.has("model.shared.weight") {
            Some(ck.get("model.shared.weight")?)
        } else {
            None
        };
        let embed = |side: &str| match (&shared, config.share_encoder_decoder_embeddings) {
            (Some(s), true) => Ok(s.clone()),
            _ => ck.get(&format!("model.{side}.embed_tokens.weight")),
        };
        let src_embed = embed("encoder")?;
        let tgt_embed = embed("decoder")?;
        let head = if ck.has("lm_head.weight") && !config.tie_word_embeddings {
            ck.get("lm_head.weight")?
        } else {
            tgt_embed.clone()
        };
        let final_logits_bias = if ck.has("final_logits_bias") {
            ck.get("final_logits_bias")?.flatten_all()?
        } else {
            Tensor::zeros(head.dim(0)?, DType::F32, &Device::Cpu)?
        };
        let mut encoder = Vec::with_capacity(config.encoder_layers);
        for i in 0..config.encoder_layers {
            let n = format!("model.encoder.layers.{i}");
            encoder.push(EncoderLayer {
                attn: Attention::load(
                    ck,
                    &format!("{n}.self_attn"),
                    config.encoder_attention_heads,
                    d,
                    precision,
                )?,
                attn_norm: layer_norm(ck, &format!("{n}.self_attn_layer_norm"))?,
                ffn: feed_forward(ck, &n, act, precision)?,
                ffn_norm: layer_norm(ck, &format!("{n}.final_layer_norm"))?,
            });
        }
        let mut decoder = Vec::with_capacity(config.decoder_layers);
        for i in 0..config.decoder_layers {
            let n = format!("model.decoder.layers.{i}");
            let heads = config.decoder_attention_heads;
            decoder.push(DecoderLayer {
                self_attn: Attention::load(ck, &format!("{n}.self_attn"), heads, d, precision)?,
                self_norm: layer_norm(ck, &format!("{n}.self_attn_layer_norm"))?,
                cross_attn: Attention::load(ck, &format!("{n}.encoder_attn"), heads, d, precision)?,
                cross_norm: layer_norm(ck, &format!("{n}.encoder_attn_layer_norm"))?,
                ffn: feed_forward(ck, &n, act, precision)?,
                ffn_norm: layer_norm(ck, &format!("{n}.final_layer_norm"))?,
            });
        }
        Ok(Model {
            positions: sinusoids(config.max_position_embeddings, d)?,
            embed_scale: if config.scale_embedding {
                (d as f64).sqrt()
            } else {
                1.0
            },
            lm_head: Dense {
                w: weight(head, precision)?,
                b: final_logits_bias,
            },
            config,
            src_embed,
            tgt_embed,
            encoder,
            decoder,
        })
    }

    fn embed(&self, table: &Tensor, ids: &Tensor, start: usize) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        if start + t > self.config.max_position_embeddings {
            candle_core::bail!(
                "{} positions exceed the model's {}",
                start + t,
                self.config.max_position_embeddings
            );
        }
        let x = table
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, t, self.config.d_model))?;
        (x * self.embed_scale)?.broadcast_add(&self.positions.narrow(0, start, t)?)
    }

    /// Encode padded sources `ids` (B, S); `lengths` are the real token counts (the rest
    /// of each row is padding, which no query may attend to).
    pub fn encode(&self, ids: &Tensor, lengths: &[usize]) -> Result<Encoded> {
        let (b, s) = ids.dims2()?;
        let mut m = vec![0f32; b * s];
        for (row, &len) in lengths.iter().enumerate() {
            for v in &mut m[row * s + len.min(s)..(row + 1) * s] {
                *v = f32::NEG_INFINITY;
            }
        }
        let mask = Tensor::from_vec(m, (b, 1, 1, s), &Device::Cpu)?;
        let mut x = self.embed(&self.src_embed, ids, 0)?;
        for l in &self.encoder {
            let (k, v) = l.attn.keys_values(&x)?;
            let a = l.attn.attend(&x, &k, &v, &mask)?;
            x = l.attn_norm.forward(&(x + a)?)?;
            let f = l.ffn.forward(&x)?;
            x = l.ffn_norm.forward(&(x + f)?)?;
        }
        Ok(Encoded {
            hidden: x,
            lengths: lengths.to_vec(),
        })
    }

    /// Decoder state for the encoded rows, with room for `positions` decoder tokens:
    /// cross-attention keys and values per layer, computed once.
    pub fn start(&self, enc: &Encoded, positions: usize) -> Result<DecoderState> {
        let (b, s, _) = enc.hidden.dims3()?;
        let heads = self.config.decoder_attention_heads;
        let head_dim = self.config.d_model / heads;
        let capacity = positions.min(self.config.max_position_embeddings).max(1);
        let (mut cross_k, mut cross_v) = (Vec::new(), Vec::new());
        for l in &self.decoder {
            let (k, v) = l.cross_attn.keys_values(&enc.hidden)?;
            cross_k.push(k.flatten_all()?.to_vec1()?);
            cross_v.push(v.flatten_all()?.to_vec1()?);
        }
        let size = b * heads * capacity * head_dim;
        Ok(DecoderState {
            self_k: vec![vec![0f32; size]; self.decoder.len()],
            self_v: vec![vec![0f32; size]; self.decoder.len()],
            capacity,
            cross_k: Arc::new(cross_k),
            cross_v: Arc::new(cross_v),
            source_len: s,
            lengths: enc.lengths.clone(),
            source_of: (0..b).collect(),
            heads,
            head_dim,
            position: 0,
        })
    }

    /// Feed `ids` (B, T) at the state's position; logits (B, T, V) after each token.
    /// Tokens go in one position at a time (what a causal mask computes in one pass).
    pub fn decode(&self, ids: &Tensor, state: &mut DecoderState) -> Result<Tensor> {
        let t = ids.dim(1)?;
        let mut steps = Vec::with_capacity(t);
        for i in 0..t {
            steps.push(self.step(&ids.narrow(1, i, 1)?, state)?);
        }
        Tensor::cat(&steps, 1)
    }

    /// One decoder position for every row: ids (B, 1) → logits (B, 1, V).
    fn step(&self, ids: &Tensor, state: &mut DecoderState) -> Result<Tensor> {
        let (b, _) = ids.dims2()?;
        let pos = state.position;
        if pos >= state.capacity {
            candle_core::bail!(
                "decoder position {pos} is past the {} this state has room for",
                state.capacity
            );
        }
        let (heads, hd, cap) = (state.heads, state.head_dim, state.capacity);
        let d = heads * hd;
        let mut x = self.embed(&self.tgt_embed, ids, pos)?;
        for (i, l) in self.decoder.iter().enumerate() {
            // Self-attention: this position's key and value go into the state first.
            let k: Vec<f32> = l.self_attn.k.forward(&x)?.flatten_all()?.to_vec1()?;
            let v: Vec<f32> = l.self_attn.v.forward(&x)?.flatten_all()?.to_vec1()?;
            for row in 0..b {
                for h in 0..heads {
                    let at = ((row * heads + h) * cap + pos) * hd;
                    let from = row * d + h * hd;
                    state.self_k[i][at..at + hd].copy_from_slice(&k[from..from + hd]);
                    state.self_v[i][at..at + hd].copy_from_slice(&v[from..from + hd]);
                }
            }
            let a = self.attend_rows(&l.self_attn, &x, state, i, false)?;
            x = l.self_norm.forward(&(x + a)?)?;
            let c = self.attend_rows(&l.cross_attn, &x, state, i, true)?;
            x = l.cross_norm.forward(&(x + c)?)?;
            let f = l.ffn.forward(&x)?;
            x = l.ffn_norm.forward(&(x + f)?)?;
        }
        state.position += 1;
        self.lm_head.forward(&x)
    }

    /// Attention of each row's query (from x, (B, 1, D)) over its own keys and values in
    /// the state: the self-attention positions so far, or the real source positions.
    fn attend_rows(
        &self,
        attn: &Attention,
        x: &Tensor,
        state: &DecoderState,
        layer: usize,
        cross: bool,
    ) -> Result<Tensor> {
        let (b, _, d) = x.dims3()?;
        let (heads, hd) = (state.heads, state.head_dim);
        let scale = (hd as f32).powf(-0.5);
        let q: Vec<f32> = attn.q.forward(x)?.flatten_all()?.to_vec1()?;
        let mut out = vec![0f32; b * d];
        let out_ptr = kernels::OutPtr(out.as_mut_ptr());
        candle_core::utils::barrier_pool().execute_chunked(b * heads, |range| {
            let mut scores = Vec::new();
            let mut qh = vec![0f32; hd];
            let mut o = vec![0f32; hd];
            for task in range {
                let (row, h) = (task / heads, task % heads);
                for (dst, src) in qh
                    .iter_mut()
                    .zip(&q[row * d + h * hd..row * d + (h + 1) * hd])
                {
                    *dst = src * scale;
                }
                let (keys, values, base, n) = if cross {
                    let src = state.source_of[row];
                    let base = (src * heads + h) * state.source_len * hd;
                    (
                        &state.cross_k[layer],
                        &state.cross_v[layer],
                        base,
                        state.lengths[src],
                    )
                } else {
                    let base = (row * heads + h) * state.capacity * hd;
                    (
                        &state.self_k[layer],
                        &state.self_v[layer],
                        base,
                        state.position + 1,
                    )
                };
                let kv = [(&keys[base..base + n * hd], &values[base..base + n * hd])];
                kernels::attend_one(&qh, &kv, &mut o, &mut scores);
                // SAFETY: each (row, head) task writes its own hd values of `out`.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        o.as_ptr(),
                        out_ptr.get().add(row * d + h * hd),
                        hd,
                    )
                };
            }
        });
        attn.out
            .forward(&Tensor::from_vec(out, (b, 1, d), &Device::Cpu)?)
    }
}

/// Marian's fixed position table: sin of each frequency in the first half of the
/// vector, cos in the second.
fn sinusoids(positions: usize, dim: usize) -> Result<Tensor> {
    let half = dim / 2;
    let mut t = vec![0f32; positions * dim];
    for p in 0..positions {
        for j in 0..half {
            let angle = p as f64 / 10000f64.powf(2.0 * j as f64 / dim as f64);
            t[p * dim + j] = angle.sin() as f32;
            t[p * dim + half + j] = angle.cos() as f32;
        }
    }
    Tensor::from_vec(t, (positions, dim), &Device::Cpu)
}
