//! Model families, one per file (candle-transformers' habit): plain structs with `load`
//! and `forward`. Pieces several families share live here: RMS norm, rotary tables and
//! the preallocated KV cache that lets a prompt prefix be computed once and reused.

pub mod gemma3;
pub mod kernels;
pub mod llama;
pub mod marian;
pub mod qwen2;
pub mod qwen3;
pub mod transformer;

use candle_core::quantized::{GgmlDType, QStorage, QTensor, gguf_file};
use candle_core::{D, DType, Device, Result, Tensor};
use std::io::{Read, Seek};
use std::sync::Arc;

/// Reads GGUF tensors by name, adding the tensor name to any error.
pub struct Weights<'a, R: Read + Seek> {
    pub content: &'a gguf_file::Content,
    pub reader: &'a mut R,
    pub device: &'a Device,
}

impl<R: Read + Seek> Weights<'_, R> {
    /// A weight matrix by name.
    pub fn linear(&mut self, name: &str) -> Result<Linear> {
        Linear::new(Arc::new(self.get(name)?))
    }

    pub fn get(&mut self, name: &str) -> Result<QTensor> {
        let t = self
            .content
            .tensor(self.reader, name, self.device)
            .map_err(|e| candle_core::Error::msg(format!("tensor `{name}`: {e}")))?;
        if t.dtype() == GgmlDType::Q5_0 {
            return q5_0_to_q8_0(&t, self.device);
        }
        Ok(t)
    }

    pub fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// A norm weight, dequantized to F32 (norm weights are tiny).
    pub fn rms_norm(&mut self, name: &str, eps: f64) -> Result<RmsNorm> {
        let weight = self.vector(name)?;
        Ok(RmsNorm { weight, eps })
    }

    /// A small 1-D tensor (a norm weight or a bias), dequantized to F32.
    pub fn vector(&mut self, name: &str) -> Result<Tensor> {
        self.get(name)?.dequantize(self.device)?.flatten_all()
    }
}

/// Re-encode a Q5_0 tensor as Q8_0, exactly. candle 0.11 has no SIMD kernel for Q5_0
/// (a scalar loop took 80% of decode time on the default model) but an AVX one for
/// Q8_0; both multiply against Q8_0-quantized activations, so results do not change.
/// A Q5_0 value is d·(q−16) with q in 0..32; as Q8_0 it is (d/4)·(4(q−16)), whose
/// integers lie in −64..60 and whose scale d/4 is exact in f16 (barring subnormals).
pub fn q5_0_to_q8_0(t: &QTensor, device: &Device) -> Result<QTensor> {
    const Q5: usize = 22; // f16 scale, 4 bytes of high bits, 16 bytes of low nibbles
    const Q8: usize = 34; // f16 scale, 32 signed bytes
    let src = t.data()?;
    if src.len() % Q5 != 0 {
        candle_core::bail!("Q5_0 tensor of {} bytes is not whole blocks", src.len());
    }
    let mut out = vec![0u8; src.len() / Q5 * Q8];
    for (b, o) in src.chunks_exact(Q5).zip(out.chunks_exact_mut(Q8)) {
        let d = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
        o[..2].copy_from_slice(&half::f16::from_f32(d / 4.0).to_le_bytes());
        let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
        for j in 0..16 {
            let lo = (b[6 + j] & 0x0F) | ((((qh >> j) & 1) as u8) << 4);
            let hi = (b[6 + j] >> 4) | ((((qh >> (j + 16)) & 1) as u8) << 4);
            o[2 + j] = ((lo as i8 - 16) * 4) as u8;
            o[2 + j + 16] = ((hi as i8 - 16) * 4) as u8;
        }
    }
    let storage = QStorage::from_data(std::borrow::Cow::Owned(out), device, GgmlDType::Q8_0)?;
    QTensor::new(storage, t.shape().clone())
}

/// A weight matrix, multiplied by the fastest kernel this CPU has for it:
/// - Q8_0 weights (and Q5_0, re-encoded exactly as Q8_0 when read) are repacked at load
///   into `kernels::PackedQ8`, whose tile runs on every instruction set (AVX-512 VNNI,
///   AVX2, NEON, portable); the GGML copy is dropped, so there is one copy in memory;
/// - the k-quants (Q4_K, Q5_K, Q6_K) and the rest go through candle's `QMatMul`, whose
///   own kernels are llama.cpp's per-row dot products.
///
/// Results for one input row never depend on how many rows come with it (a sequence in a
/// decode batch gets the logits it would get alone): the packed kernel and candle's x86
/// Q4_K kernels guarantee it; candle's Q6_K takes another kernel for one row than for
/// several, so a single row is run as two, and on aarch64 decode batches of k-quants go
/// row by row (tested below, and under qemu by scripts/test-aarch64.sh).
pub enum Linear {
    Packed(kernels::PackedQ8),
    Candle(candle_core::quantized::QMatMul),
}

impl Linear {
    pub fn new(t: Arc<QTensor>) -> Result<Self> {
        if t.dtype() == GgmlDType::Q8_0 && t.shape().rank() == 2 {
            let (rows, cols) = t.shape().dims2()?;
            return Ok(Linear::Packed(kernels::PackedQ8::from_q8_0(
                &t.data()?,
                rows,
                cols,
            )));
        }
        Ok(Linear::Candle(candle_core::quantized::QMatMul::from_arc(
            t,
        )?))
    }

    /// x: (..., cols) → (..., rows).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let cols = x.dim(D::Minus1)?;
        let n = x.elem_count() / cols.max(1);
        match self {
            Linear::Packed(w) => {
                let xs: Vec<f32> = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
                let mut out = vec![0f32; n * w.rows()];
                w.matmul(&kernels::Q8Rows::quantize(&xs, cols), &mut out);
                Tensor::from_vec(out, out_dims(x, w.rows()), x.device())
            }
            // candle's NEON k-quant kernels take groups of four rows with other
            // roundings than one row (found under qemu): decode batches go row by row.
            Linear::Candle(mm) if cfg!(target_arch = "aarch64") && n > 1 && n <= 64 => {
                let x2 = x.reshape((n, cols))?;
                let rows: Vec<Tensor> = (0..n)
                    .map(|i| self.forward(&x2.narrow(0, i, 1)?))
                    .collect::<Result<_>>()?;
                let out = Tensor::cat(&rows, 0)?;
                let width = out.dim(1)?;
                out.reshape(out_dims(x, width))
            }
            Linear::Candle(mm) if n == 1 && one_row_differs(mm) => {
                let row = x.reshape((1, cols))?;
                let two = candle_core::Module::forward(mm, &Tensor::cat(&[&row, &row], 0)?)?;
                let rows = two.dim(1)?;
                two.narrow(0, 0, 1)?.reshape(out_dims(x, rows))
            }
            Linear::Candle(mm) => candle_core::Module::forward(mm, x),
        }
    }

    /// Rows `ids` of the matrix, dequantized: the embedding lookup of a tied head.
    pub fn embedding(&self, ids: &Tensor) -> Result<Tensor> {
        match self {
            Linear::Packed(w) => {
                let mut dims = ids.dims().to_vec();
                dims.push(w.cols());
                let ids: Vec<u32> = ids.flatten_all()?.to_vec1()?;
                let mut out = vec![0f32; ids.len() * w.cols()];
                for (id, row) in ids.iter().zip(out.chunks_exact_mut(w.cols())) {
                    if *id as usize >= w.rows() {
                        candle_core::bail!(
                            "token id {id} is outside the {}-row embedding",
                            w.rows()
                        )
                    }
                    w.row(*id as usize, row);
                }
                Tensor::from_vec(out, dims, &Device::Cpu)
            }
            Linear::Candle(mm) => mm.embedding(ids),
        }
    }
}

fn one_row_differs(mm: &candle_core::quantized::QMatMul) -> bool {
    matches!(mm, candle_core::quantized::QMatMul::QTensor(t) if t.dtype() == GgmlDType::Q6K)
}

fn out_dims(x: &Tensor, rows: usize) -> Vec<usize> {
    let mut dims = x.dims().to_vec();
    *dims.last_mut().expect("rank >= 1") = rows;
    dims
}

/// Metadata lookups under an architecture prefix (`gemma3.block_count` …).
pub struct Meta<'a> {
    pub content: &'a gguf_file::Content,
    pub arch: &'a str,
}

impl Meta<'_> {
    fn value(&self, key: &str) -> Result<&gguf_file::Value> {
        let full = format!("{}.{key}", self.arch);
        self.content
            .metadata
            .get(&full)
            .ok_or_else(|| candle_core::Error::msg(format!("GGUF metadata `{full}` is missing")))
    }
    pub fn usize(&self, key: &str) -> Result<usize> {
        Ok(self.value(key)?.to_u32()? as usize)
    }
    pub fn f32_or(&self, key: &str, default: f32) -> Result<f32> {
        match self.value(key) {
            Ok(v) => v.to_f32(),
            Err(_) => Ok(default),
        }
    }
    pub fn usize_or(&self, key: &str, default: usize) -> Result<usize> {
        match self.value(key) {
            Ok(v) => Ok(v.to_u32()? as usize),
            Err(_) => Ok(default),
        }
    }
    /// Linear RoPE scaling of the model, 1.0 when there is none; other kinds of scaling
    /// (YaRN, …) would change every position, so they are refused rather than ignored.
    pub fn linear_rope_scale(&self) -> Result<f32> {
        let kind = match self.value("rope.scaling.type") {
            Ok(v) => v.to_string()?.clone(),
            Err(_) => "linear".to_string(),
        };
        let factor = self.f32_or("rope.scaling.factor", 1.0)?;
        match kind.as_str() {
            "none" => Ok(1.0),
            "linear" => Ok(factor),
            _ if factor == 1.0 => Ok(1.0),
            other => candle_core::bail!(
                "GGUF metadata `{}.rope.scaling.type` is `{other}`, which this engine does not implement (linear only)",
                self.arch
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::rms_norm(&x.contiguous()?, &self.weight, self.eps as f32)
    }
}

/// Which elements of a head RoPE rotates together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeLayout {
    /// Element i with element i + head_dim/2 (GPT-NeoX; Gemma, Qwen).
    Neox,
    /// Element 2i with element 2i + 1 (llama.cpp's "normal" RoPE; Llama GGUFs, whose Q
    /// and K rows the converter permuted to match).
    Interleaved,
}

/// cos/sin tables for rotary embeddings, built once for the positions in use (not the
/// model's full trained context: 131k positions per layer cost gigabytes).
#[derive(Debug, Clone)]
pub struct Rope {
    layout: RopeLayout,
    cos: Tensor,
    sin: Tensor,
    /// The same tables as plain rows (positions × head_dim/2), for decode steps.
    cos_rows: Vec<f32>,
    sin_rows: Vec<f32>,
}

impl Rope {
    /// `scale` divides positions (linear RoPE scaling); 1.0 = none. `factors`, when
    /// given, divide each frequency (Llama 3's `rope_freqs`).
    pub fn new(
        head_dim: usize,
        base: f32,
        scale: f32,
        factors: Option<&[f32]>,
        layout: RopeLayout,
        positions: usize,
        dev: &Device,
    ) -> Result<Self> {
        let inv: Vec<f32> = (0..head_dim)
            .step_by(2)
            .enumerate()
            .map(|(k, i)| {
                let f = 1.0 / base.powf(i as f32 / head_dim as f32);
                factors.map_or(f, |d| f / d[k])
            })
            .collect();
        let half = inv.len();
        let mut cos = Vec::with_capacity(positions * half);
        let mut sin = Vec::with_capacity(positions * half);
        for p in 0..positions {
            for f in &inv {
                let a = p as f32 / scale * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        Ok(Rope {
            layout,
            cos: Tensor::from_vec(cos.clone(), (positions, half), dev)?,
            sin: Tensor::from_vec(sin.clone(), (positions, half), dev)?,
            cos_rows: cos,
            sin_rows: sin,
        })
    }

    /// Rotate one head vector `x` (head_dim) in place for position `pos`, exactly as
    /// `apply` (candle's `rope`) does.
    pub fn rotate(&self, x: &mut [f32], pos: usize) -> Result<()> {
        let half = x.len() / 2;
        if pos >= self.positions() {
            candle_core::bail!(
                "position {pos} is past the {} positions prepared for this run",
                self.positions()
            )
        }
        let cos = &self.cos_rows[pos * half..(pos + 1) * half];
        let sin = &self.sin_rows[pos * half..(pos + 1) * half];
        let pair = |i: usize| match self.layout {
            RopeLayout::Neox => (i, i + half),
            RopeLayout::Interleaved => (2 * i, 2 * i + 1),
        };
        for i in 0..half {
            let (l, h) = pair(i);
            let (a, b) = (x[l], x[h]);
            x[l] = a * cos[i] - b * sin[i];
            x[h] = a * sin[i] + b * cos[i];
        }
        Ok(())
    }

    pub fn positions(&self) -> usize {
        self.cos.dim(0).unwrap_or(0)
    }

    /// x: (batch, heads, seq, head_dim), rotated for positions start..start+seq.
    pub fn apply(&self, x: &Tensor, start: usize) -> Result<Tensor> {
        let seq = x.dim(2)?;
        if start + seq > self.positions() {
            candle_core::bail!(
                "position {} is past the {} positions prepared for this run",
                start + seq,
                self.positions()
            )
        }
        let cos = self.cos.narrow(0, start, seq)?;
        let sin = self.sin.narrow(0, start, seq)?;
        match self.layout {
            RopeLayout::Neox => candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin),
            RopeLayout::Interleaved => candle_nn::rotary_emb::rope_i(&x.contiguous()?, &cos, &sin),
        }
    }
}

/// Preallocated per-layer key/value buffers for one sequence, written in place.
/// `truncate` rewinds to a shorter length, which is how a shared prompt prefix is reused:
/// compute it once, then rewind to its end before each chunk.
///
/// A cache can also continue another one (`base` > 0): it holds positions base.. of one
/// sequence whose first `base` positions live in a shared cache (the prompt prefix), so
/// several chunks decoded together share one copy of the prefix's keys and values.
///
/// Plain buffers rather than tensors: decode steps read and write them directly
/// (`kernels::attend_one`), without a tensor operation per sequence and layer.
#[derive(Debug, Clone)]
pub struct KvCache {
    /// Per layer: kv_heads × capacity × head_dim.
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    kv_heads: usize,
    head_dim: usize,
    len: usize,
    capacity: usize,
    base: usize,
}

impl KvCache {
    pub fn new(layers: usize, kv_heads: usize, head_dim: usize, capacity: usize) -> Self {
        let mk = || vec![0f32; kv_heads * capacity * head_dim];
        KvCache {
            k: (0..layers).map(|_| mk()).collect(),
            v: (0..layers).map(|_| mk()).collect(),
            kv_heads,
            head_dim,
            len: 0,
            capacity,
            base: 0,
        }
    }

    /// An empty cache of the same shape for `capacity` positions continuing `shared`.
    pub fn continuing(shared: &KvCache, capacity: usize) -> Self {
        let mut c = KvCache::new(shared.k.len(), shared.kv_heads, shared.head_dim, capacity);
        c.base = shared.base + shared.len;
        c
    }

    /// Entries held here (not counting a shared prefix).
    pub fn held(&self) -> usize {
        self.len
    }

    /// Position of the next token: the shared prefix's length plus the entries held here.
    pub fn position(&self) -> usize {
        self.base + self.len
    }

    /// Positions before this cache's first entry, held by the cache it continues.
    pub fn base(&self) -> usize {
        self.base
    }

    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    fn check_room(&self, seq: usize) -> Result<()> {
        if self.len + seq > self.capacity {
            candle_core::bail!(
                "KV cache full: {} + {} tokens exceed the {} reserved for this run",
                self.len,
                seq,
                self.capacity
            )
        }
        Ok(())
    }

    /// Store `k`, `v` (1, kv_heads, seq, head_dim) of `layer` at the current length and
    /// return the keys/values held here from position `from` (absolute) to the new end,
    /// as (1, kv_heads, n, head_dim) tensors. The length itself advances in `advance`,
    /// once per forward pass, after every layer has written.
    pub fn append(
        &mut self,
        layer: usize,
        k: &Tensor,
        v: &Tensor,
        from: usize,
    ) -> Result<(Tensor, Tensor)> {
        let seq = k.dim(2)?;
        self.check_room(seq)?;
        let (hd, cap) = (self.head_dim, self.capacity);
        for (buf, t) in [(&mut self.k[layer], k), (&mut self.v[layer], v)] {
            let data: Vec<f32> = t.flatten_all()?.to_vec1()?;
            for (h, rows) in data.chunks_exact(seq * hd).enumerate() {
                let at = (h * cap + self.len) * hd;
                buf[at..at + seq * hd].copy_from_slice(rows);
            }
        }
        let end = self.len + seq;
        let from = from.saturating_sub(self.base).min(end);
        Ok((
            self.range(&self.k[layer], from, end)?,
            self.range(&self.v[layer], from, end)?,
        ))
    }

    /// Keys/values of `layer` held here from position `from` (absolute) to the end, or
    /// None when none of them are visible.
    pub fn visible(&self, layer: usize, from: usize) -> Result<Option<(Tensor, Tensor)>> {
        let from = from.saturating_sub(self.base);
        if from >= self.len {
            return Ok(None);
        }
        Ok(Some((
            self.range(&self.k[layer], from, self.len)?,
            self.range(&self.v[layer], from, self.len)?,
        )))
    }

    fn range(&self, buf: &[f32], from: usize, to: usize) -> Result<Tensor> {
        let (hd, n) = (self.head_dim, to - from);
        let mut out = Vec::with_capacity(self.kv_heads * n * hd);
        for h in 0..self.kv_heads {
            let at = (h * self.capacity + from) * hd;
            out.extend_from_slice(&buf[at..at + n * hd]);
        }
        Tensor::from_vec(out, (1, self.kv_heads, n, hd), &Device::Cpu)
    }

    /// Decode steps: store one position's keys and values (kv_heads × head_dim each) at
    /// the current length.
    pub fn write_one(&mut self, layer: usize, k: &[f32], v: &[f32]) -> Result<()> {
        self.check_room(1)?;
        let (hd, cap) = (self.head_dim, self.capacity);
        for h in 0..self.kv_heads {
            let at = (h * cap + self.len) * hd;
            self.k[layer][at..at + hd].copy_from_slice(&k[h * hd..(h + 1) * hd]);
            self.v[layer][at..at + hd].copy_from_slice(&v[h * hd..(h + 1) * hd]);
        }
        Ok(())
    }

    /// Keys and values of KV head `h` of `layer` for local entries `from..to`, as
    /// (to - from) × head_dim row-major slices.
    pub fn rows(&self, layer: usize, h: usize, from: usize, to: usize) -> (&[f32], &[f32]) {
        let hd = self.head_dim;
        let at = h * self.capacity * hd;
        (
            &self.k[layer][at + from * hd..at + to * hd],
            &self.v[layer][at + from * hd..at + to * hd],
        )
    }

    pub fn advance(&mut self, seq: usize) {
        self.len += seq;
    }
}

/// Additive attention mask (rows: `seq` new queries at positions start..; columns: keys
/// from `from` to start+seq): 0 where a query may attend, -inf elsewhere. `window` limits
/// how far back a query sees (sliding-window attention): key j is visible from query i
/// when j <= i and i - j < window.
pub fn attention_mask(
    start: usize,
    seq: usize,
    from: usize,
    window: Option<usize>,
    dev: &Device,
) -> Result<Tensor> {
    let keys = start + seq - from;
    let mut m = vec![0f32; seq * keys];
    for r in 0..seq {
        let i = start + r;
        for c in 0..keys {
            let j = from + c;
            let visible = j <= i && window.is_none_or(|w| i - j < w);
            if !visible {
                m[r * keys + c] = f32::NEG_INFINITY;
            }
        }
    }
    Tensor::from_vec(m, (seq, keys), dev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q5_0_becomes_q8_0_without_changing_a_value() {
        let dev = Device::Cpu;
        let values: Vec<f32> = (0..256)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let x = Tensor::from_vec(values, (4, 64), &dev).unwrap();
        let q5 = QTensor::quantize(&x, GgmlDType::Q5_0).unwrap();
        let q8 = q5_0_to_q8_0(&q5, &dev).unwrap();
        assert_eq!(q8.dtype(), GgmlDType::Q8_0);
        let dequantized = |q: &QTensor| -> Vec<f32> {
            q.dequantize(&dev)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        let (a, b) = (dequantized(&q5), dequantized(&q8));
        assert_eq!(a, b);
    }

    #[test]
    fn a_row_gets_the_same_product_alone_or_with_others() {
        let dev = Device::Cpu;
        for (dtype, rows, cols) in [
            (GgmlDType::Q8_0, 96, 640),
            (GgmlDType::Q4K, 64, 1024),
            (GgmlDType::Q6K, 64, 2048),
        ] {
            let w: Vec<f32> = (0..rows * cols)
                .map(|i| ((i * 7919 % 1013) as f32 - 506.0) / 300.0)
                .collect();
            let t = Tensor::from_vec(w, (rows, cols), &dev).unwrap();
            let lin = Linear::new(Arc::new(QTensor::quantize(&t, dtype).unwrap())).unwrap();
            let m = 9;
            let x: Vec<f32> = (0..m * cols)
                .map(|i| ((i * 31 % 97) as f32 - 48.0) / 10.0)
                .collect();
            let x = Tensor::from_vec(x, (m, cols), &dev).unwrap();
            let together: Vec<Vec<f32>> = lin.forward(&x).unwrap().to_vec2().unwrap();
            for (i, want) in together.iter().enumerate() {
                let alone: Vec<Vec<f32>> = lin
                    .forward(&x.narrow(0, i, 1).unwrap())
                    .unwrap()
                    .to_vec2()
                    .unwrap();
                assert_eq!(&alone[0], want, "{dtype:?}: row {i} alone differs");
            }
        }
    }

    #[test]
    fn sliding_window_mask_admits_exactly_window_keys() {
        let m = attention_mask(10, 2, 0, Some(4), &Device::Cpu).unwrap();
        let rows: Vec<Vec<f32>> = m.to_vec2().unwrap();
        let visible = |r: &Vec<f32>| r.iter().filter(|v| v.is_finite()).count();
        assert_eq!(visible(&rows[0]), 4, "query 10 sees keys 7..=10");
        assert!(rows[0][7].is_finite() && !rows[0][6].is_finite() && !rows[0][11].is_finite());
        assert_eq!(visible(&rows[1]), 4, "query 11 sees keys 8..=11");
    }
}
