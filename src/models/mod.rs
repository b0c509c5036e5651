//! Model families, one per file (candle-transformers' habit): plain structs with `load`
//! and `forward`. Pieces several families share live here: RMS norm, rotary tables and
//! the preallocated KV cache that lets a prompt prefix be computed once and reused.

pub mod gemma3;
pub mod kernels;
pub mod llama;
pub mod marian;
pub mod pickle;
pub mod qwen2;
pub mod qwen3;
pub mod transformer;

use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
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
            .map_err(|e| candle_core::Error::msg(format!("tensor `{name}`: {e}")))
    }

    pub fn get(&mut self, name: &str) -> Result<QTensor> {
        self.content
            .tensor(self.reader, name, self.device)
            .map_err(|e| candle_core::Error::msg(format!("tensor `{name}`: {e}")))
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

/// A weight matrix, multiplied by the fastest kernel this CPU has for it:
/// - quantized weights (Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K: what decoder GGUFs hold) are
///   repacked at load into `kernels::PackedQ`, whose tiles run on every instruction set
///   (AVX-512 VNNI, AVX2, NEON, portable); the GGML copy is dropped, so the weights are
///   in memory once, at the file's size;
/// - float weights (F32, F16, BF16) into `kernels::PackedF32` tiles, as f32;
/// - the rest (Q2_K, Q3_K, Q4_1, …: types no card's model uses) go through candle's
///   `QMatMul`, whose products may differ for one row alone and in a batch.
///
/// Results for one input row never depend on how many rows come with it (a sequence in a
/// decode batch gets the logits it would get alone): our kernels guarantee it (tested
/// below).
pub enum Linear {
    Packed(kernels::PackedQ),
    F32(kernels::PackedF32),
    Candle(candle_core::quantized::QMatMul),
}

impl Linear {
    pub fn new(t: Arc<QTensor>) -> Result<Self> {
        let kind = match t.dtype() {
            GgmlDType::Q8_0 => Some(kernels::Kind::Q8_0),
            GgmlDType::Q4_0 => Some(kernels::Kind::Q4_0),
            GgmlDType::Q5_0 => Some(kernels::Kind::Q5_0),
            GgmlDType::Q4K => Some(kernels::Kind::Q4K),
            GgmlDType::Q5K => Some(kernels::Kind::Q5K),
            GgmlDType::Q6K => Some(kernels::Kind::Q6K),
            _ => None,
        };
        if let (Some(kind), 2) = (kind, t.shape().rank()) {
            let (rows, cols) = t.shape().dims2()?;
            let packed = kernels::PackedQ::from_ggml(kind, &t.data()?, rows, cols)
                .map_err(|e| candle_core::Error::msg(e.0))?;
            return Ok(Linear::Packed(packed));
        }
        if let (GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16, 2) =
            (t.dtype(), t.shape().rank())
        {
            let (rows, cols) = t.shape().dims2()?;
            let w: Vec<f32> = t.dequantize(&Device::Cpu)?.flatten_all()?.to_vec1()?;
            return Ok(Linear::F32(kernels::PackedF32::new(&w, rows, cols)));
        }
        Ok(Linear::Candle(candle_core::quantized::QMatMul::from_arc(
            t,
        )?))
    }

    /// x: (..., cols) → (..., rows).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Linear::Packed(_) => Self::forward_all([self], x).map(|[y]| y),
            Linear::F32(w) => through(x, w.rows(), |xs, out| w.matmul(xs, out)),
            Linear::Candle(mm) => candle_core::Module::forward(mm, x),
        }
    }

    /// One input through several matrices (Q/K/V, gate/up): the input is read out of
    /// its tensor once and quantized once per activation format, not once per matrix.
    /// Same results as `forward` on each, bit for bit.
    pub fn forward_all<const N: usize>(lins: [&Linear; N], x: &Tensor) -> Result<[Tensor; N]> {
        let mut outs = Vec::with_capacity(N);
        if lins.iter().all(|l| matches!(l, Linear::Packed(_))) {
            let xs: Vec<f32> = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
            let n = xs.len() / x.dim(D::Minus1)?.max(1);
            // At most two activation formats (per 32 and per 256 values), each made once.
            let mut made: [Option<kernels::Q8Rows>; 2] = [None, None];
            for w in lins.iter().filter_map(|l| match l {
                Linear::Packed(w) => Some(w),
                _ => None,
            }) {
                let q = made[w.k_activations() as usize].get_or_insert_with(|| w.quantize(&xs));
                let mut out = vec![0f32; n * w.rows()];
                w.matmul(q, &mut out);
                outs.push(Tensor::from_vec(out, out_dims(x, w.rows()), x.device())?);
            }
        } else {
            for lin in lins {
                outs.push(lin.forward(x)?);
            }
        }
        outs.try_into()
            .map_err(|_| candle_core::Error::msg("forward_all: one output per matrix"))
    }

    /// Rows `ids` of the matrix, dequantized: the embedding lookup of a tied head.
    pub fn embedding(&self, ids: &Tensor) -> Result<Tensor> {
        type RowFn<'a> = &'a dyn Fn(usize, &mut [f32]);
        let (rows, cols, row): (usize, usize, RowFn) = match self {
            Linear::Packed(w) => (w.rows(), w.cols(), &|r, o| w.row(r, o)),
            Linear::F32(w) => (w.rows(), w.cols(), &|r, o| w.row(r, o)),
            Linear::Candle(mm) => return mm.embedding(ids),
        };
        let mut dims = ids.dims().to_vec();
        dims.push(cols);
        let ids: Vec<u32> = ids.flatten_all()?.to_vec1()?;
        let mut out = vec![0f32; ids.len() * cols];
        for (id, o) in ids.iter().zip(out.chunks_exact_mut(cols)) {
            if *id as usize >= rows {
                candle_core::bail!("token id {id} is outside the {rows}-row embedding")
            }
            row(*id as usize, o);
        }
        Tensor::from_vec(out, dims, &Device::Cpu)
    }
}

/// x: (..., cols) → (..., rows) through one of our kernels, `product(x's values, out)`.
fn through(x: &Tensor, rows: usize, product: impl FnOnce(&[f32], &mut [f32])) -> Result<Tensor> {
    let xs: Vec<f32> = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
    let n = xs.len() / x.dim(D::Minus1)?.max(1);
    let mut out = vec![0f32; n * rows];
    product(&xs, &mut out);
    Tensor::from_vec(out, out_dims(x, rows), x.device())
}

fn out_dims(x: &Tensor, rows: usize) -> Vec<usize> {
    let mut dims = x.dims().to_vec();
    *dims.last_mut().expect("rank >= 1") = rows;
    dims
}

/// Metadata lookups under an architecture prefix (`gemma3.block_count` …). The file is
/// hostile until checked: every number is bounded here, before anything divides by it
/// or allocates from it, and a bad one is reported with its key and value.
pub struct Meta<'a> {
    pub content: &'a gguf_file::Content,
    pub arch: &'a str,
}

impl Meta<'_> {
    pub fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.arch)
    }
    fn value(&self, key: &str) -> Result<&gguf_file::Value> {
        let full = self.key(key);
        self.content
            .metadata
            .get(&full)
            .ok_or_else(|| candle_core::Error::msg(format!("GGUF metadata `{full}` is missing")))
    }
    /// A count that must lie in `1..=max`.
    pub fn count(&self, key: &str, max: usize) -> Result<usize> {
        self.bounded(key, self.value(key)?, max)
    }
    /// A count that must lie in `1..=max`, `default` when the file does not say.
    pub fn count_or(&self, key: &str, default: usize, max: usize) -> Result<usize> {
        match self.value(key) {
            Ok(v) => self.bounded(key, v, max),
            Err(_) => Ok(default),
        }
    }
    fn bounded(&self, key: &str, v: &gguf_file::Value, max: usize) -> Result<usize> {
        use gguf_file::Value as V;
        let n: Option<i128> = match v {
            V::U8(x) => Some(*x as i128),
            V::I8(x) => Some(*x as i128),
            V::U16(x) => Some(*x as i128),
            V::I16(x) => Some(*x as i128),
            V::U32(x) => Some(*x as i128),
            V::I32(x) => Some(*x as i128),
            V::U64(x) => Some(*x as i128),
            V::I64(x) => Some(*x as i128),
            _ => None,
        };
        match n {
            Some(n) if n >= 1 && n <= max as i128 => Ok(n as usize),
            Some(n) => candle_core::bail!(
                "GGUF metadata `{}` is {n}; it must be between 1 and {max}",
                self.key(key)
            ),
            // The type only, not the value: a hostile array could be megabytes long.
            None => candle_core::bail!(
                "GGUF metadata `{}` is a {:?}, not an integer",
                self.key(key),
                v.value_type()
            ),
        }
    }
    /// A finite, positive number, `default` when the file does not say.
    pub fn positive_or(&self, key: &str, default: f32) -> Result<f32> {
        use gguf_file::Value as V;
        let x = match self.value(key) {
            Err(_) => return Ok(default),
            Ok(V::F32(x)) => *x as f64,
            Ok(V::F64(x)) => *x,
            Ok(v) => candle_core::bail!(
                "GGUF metadata `{}` is a {:?}, not a float",
                self.key(key),
                v.value_type()
            ),
        };
        if !(x.is_finite() && x > 0.0 && x <= f32::MAX as f64) {
            candle_core::bail!(
                "GGUF metadata `{}` is {x}; it must be finite and above zero",
                self.key(key)
            )
        }
        Ok(x as f32)
    }
    /// Linear RoPE scaling of the model, 1.0 when there is none; other kinds of scaling
    /// (YaRN, …) would change every position, so they are refused rather than ignored.
    pub fn linear_rope_scale(&self) -> Result<f32> {
        let kind = match self.value("rope.scaling.type") {
            Ok(gguf_file::Value::String(s)) => s.clone(),
            Ok(_) => candle_core::bail!(
                "GGUF metadata `{}` is not a string",
                self.key("rope.scaling.type")
            ),
            Err(_) => "linear".to_string(),
        };
        let factor = self.positive_or("rope.scaling.factor", 1.0)?;
        match kind.as_str() {
            "none" => Ok(1.0),
            "linear" => Ok(factor),
            _ if factor == 1.0 => Ok(1.0),
            other => candle_core::bail!(
                "GGUF metadata `{}.rope.scaling.type` is `{}`, which this engine does not implement (linear only)",
                self.arch,
                other.chars().take(40).collect::<String>().escape_debug()
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
    fn a_row_gets_the_same_product_alone_or_with_others() {
        let dev = Device::Cpu;
        for (dtype, rows, cols) in [
            (GgmlDType::Q8_0, 96, 640),
            (GgmlDType::Q4K, 64, 1024),
            (GgmlDType::Q6K, 64, 2048),
            (GgmlDType::F32, 40, 96),
            (GgmlDType::F16, 40, 96),
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
