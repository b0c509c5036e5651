//! Gemma 3 (text), quantized GGUF weights.
//!
//! Written for anuvad rather than taken from candle-transformers 0.11.1, whose
//! `quantized_gemma3` is wrong for these models: it uses SiLU where Gemma 3 uses GELU
//! (tanh), does not apply the sliding window in one-token decode steps (and admits 513
//! keys in prefill), cannot prefill several tokens after a cached prefix, builds 131k-
//! position RoPE tables per layer and dequantizes the token embedding to F32 (3.5 GiB).
//! This file is pinned to llama.cpp on the same GGUF by tests/gemma3_parity.rs.
//!
//! Layout per layer: RMSNorm → attention (Q/K RMSNorm, RoPE, GQA) → RMSNorm → residual;
//! RMSNorm → GELU-gated MLP → RMSNorm → residual. Five of every six layers attend over a
//! sliding window (RoPE base 10k); every sixth is global (RoPE base 1M, optional linear
//! scaling). Embeddings are scaled by sqrt(hidden); the output head is tied to them.

use super::{KvCache, Linear, Meta, RmsNorm, Rope, Weights, attention_mask};
use candle_core::quantized::gguf_file;
use candle_core::{Device, IndexOp, Result, Tensor};
use std::io::{Read, Seek};

/// Longest run of prompt tokens computed in one pass (see `Model::forward`).
const PROMPT_PIECE: usize = 512;

#[derive(Debug, Clone)]
pub struct Config {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub rms_eps: f64,
    pub sliding_window: usize,
    /// Every `sliding_pattern`-th layer is global; the others slide.
    pub sliding_pattern: usize,
    pub rope_base_global: f32,
    pub rope_base_local: f32,
    pub rope_scale_global: f32,
    pub context: usize,
}

impl Config {
    pub fn from_gguf(content: &gguf_file::Content) -> Result<Self> {
        let m = Meta {
            content,
            arch: "gemma3",
        };
        let heads = m.usize("attention.head_count")?;
        let hidden = m.usize("embedding_length")?;
        Ok(Config {
            hidden,
            layers: m.usize("block_count")?,
            heads,
            kv_heads: m.usize("attention.head_count_kv")?,
            head_dim: m.usize_or("attention.key_length", hidden / heads)?,
            rms_eps: m.f32_or("attention.layer_norm_rms_epsilon", 1e-6)? as f64,
            sliding_window: m.usize_or("attention.sliding_window", 512)?,
            sliding_pattern: m.usize_or("attention.sliding_window_pattern", 6)?.max(1),
            rope_base_global: m.f32_or("rope.freq_base", 1_000_000.0)?,
            rope_base_local: m.f32_or("rope.local_freq_base", 10_000.0)?,
            rope_scale_global: m.f32_or("rope.scaling.factor", 1.0)?,
            context: m.usize_or("context_length", 32768)?,
        })
    }

    fn is_sliding(&self, layer: usize) -> bool {
        !(layer + 1).is_multiple_of(self.sliding_pattern)
    }
}

struct Mlp {
    gate: Linear,
    up: Linear,
    down: Linear,
}

impl Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // GELU with the tanh approximation (candle's `gelu`), as Gemma 3 and llama.cpp use.
        let gate = self.gate.forward(x)?.gelu()?;
        self.down.forward(&(gate * self.up.forward(x)?)?)
    }
}

struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    q_norm: RmsNorm,
    k_norm: RmsNorm,
    attn_norm: RmsNorm,
    post_attn_norm: RmsNorm,
    ffn_norm: RmsNorm,
    post_ffn_norm: RmsNorm,
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
    rope_local: Rope,
    rope_global: Rope,
    device: Device,
}

impl Model {
    /// Load from GGUF. `positions` is how many positions this run will use (KV cache and
    /// RoPE tables are sized to it, not to the model's trained context).
    pub fn load<R: Read + Seek>(
        content: &gguf_file::Content,
        reader: &mut R,
        device: &Device,
        positions: usize,
    ) -> Result<Self> {
        let cfg = Config::from_gguf(content)?;
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
            };
            let mut norm = |n: &str| w.rms_norm(&format!("{p}.{n}.weight"), cfg.rms_eps);
            layers.push(Layer {
                q,
                k,
                v,
                o,
                q_norm: norm("attn_q_norm")?,
                k_norm: norm("attn_k_norm")?,
                attn_norm: norm("attn_norm")?,
                post_attn_norm: norm("post_attention_norm")?,
                ffn_norm: norm("ffn_norm")?,
                post_ffn_norm: norm("post_ffw_norm")?,
                mlp,
                sliding: cfg.is_sliding(i),
            });
        }
        let norm = w.rms_norm("output_norm.weight", cfg.rms_eps)?;
        let positions = positions.min(cfg.context).max(1);
        let rope_local = Rope::new(cfg.head_dim, cfg.rope_base_local, 1.0, positions, device)?;
        let rope_global = Rope::new(
            cfg.head_dim,
            cfg.rope_base_global,
            cfg.rope_scale_global,
            positions,
            device,
        )?;
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

    /// A KV cache for one sequence of up to the positions this model was loaded for.
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
        x = (x * (c.hidden as f64).sqrt())?;

        // Per sequence: where it starts, and which keys its queries see. Global layers see
        // everything before; sliding layers only the last `window` positions before the
        // first new query (and the mask narrows that per query).
        let starts: Vec<usize> = caches.iter().map(|c| c.position()).collect();
        let from_local: Vec<usize> = starts
            .iter()
            .map(|s| (s + 1).saturating_sub(c.sliding_window))
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
                        Some(c.sliding_window),
                        &self.device,
                    )?),
                ))
            })
            .collect::<Result<_>>()?;

        for (li, layer) in self.layers.iter().enumerate() {
            let residual = x.clone();
            let h = layer.attn_norm.forward(&x)?;
            let heads = |lin: &Linear, n: usize| -> Result<Tensor> {
                lin.forward(&h)?
                    .reshape((b, seq, n, c.head_dim))?
                    .transpose(1, 2)
            };
            let q = layer.q_norm.forward(&heads(&layer.q, c.heads)?)?;
            let k = layer.k_norm.forward(&heads(&layer.k, c.kv_heads)?)?;
            let v = heads(&layer.v, c.kv_heads)?;
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
            let h = layer.o.forward(&out)?;
            let h = layer.post_attn_norm.forward(&h)?;
            x = (h + residual)?;

            let residual = x.clone();
            let h = layer.ffn_norm.forward(&x)?;
            let h = layer.mlp.forward(&h)?;
            let h = layer.post_ffn_norm.forward(&h)?;
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
