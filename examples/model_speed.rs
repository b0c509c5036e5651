//! Raw Gemma 3 speed on token ids (no tokenizer): prefill N tokens in one pass, then
//! decode M tokens greedily. `cargo run --release --example model_speed -- MODEL.gguf [N] [M]`
use anuvad::models::gemma3::{Logits, Model};
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .expect("usage: model_speed MODEL.gguf [prompt_tokens] [decode_tokens]");
    let n: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(500);
    let m: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(64);
    let t = Instant::now();
    let mut f = std::io::BufReader::new(std::fs::File::open(path)?);
    let content = gguf_file::Content::read(&mut f)?;
    let model = Model::load(&content, &mut f, &Device::Cpu, n + m + 8)?;
    let load = t.elapsed().as_secs_f64();
    // Token ids from the ordinary range of the vocabulary; speed does not depend on them.
    let ids: Vec<u32> = (0..n as u32).map(|i| 1000 + (i * 7919) % 200_000).collect();
    let mut cache = model.new_cache(1)?;
    let t = Instant::now();
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
    let logits = model.forward(&input, &mut cache, Logits::Last)?;
    let prefill = t.elapsed().as_secs_f64();
    let mut tok: u32 = logits.squeeze(0)?.argmax(0)?.to_scalar()?;
    let t = Instant::now();
    for _ in 0..m {
        let input = Tensor::new(&[tok], &Device::Cpu)?.unsqueeze(0)?;
        let logits = model.forward(&input, &mut cache, Logits::Last)?;
        tok = logits.squeeze(0)?.argmax(0)?.to_scalar()?;
    }
    let decode = t.elapsed().as_secs_f64();
    println!(
        "load {load:.2}s prefill {n} tok {:.1} tok/s decode {m} tok {:.1} tok/s",
        n as f64 / prefill,
        m as f64 / decode
    );
    Ok(())
}
