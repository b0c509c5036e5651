#!/usr/bin/env python3
"""Marian speed, side by side: anuvad's Marian engine vs CTranslate2 (int8 and float32)
vs PyTorch transformers, on one random-weight model with the shape of OPUS-MT
opus-mt-hi-en (speed does not depend on weight values), the same source ids, the same
threads, the same batches, greedy, a fixed number of new tokens per sentence.

usage: python3 scripts/bench-marian.py [--quick]   (run by scripts/bench.sh --marian)
needs: pip install torch transformers sentencepiece ctranslate2; cargo build --release
"""
import glob, json, os, shutil, subprocess, sys, time

import torch
import ctranslate2
import transformers
from transformers import MarianConfig, MarianMTModel, MarianTokenizer

quick = "--quick" in sys.argv
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
SENTENCES = 32 if quick else 64
BATCH = 16
NEW = 32 if quick else 64
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
work = os.environ.get("BENCH_DIR", "/tmp/anuvad-bench-marian")
model_dir = os.path.join(work, "opus-mt-hi-en-random")
os.makedirs(work, exist_ok=True)
torch.set_num_threads(THREADS)

# opus-mt-hi-en's shape: the OPUS-MT transformer-align (6+6 layers, d_model 512, 8 heads,
# FFN 2048, swish, sinusoidal positions up to 512) with its 61,950-token vocabulary.
VOCAB = 61950
if not os.path.exists(os.path.join(model_dir, "model.safetensors")):
    os.makedirs(model_dir, exist_ok=True)
    fixture = os.path.join(root, "tests", "fixtures", "tiny-marian")
    for f in ["source.spm", "target.spm", "tokenizer_config.json"]:
        shutil.copy(os.path.join(fixture, f), model_dir)
    vocab = json.load(open(os.path.join(fixture, "vocab.json"), encoding="utf-8"))
    del vocab["<pad>"]
    for i in range(len(vocab), VOCAB - 1):
        vocab[f"<unused{i}>"] = i
    vocab["<pad>"] = VOCAB - 1
    json.dump(vocab, open(os.path.join(model_dir, "vocab.json"), "w", encoding="utf-8"), ensure_ascii=False)
    config = MarianConfig(
        vocab_size=VOCAB, decoder_vocab_size=VOCAB, d_model=512, encoder_layers=6,
        decoder_layers=6, encoder_attention_heads=8, decoder_attention_heads=8,
        encoder_ffn_dim=2048, decoder_ffn_dim=2048, max_position_embeddings=512,
        activation_function="swish", scale_embedding=True, pad_token_id=VOCAB - 1,
        decoder_start_token_id=VOCAB - 1, eos_token_id=0, forced_eos_token_id=0,
        share_encoder_decoder_embeddings=True)
    torch.manual_seed(1)
    model = MarianMTModel(config).eval()
    with torch.no_grad():
        # No sentence may end early: every engine then writes exactly NEW tokens.
        model.final_logits_bias[0, 0] = -1e4
    model.generation_config.bad_words_ids = [[VOCAB - 1]]
    model.save_pretrained(model_dir)

tok = MarianTokenizer.from_pretrained(model_dir)
hindi = []
for f in sorted(glob.glob(os.path.join(root, "eval", "news", "*.hi.txt"))):
    for line in open(f, encoding="utf-8"):
        for s in line.replace("।", "।\n").split("\n"):
            if len(s.strip()) > 20:
                hindi.append(s.strip())
hindi = hindi[:SENTENCES]
ids = [tok(s)["input_ids"] for s in hindi]
ids_path = os.path.join(work, "ids.json")
json.dump(ids, open(ids_path, "w"))
source_tokens = sum(len(i) for i in ids)
print(f"# {len(ids)} sentences, {source_tokens} source tokens, batch {BATCH}, "
      f"{NEW} new tokens each, {THREADS} threads, transformers {transformers.__version__}, "
      f"torch {torch.__version__}, ctranslate2 {ctranslate2.__version__}", flush=True)

results = {}

def anuvad(precision, beams=1):
    exe = os.path.join(root, "target", "release", "examples", "marian_speed")
    env = dict(os.environ, RAYON_NUM_THREADS=str(THREADS))
    out = subprocess.run([exe, model_dir, ids_path, str(BATCH), str(NEW), precision, str(beams)],
                         capture_output=True, text=True, env=env, check=True)
    r = json.loads(out.stdout)
    return r["output_tokens"], r["seconds"]

def ct2(precision, beams=1):
    out_dir = os.path.join(work, f"ct2-{precision}")
    if not os.path.exists(os.path.join(out_dir, "model.bin")):
        ctranslate2.converters.TransformersConverter(model_dir).convert(
            out_dir, quantization=precision, force=True)
    tr = ctranslate2.Translator(out_dir, device="cpu", inter_threads=1, intra_threads=THREADS)
    pieces = [tok.convert_ids_to_tokens(i) for i in ids]
    t = time.perf_counter()
    res = tr.translate_batch(pieces, max_batch_size=BATCH, beam_size=beams,
                             max_decoding_length=NEW, min_decoding_length=NEW)
    secs = time.perf_counter() - t
    return sum(len(r.hypotheses[0]) for r in res), secs

def hf(beams=1):
    model = MarianMTModel.from_pretrained(model_dir).eval()
    n, secs = 0, 0.0
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    with torch.inference_mode():
        for k in range(0, len(order), BATCH):
            batch = tok.pad({"input_ids": [ids[i] for i in order[k:k + BATCH]]}, return_tensors="pt")
            t = time.perf_counter()
            g = model.generate(**batch, max_new_tokens=NEW + 1, min_new_tokens=NEW + 1,
                               num_beams=beams, do_sample=False)
            secs += time.perf_counter() - t
            n += int((g[:, 1:] != VOCAB - 1).sum()) - g.shape[0]  # less the forced </s>
    return n, secs

runs = [("anuvad int8", lambda: anuvad("int8")), ("ctranslate2 int8", lambda: ct2("int8")),
        ("anuvad f32", lambda: anuvad("f32")), ("ctranslate2 float32", lambda: ct2("float32")),
        ("transformers f32", hf)]
if not quick:
    runs += [("anuvad int8 beam4", lambda: anuvad("int8", 4)),
             ("ctranslate2 int8 beam4", lambda: ct2("int8", 4))]
print(f"| engine | output tokens | seconds | tokens/s |\n|---|---:|---:|---:|")
for name, run in runs:
    run() if name.startswith("anuvad") or name.startswith("ctranslate2") else None  # warm-up
    n, secs = run()
    results[name] = n / secs
    print(f"| {name} | {n} | {secs:.2f} | {n / secs:.1f} |", flush=True)

def ratio(a, b):
    return results[a] / results[b] if a in results and b in results else float("nan")

print(f"\nmarian_ratio int8_vs_ct2={ratio('anuvad int8', 'ctranslate2 int8'):.2f} "
      f"f32_vs_ct2={ratio('anuvad f32', 'ctranslate2 float32'):.2f} "
      f"f32_vs_transformers={ratio('anuvad f32', 'transformers f32'):.2f}"
      + ("" if quick else f" int8_beam4_vs_ct2={ratio('anuvad int8 beam4', 'ctranslate2 int8 beam4'):.2f}"))
