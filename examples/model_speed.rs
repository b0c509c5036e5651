//! Raw Gemma 3 speed on token ids (no tokenizer): prefill N tokens in one pass, then
//! decode M tokens greedily; with B > 1, B sequences continue the N-token prompt as a
//! shared prefix and are decoded together (M steps of B tokens each).
//! `cargo run --release --example model_speed -- MODEL.gguf [N] [M] [B]`
use anuvad::internals::gemma3::{Logits, Model};
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
    let model = Model::load(&content, &mut f, &Device::Cpu, n + m + 8)?;
    let load = t.elapsed().as_secs_f64();
    // Token ids from the ordinary range of the vocabulary; speed does not depend on them.
    let ids: Vec<u32> = (0..n as u32).map(|i| 1000 + (i * 7919) % 200_000).collect();
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
        let mut toks: Vec<u32> = (0..b as u32).map(|i| first + i).collect();
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
