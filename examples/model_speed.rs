//! Raw model speed on token ids (no tokenizer), any supported family: prefill N tokens in one pass, then
//! decode M tokens greedily; with B > 1, B sequences continue the N-token prompt as a
//! shared prefix and are decoded together (M steps of B tokens each).
//! `cargo run --release --example model_speed -- MODEL.gguf [N] [M] [B]`
use anuvad::internals::family_config;
use anuvad::internals::transformer::{Logits, Model};
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .expect("usage: model_speed MODEL.gguf [prompt_tokens] [decode_tokens] [batch]");
    let arg = |i: usize, d: usize| -> anyhow::Result<usize> {
        Ok(args.get(i).map(|s| s.parse()).transpose()?.unwrap_or(d))
    };
    let (n, m, b) = (arg(2, 500)?, arg(3, 64)?, arg(4, 1)?.max(1));
    let t = Instant::now();
    let mut f = std::io::BufReader::new(std::fs::File::open(path)?);
    let content = gguf_file::Content::read(&mut f)?;
    let arch = content
        .metadata
        .get("general.architecture")
        .and_then(|v| v.to_string().ok().cloned())
        .unwrap_or_default();
    let vocab = content
        .tensor_infos
        .get("token_embd.weight")
        .map(|t| t.shape.dims()[0])
        .unwrap_or(0);
    let cfg = family_config(&arch, &content)?;
    let model = Model::load(cfg, &content, &mut f, &Device::Cpu, n + m + 8)?;
    let load = t.elapsed().as_secs_f64();
    eprintln!(
        "rss after load: {}",
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmRSS"))
            .unwrap()
    );
    // Token ids from the ordinary range of the vocabulary; speed does not depend on them.
    // (scripts/bench.py gives llama.cpp the same ids.)
    let span = vocab.saturating_sub(1000).max(1) as u32;
    let ids: Vec<u32> = (0..n as u32).map(|i| 1000 + (i * 7919) % span).collect();
    let mut cache = model.new_cache();
    let t = Instant::now();
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
    let logits = model.forward(&input, &mut cache, Logits::Last)?;
    let prefill = t.elapsed().as_secs_f64();
    let first: u32 = logits.squeeze(0)?.argmax(0)?.to_scalar()?;
    let t = Instant::now();
    if b == 1 {
        let mut tok = first;
        for _ in 0..m {
            let input = Tensor::new(&[tok], &Device::Cpu)?.unsqueeze(0)?;
            let logits = model.forward(&input, &mut cache, Logits::Last)?;
            tok = logits.squeeze(0)?.argmax(0)?.to_scalar()?;
        }
    } else {
        // Each sequence starts from a different token so they do not decode in lockstep.
        let mut toks: Vec<u32> = (0..b as u32)
            .map(|i| (first + i) % vocab.max(1) as u32)
            .collect();
        let mut own: Vec<_> = (0..b)
            .map(|_| model.continuation_cache(&cache, m + 1))
            .collect();
        for _ in 0..m {
            let input = Tensor::new(toks.as_slice(), &Device::Cpu)?.unsqueeze(1)?;
            let mut caches: Vec<_> = own.iter_mut().collect();
            let logits = model.forward_seqs(&input, Some(&cache), &mut caches, Logits::Last)?;
            toks = logits.argmax(1)?.to_vec1()?;
        }
    }
    let decode = t.elapsed().as_secs_f64();
    println!(
        "load {load:.2}s prefill {n} tok {:.1} tok/s decode {} tok {:.1} tok/s batch {b}",
        n as f64 / prefill,
        m * b,
        (m * b) as f64 / decode
    );
    Ok(())
}
