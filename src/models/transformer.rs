//! The decoder-only transformer every GGUF family runs through: Gemma 3, Qwen 2/2.5,
//! Qwen 3 and Llama 3.x. What differs between them (norms after attention and MLP,
//! Q/K/V biases, Q/K RMS norms, GELU or SiLU, RoPE layout, base and scaling, sliding
//! windows, an embedding scale) is read from the GGUF by the family's own small file
//! (`gemma3.rs`, `qwen2.rs`, `qwen3.rs`, `llama.rs`) into a [`Config`]; everything else
//! is shared here: quantized weights on our packed kernels, a KV cache held outside the
//! model so the prompt prefix is computed once, and several sequences decoded together
//! in one pass over the weights.
//!
//! Written for anuvad rather than taken from candle-transformers 0.11.1, whose quantized
//! models keep their KV cache inside (no shared prefix, no batch of sequences) and whose
//! `quantized_gemma3` is wrong for these models (SiLU where Gemma 3 uses GELU, no
//! sliding window in decode steps, 131k-position RoPE tables per layer, an F32 copy of
//! the embedding). Gemma 3 and Qwen 2 are pinned to llama.cpp on real GGUFs by
//! tests/llama_cpp_parity.rs; Llama, Qwen 2 and Qwen 3 to candle-transformers' reference
//! code on tiny random models by tests/architectures.rs.
//!
//! Layout per layer: RMSNorm → attention (optional biases and Q/K RMSNorm, RoPE, GQA) →
//! [RMSNorm] → residual; RMSNorm → gated MLP → [RMSNorm] → residual.

use super::{KvCache, Linear, Meta, RmsNorm, Rope, RopeLayout, Weights, attention_mask};
use candle_core::quantized::gguf_file;
use candle_core::{Device, IndexOp, Result, Tensor};
use std::io::{Read, Seek};

/// Longest run of prompt tokens computed in one pass (see `Model::forward`).
const PROMPT_PIECE: usize = 512;

/// The MLP's gate activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// GELU with the tanh approximation (Gemma).
    GeluTanh,
    /// SiLU (Llama, Qwen).
    Silu,
}

/// Sliding-window attention: every `pattern`-th layer is global, the others see only
/// the last `window` positions and use their own RoPE base.
#[derive(Debug, Clone, PartialEq)]
pub struct Sliding {
    pub window: usize,
    pub pattern: usize,
    pub rope_base: f32,
}

/// Everything the shared forward pass needs to know about one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// GGUF `general.architecture`.
    pub arch: String,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    /// The key the head size came from (or would have), for messages.
    pub head_dim_key: &'static str,
    pub rms_eps: f64,
    pub context: usize,
    pub rope_layout: RopeLayout,
    pub rope_base: f32,
    /// Linear RoPE scaling of the global layers (positions divided by it); 1 = none.
    pub rope_scale: f32,
    pub sliding: Option<Sliding>,
    pub activation: Activation,
    /// Embeddings multiplied by sqrt(hidden) (Gemma).
    pub embed_scale: bool,
    /// RMSNorms after attention and after the MLP, before the residual (Gemma 3).
    pub post_norms: bool,
    /// RMSNorm of each query and key head (Gemma 3, Qwen 3).
    pub qk_norm: bool,
    /// Biases on the Q, K and V projections (Qwen 2).
    pub qkv_bias: bool,
}

/// The defaults of the metadata keys a family's GGUF may omit.
pub struct Defaults {
    pub rms_eps: f32,
    pub context: usize,
    pub rope_base: f32,
    /// The key that gives the head size (else width / heads).
    pub head_dim_key: &'static str,
}

/// Bounds on the metadata, far past any real model (Gemma 3 27B: 62 layers, width
/// 5,376, 32 heads of 128; Llama 3.1 405B: 126 layers, width 16,384, 128 heads) and
/// low enough that nothing sized from them can ask for terabytes before the tensor
/// shapes are checked against the file.
pub const MAX_LAYERS: usize = 1024;
pub const MAX_WIDTH: usize = 1 << 17;
pub const MAX_HEADS: usize = 4096;
pub const MAX_HEAD_DIM: usize = 4096;
pub const MAX_CONTEXT: usize = 1 << 24;

impl Config {
    /// The keys every family shares, read under `m.arch`, with SiLU and no extras: each
    /// family file then sets what differs. Every value is bounded as it is read; the
    /// relations between them are checked by `check` once the family has set its own.
    pub fn read(m: &Meta, rope_layout: RopeLayout, d: Defaults) -> Result<Config> {
        let heads = m.count("attention.head_count", MAX_HEADS)?;
        let hidden = m.count("embedding_length", MAX_WIDTH)?;
        Ok(Config {
            arch: m.arch.into(),
            hidden,
            layers: m.count("block_count", MAX_LAYERS)?,
            heads,
            kv_heads: m.count_or("attention.head_count_kv", heads, MAX_HEADS)?,
            head_dim: m.count_or(d.head_dim_key, hidden / heads, MAX_HEAD_DIM)?,
            head_dim_key: d.head_dim_key,
            rms_eps: m.positive_or("attention.layer_norm_rms_epsilon", d.rms_eps)? as f64,
            context: m.count_or("context_length", d.context, MAX_CONTEXT)?,
            rope_layout,
            rope_base: m.positive_or("rope.freq_base", d.rope_base)?,
            rope_scale: m.linear_rope_scale()?,
            sliding: None,
            activation: Activation::Silu,
            embed_scale: false,
            post_norms: false,
            qk_norm: false,
            qkv_bias: false,
        })
    }

    /// The relations between the values, with the keys that give them.
    pub fn check(&self) -> Result<()> {
        let key = |k: &str| format!("{}.{k}", self.arch);
        if !self.heads.is_multiple_of(self.kv_heads) {
            candle_core::bail!(
                "GGUF metadata `{}` ({}) is not a multiple of `{}` ({})",
                key("attention.head_count"),
                self.heads,
                key("attention.head_count_kv"),
                self.kv_heads
            )
        }
        if !self.head_dim.is_multiple_of(2) {
            candle_core::bail!(
                "head size {} (`{}`, or `{}` / `{}`) must be even for RoPE",
                self.head_dim,
                key(self.head_dim_key),
                key("embedding_length"),
                key("attention.head_count")
            )
        }
        Ok(())
    }

    fn is_sliding(&self, layer: usize) -> bool {
        self.sliding
            .as_ref()
            .is_some_and(|s| !(layer + 1).is_multiple_of(s.pattern))
    }

    fn window(&self) -> usize {
        self.sliding.as_ref().map_or(usize::MAX, |s| s.window)
    }
}

struct Mlp {
    gate: Linear,
    up: Linear,
    down: Linear,
    activation: Activation,
}

impl Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let [gate, up] = Linear::forward_all([&self.gate, &self.up], x)?;
        let gate = match self.activation {
            // candle's `gelu` is the tanh approximation, as Gemma 3 and llama.cpp use.
            Activation::GeluTanh => gate.gelu()?,
            Activation::Silu => gate.silu()?,
        };
        self.down.forward(&(gate * up)?)
    }
}

/// An optional bias added to a projection's output.
fn add_bias(x: Tensor, bias: &Option<Tensor>) -> Result<Tensor> {
    match bias {
        Some(b) => x.broadcast_add(b),
        None => Ok(x),
    }
}

struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    /// Q, K and V biases (Qwen 2).
    bias: [Option<Tensor>; 3],
    /// Q and K head norms (Gemma 3, Qwen 3).
    qk_norm: Option<(RmsNorm, RmsNorm)>,
    attn_norm: RmsNorm,
    ffn_norm: RmsNorm,
    /// Norms after attention and after the MLP (Gemma 3).
    post_norms: Option<(RmsNorm, RmsNorm)>,
    mlp: Mlp,
    sliding: bool,
}

/// Which logits `forward` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits {
    /// Only for the last position: (batch, vocab). What generation needs.
    Last,
    /// For every position: (batch, seq, vocab). What scoring a given text needs.
    All,
}

pub struct Model {
    cfg: Config,
    /// Token embeddings when the GGUF has its own output head; usually the head is tied
    /// to them and lookups read the head's rows (one copy in memory).
    embed: Option<Linear>,
    head: Linear,
    layers: Vec<Layer>,
    norm: RmsNorm,
    /// RoPE of sliding-window layers (the global table when the model has none).
    rope_local: Rope,
    rope_global: Rope,
    device: Device,
}

impl Model {
    /// Load from GGUF. `positions` is how many positions this run will use (KV cache and
    /// RoPE tables are sized to it, not to the model's trained context).
    pub fn load<R: Read + Seek>(
        cfg: Config,
        content: &gguf_file::Content,
        reader: &mut R,
        device: &Device,
        positions: usize,
    ) -> Result<Self> {
        check_shapes(content, &cfg)?;
        let mut w = Weights {
            content,
            reader,
            device,
        };
        // Kept quantized: looked up row by row, and the output head unless the file has one.
        let embed = w.linear("token_embd.weight")?;
        let (embed, head) = if w.has("output.weight") {
            (Some(embed), w.linear("output.weight")?)
        } else {
            (None, embed)
        };
        let mut layers = Vec::with_capacity(cfg.layers);
        for i in 0..cfg.layers {
            let p = format!("blk.{i}");
            let mut qm = |n: &str| w.linear(&format!("{p}.{n}.weight"));
            let (q, k, v, o) = (
                qm("attn_q")?,
                qm("attn_k")?,
                qm("attn_v")?,
                qm("attn_output")?,
            );
            let mlp = Mlp {
                gate: qm("ffn_gate")?,
                up: qm("ffn_up")?,
                down: qm("ffn_down")?,
                activation: cfg.activation,
            };
            let bias = if cfg.qkv_bias {
                let mut b = |n: &str| w.vector(&format!("{p}.{n}.bias")).map(Some);
                [b("attn_q")?, b("attn_k")?, b("attn_v")?]
            } else {
                [None, None, None]
            };
            let mut norm = |n: &str| w.rms_norm(&format!("{p}.{n}.weight"), cfg.rms_eps);
            let qk_norm = if cfg.qk_norm {
                Some((norm("attn_q_norm")?, norm("attn_k_norm")?))
            } else {
                None
            };
            let post_norms = if cfg.post_norms {
                Some((norm("post_attention_norm")?, norm("post_ffw_norm")?))
            } else {
                None
            };
            layers.push(Layer {
                q,
                k,
                v,
                o,
                bias,
                qk_norm,
                attn_norm: norm("attn_norm")?,
                ffn_norm: norm("ffn_norm")?,
                post_norms,
                mlp,
                sliding: cfg.is_sliding(i),
            });
        }
        let norm = w.rms_norm("output_norm.weight", cfg.rms_eps)?;
        let positions = positions.min(cfg.context).max(1);
        // Llama 3.1+ stores its RoPE frequency scaling as per-frequency divisors.
        let factors = if w.has("rope_freqs.weight") {
            let f: Vec<f32> = w.vector("rope_freqs.weight")?.to_vec1()?;
            if f.len() != cfg.head_dim / 2 {
                candle_core::bail!(
                    "tensor `rope_freqs.weight` has {} values; head size {} needs {}",
                    f.len(),
                    cfg.head_dim,
                    cfg.head_dim / 2
                )
            }
            Some(f)
        } else {
            None
        };
        let rope = |base: f32, scale: f32| {
            Rope::new(
                cfg.head_dim,
                base,
                scale,
                factors.as_deref(),
                cfg.rope_layout,
                positions,
                device,
            )
        };
        let rope_global = rope(cfg.rope_base, cfg.rope_scale)?;
        let rope_local = match &cfg.sliding {
            Some(s) => rope(s.rope_base, 1.0)?,
            None => rope_global.clone(),
        };
        Ok(Model {
            cfg,
            embed,
            head,
            layers,
            norm,
            rope_local,
            rope_global,
            device: device.clone(),
        })
    }

    pub fn new_cache(&self) -> KvCache {
        KvCache::new(
            self.cfg.layers,
            self.cfg.kv_heads,
            self.cfg.head_dim,
            self.rope_local.positions(),
        )
    }

    /// A cache for one sequence of up to `capacity` more positions after `shared` (the
    /// prompt prefix), for `forward_seqs`.
    pub fn continuation_cache(&self, shared: &KvCache, capacity: usize) -> KvCache {
        KvCache::continuing(shared, capacity)
    }

    /// Run `tokens` (1, seq) at positions cache.position().. and return logits. Long
    /// prompts go through in pieces of `PROMPT_PIECE` tokens: attention scores of a whole
    /// 1,500-token prompt at once would take 150 MB per layer and run slower.
    pub fn forward(&self, tokens: &Tensor, cache: &mut KvCache, which: Logits) -> Result<Tensor> {
        let seq = tokens.dim(1)?;
        if seq <= PROMPT_PIECE {
            return self.forward_seqs(tokens, None, &mut [cache], which);
        }
        let mut outs = Vec::new();
        for start in (0..seq).step_by(PROMPT_PIECE) {
            let n = PROMPT_PIECE.min(seq - start);
            let piece = tokens.narrow(1, start, n)?;
            outs.push(self.forward_seqs(&piece, None, &mut [cache], which)?);
        }
        match which {
            // Earlier pieces only had to fill the cache.
            Logits::Last => Ok(outs.pop().expect("at least one piece")),
            Logits::All => Tensor::cat(&outs, 1),
        }
    }

    /// Run several sequences at once: row i of `tokens` (batch, seq) continues
    /// `caches[i]`, and every cache continues `shared` when given (the prompt prefix
    /// they have in common). The weight products see all batch × seq rows together, so
    /// one pass over the weights serves every sequence; attention runs per sequence over
    /// its own positions. Each sequence gets the logits it would get alone.
    pub fn forward_seqs(
        &self,
        tokens: &Tensor,
        shared: Option<&KvCache>,
        caches: &mut [&mut KvCache],
        which: Logits,
    ) -> Result<Tensor> {
        let (b, seq) = tokens.dims2()?;
        if caches.len() != b {
            candle_core::bail!("{b} token rows for {} caches", caches.len())
        }
        let base = shared.map_or(0, |s| s.position());
        if let Some(c) = caches.iter().find(|c| c.base() != base) {
            candle_core::bail!(
                "a cache continues position {} but the shared prefix ends at {base}",
                c.base()
            )
        }
        let c = &self.cfg;
        let mut x = self
            .embed
            .as_ref()
            .unwrap_or(&self.head)
            .embedding(tokens)?;
        if c.embed_scale {
            x = (x * (c.hidden as f64).sqrt())?;
        }

        // Per sequence: where it starts, and which keys its queries see. Global layers see
        // everything before; sliding layers only the last `window` positions before the
        // first new query (and the mask narrows that per query).
        let starts: Vec<usize> = caches.iter().map(|c| c.position()).collect();
        let from_local: Vec<usize> = starts
            .iter()
            .map(|s| (s + 1).saturating_sub(c.window()))
            .collect();
        let masks: Vec<(Option<Tensor>, Option<Tensor>)> = starts
            .iter()
            .zip(&from_local)
            .map(|(&start, &from)| -> Result<_> {
                if seq == 1 {
                    return Ok((None, None));
                }
                Ok((
                    Some(attention_mask(start, seq, 0, None, &self.device)?),
                    Some(attention_mask(
                        start,
                        seq,
                        from,
                        Some(c.window()),
                        &self.device,
                    )?),
                ))
            })
            .collect::<Result<_>>()?;

        for (li, layer) in self.layers.iter().enumerate() {
            let residual = x.clone();
            let h = layer.attn_norm.forward(&x)?;
            let [q, k, v] = Linear::forward_all([&layer.q, &layer.k, &layer.v], &h)?;
            let heads = |x: Tensor, bias: &Option<Tensor>, n: usize| -> Result<Tensor> {
                add_bias(x, bias)?
                    .reshape((b, seq, n, c.head_dim))?
                    .transpose(1, 2)
            };
            let [qb, kb, vb] = &layer.bias;
            let mut q = heads(q, qb, c.heads)?;
            let mut k = heads(k, kb, c.kv_heads)?;
            if let Some((qn, kn)) = &layer.qk_norm {
                q = qn.forward(&q)?;
                k = kn.forward(&k)?;
            }
            let v = heads(v, vb, c.kv_heads)?;
            let out = if seq == 1 {
                self.decode_attention(li, layer.sliding, &from_local, (&q, &k, &v), shared, caches)?
            } else {
                self.prefill_attention(
                    li,
                    layer.sliding,
                    (&q, &k, &v),
                    shared,
                    caches,
                    &starts,
                    &from_local,
                    &masks,
                )?
            };
            let mut h = layer.o.forward(&out)?;
            if let Some((post_attn, _)) = &layer.post_norms {
                h = post_attn.forward(&h)?;
            }
            x = (h + residual)?;

            let residual = x.clone();
            let mut h = layer.mlp.forward(&layer.ffn_norm.forward(&x)?)?;
            if let Some((_, post_ffn)) = &layer.post_norms {
                h = post_ffn.forward(&h)?;
            }
            x = (h + residual)?;
        }
        for cache in caches.iter_mut() {
            cache.advance(seq);
        }

        let x = match which {
            Logits::Last => x.i((.., seq - 1, ..))?,
            Logits::All => x,
        };
        let x = self.norm.forward(&x)?;
        self.head.forward(&x)?.to_dtype(candle_core::DType::F32)
    }

    /// Attention for one new token per sequence, straight on the caches' buffers and
    /// spread over the worker pool by (sequence, KV head). Returns (b, 1, heads·hd).
    fn decode_attention(
        &self,
        li: usize,
        sliding: bool,
        from_local: &[usize],
        (q, k, v): (&Tensor, &Tensor, &Tensor),
        shared: Option<&KvCache>,
        caches: &mut [&mut KvCache],
    ) -> Result<Tensor> {
        let c = &self.cfg;
        let (b, hd, kvh) = (caches.len(), c.head_dim, c.kv_heads);
        let group = c.heads / kvh;
        let scale = (1.0 / (hd as f64).sqrt()) as f32;
        let rope = if sliding {
            &self.rope_local
        } else {
            &self.rope_global
        };
        let from = |i: usize| if sliding { from_local[i] } else { 0 };
        let mut qs: Vec<f32> = q.flatten_all()?.to_vec1()?;
        let mut ks: Vec<f32> = k.flatten_all()?.to_vec1()?;
        let vs: Vec<f32> = v.flatten_all()?.to_vec1()?;
        for (i, cache) in caches.iter_mut().enumerate() {
            let pos = cache.position();
            for head in qs[i * c.heads * hd..(i + 1) * c.heads * hd].chunks_exact_mut(hd) {
                rope.rotate(head, pos)?;
                head.iter_mut().for_each(|x| *x *= scale);
            }
            let kv = i * kvh * hd..(i + 1) * kvh * hd;
            for head in ks[kv.clone()].chunks_exact_mut(hd) {
                rope.rotate(head, pos)?;
            }
            cache.write_one(li, &ks[kv.clone()], &vs[kv])?;
        }
        let views: Vec<&KvCache> = caches.iter().map(|c| &**c).collect();
        let mut out = vec![0f32; b * c.heads * hd];
        let out_ptr = super::kernels::OutPtr(out.as_mut_ptr());
        candle_core::utils::barrier_pool().execute_chunked(b * kvh, |range| {
            let mut scores = Vec::new();
            for item in range {
                let (i, g) = (item / kvh, item % kvh);
                let own = views[i];
                let mut parts = Vec::with_capacity(2);
                if let Some(s) = shared
                    && from(i) < s.position()
                {
                    parts.push(s.rows(li, g, from(i).saturating_sub(s.base()), s.held()));
                }
                // The entry just written counts: the length advances after every layer.
                parts.push(own.rows(li, g, from(i).saturating_sub(own.base()), own.held() + 1));
                for r in 0..group {
                    let at = (i * c.heads + g * group + r) * hd;
                    // SAFETY: each (sequence, head) output row is written by exactly one
                    // item, and `out` outlives the pool call.
                    let o = unsafe { std::slice::from_raw_parts_mut(out_ptr.get().add(at), hd) };
                    super::kernels::attend_one(&qs[at..at + hd], &parts, o, &mut scores);
                }
            }
        });
        Tensor::from_vec(out, (b, 1, c.heads * hd), &self.device)
    }

    /// Attention for several new tokens of each sequence (prompts), with tensor ops.
    #[allow(clippy::too_many_arguments)]
    fn prefill_attention(
        &self,
        li: usize,
        sliding: bool,
        (q, k, v): (&Tensor, &Tensor, &Tensor),
        shared: Option<&KvCache>,
        caches: &mut [&mut KvCache],
        starts: &[usize],
        from_local: &[usize],
        masks: &[(Option<Tensor>, Option<Tensor>)],
    ) -> Result<Tensor> {
        let c = &self.cfg;
        let (b, seq) = (caches.len(), q.dim(2)?);
        let group = c.heads / c.kv_heads;
        let scale = 1.0 / (c.head_dim as f64).sqrt();
        let mut outs = Vec::with_capacity(b);
        for (i, cache) in caches.iter_mut().enumerate() {
            let (rope, from, mask) = if sliding {
                (&self.rope_local, from_local[i], &masks[i].1)
            } else {
                (&self.rope_global, 0, &masks[i].0)
            };
            let q = rope.apply(&q.narrow(0, i, 1)?, starts[i])?;
            let k = rope.apply(&k.narrow(0, i, 1)?, starts[i])?;
            let own = cache.append(li, &k, &v.narrow(0, i, 1)?, from)?;
            let mut parts = Vec::with_capacity(2);
            if let Some(s) = shared
                && let Some(kv) = s.visible(li, from)?
            {
                parts.push(kv);
            }
            parts.push(own);
            // Grouped-query attention without copying K/V per head: fold the query
            // heads that share a KV head into the row dimension.
            let q = (q * scale)?.reshape((1, c.kv_heads, group * seq, c.head_dim))?;
            outs.push(attend(&q, &parts, mask.as_ref(), (c.kv_heads, group, seq))?);
        }
        Tensor::cat(&outs, 0)? // (b, kv, group*seq, hd)
            .reshape((b, c.heads, seq, c.head_dim))?
            .transpose(1, 2)?
            .reshape((b, seq, c.heads * c.head_dim))
    }
}

/// Every tensor the model reads, checked against the shape the config implies before
/// any weight is read: a mismatch would otherwise fail deep inside a matrix product (or
/// index past a buffer), without saying which tensor of which file is wrong.
pub fn check_shapes(content: &gguf_file::Content, cfg: &Config) -> Result<()> {
    cfg.check()?;
    let dims = |name: &str| -> Result<Vec<usize>> {
        match content.tensor_infos.get(name) {
            Some(t) => Ok(t.shape.dims().to_vec()),
            None => candle_core::bail!("tensor `{name}` is missing"),
        }
    };
    let matrix = |name: &str, rows: Option<usize>, cols: usize| -> Result<usize> {
        let d = dims(name)?;
        match (d.as_slice(), rows) {
            ([r, c], Some(rows)) if *r == rows && *c == cols => Ok(rows),
            ([r, c], None) if *r > 0 && *c == cols => Ok(*r),
            _ => candle_core::bail!(
                "tensor `{name}` is {d:?}, expected [{}, {cols}] for this model's metadata",
                rows.map_or("rows".to_string(), |r| r.to_string())
            ),
        }
    };
    let vector = |name: &str, n: usize| -> Result<()> {
        let d = dims(name)?;
        let elements = d.iter().try_fold(1usize, |a, &x| a.checked_mul(x));
        if d.len() > 2 || elements != Some(n) {
            candle_core::bail!("tensor `{name}` is {d:?}, expected [{n}] for this model's metadata")
        }
        Ok(())
    };
    let (q_dim, kv_dim) = (cfg.heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim);
    let vocab = matrix("token_embd.weight", None, cfg.hidden)?;
    if content.tensor_infos.contains_key("output.weight") {
        matrix("output.weight", Some(vocab), cfg.hidden)?;
    }
    vector("output_norm.weight", cfg.hidden)?;
    if content.tensor_infos.contains_key("rope_freqs.weight") {
        vector("rope_freqs.weight", cfg.head_dim / 2)?;
    }
    for i in 0..cfg.layers {
        let n = |t: &str| format!("blk.{i}.{t}");
        matrix(&n("attn_q.weight"), Some(q_dim), cfg.hidden)?;
        matrix(&n("attn_k.weight"), Some(kv_dim), cfg.hidden)?;
        matrix(&n("attn_v.weight"), Some(kv_dim), cfg.hidden)?;
        matrix(&n("attn_output.weight"), Some(cfg.hidden), q_dim)?;
        let ffn = matrix(&n("ffn_gate.weight"), None, cfg.hidden)?;
        matrix(&n("ffn_up.weight"), Some(ffn), cfg.hidden)?;
        matrix(&n("ffn_down.weight"), Some(cfg.hidden), ffn)?;
        vector(&n("attn_norm.weight"), cfg.hidden)?;
        vector(&n("ffn_norm.weight"), cfg.hidden)?;
        if cfg.post_norms {
            vector(&n("post_attention_norm.weight"), cfg.hidden)?;
            vector(&n("post_ffw_norm.weight"), cfg.hidden)?;
        }
        if cfg.qk_norm {
            vector(&n("attn_q_norm.weight"), cfg.head_dim)?;
            vector(&n("attn_k_norm.weight"), cfg.head_dim)?;
        }
        if cfg.qkv_bias {
            vector(&n("attn_q.bias"), q_dim)?;
            vector(&n("attn_k.bias"), kv_dim)?;
            vector(&n("attn_v.bias"), kv_dim)?;
        }
    }
    Ok(())
}

/// Softmax attention of `q` (1, kv, group·seq, hd) over keys/values given in parts (the
/// shared prefix, then the sequence's own), as if they were one run of positions.
fn attend(
    q: &Tensor,
    parts: &[(Tensor, Tensor)],
    mask: Option<&Tensor>,
    (kv, group, seq): (usize, usize, usize),
) -> Result<Tensor> {
    let scores: Vec<Tensor> = parts
        .iter()
        .map(|(k, _)| q.matmul(&k.t()?))
        .collect::<Result<_>>()?;
    let mut att = if scores.len() == 1 {
        scores[0].clone()
    } else {
        Tensor::cat(&scores, 3)?
    };
    let keys = att.dim(3)?;
    if let Some(mask) = mask {
        att = att
            .reshape((1, kv, group, seq, keys))?
            .broadcast_add(mask)?
            .reshape((1, kv, group * seq, keys))?;
    }
    let att = candle_nn::ops::softmax_last_dim(&att)?;
    let mut out: Option<Tensor> = None;
    let mut offset = 0;
    for (_, v) in parts {
        let n = v.dim(2)?;
        let a = if parts.len() == 1 {
            att.clone()
        } else {
            att.narrow(3, offset, n)?.contiguous()?
        };
        let o = a.matmul(&v.contiguous()?)?;
        out = Some(match out {
            None => o,
            Some(acc) => (acc + o)?,
        });
        offset += n;
    }
    out.ok_or_else(|| candle_core::Error::msg("attention over no keys"))
}
