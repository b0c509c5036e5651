#!/usr/bin/env python3
"""Record llama.cpp's greedy tokens and per-position top-1 predictions on the default
Gemma 3 GGUF, as the reference that tests/gemma3_parity.rs pins our model to.

With every top-1 we record llama.cpp's margin (top-1 minus top-2 logit). This small
quantized model is numerically touchy: llama.cpp's own logits move by 1-2 units between
batched and one-token evaluation, so near-ties can flip in any correct implementation;
the test compares decisions where llama.cpp's margin is clear.

usage: python3 scripts/gemma3-parity-fixtures.py MODEL.gguf > tests/fixtures/gemma3-llamacpp.json
needs: pip install llama-cpp-python numpy
"""
import hashlib, json, sys
import numpy as np
from llama_cpp import Llama, __version__ as LLAMA_CPP_VERSION

model_path = sys.argv[1]
DECODE_STEPS = 32

short = "Hindi: सरकार ने मंगलवार को नई शिक्षा नीति की घोषणा की।\nEnglish:"
fewshot = (
    "Hindi: दिल्ली में बुधवार को तापमान 42 डिग्री सेल्सियस तक पहुंच गया।\n"
    "English: The temperature in Delhi reached 42 degrees Celsius on Wednesday.\n\n"
    "Hindi: भारतीय टीम ने पहले बल्लेबाजी करते हुए 287 रन बनाए।\nEnglish:"
)
# Over 512 tokens, so sliding-window layers (window 512) must drop the oldest keys.
para = ("मौसम विभाग ने बताया कि अगले तीन दिनों तक उत्तर भारत के कई राज्यों में भारी बारिश हो सकती है "
        "और लोगों को सतर्क रहने की सलाह दी गई है। ")
long = "Hindi: " + para * 24 + "\nEnglish:"

def margin(row):
    top2 = np.sort(row)[-2:]
    return round(float(top2[1] - top2[0]), 4)


llm = Llama(model_path=model_path, n_ctx=2048, n_threads=2, logits_all=True, verbose=False, seed=0)
cases = []
for name, text in [("short", short), ("fewshot", fewshot), ("long", long)]:
    ids = llm.tokenize(text.encode(), add_bos=True, special=False)
    llm.reset()
    llm.eval(ids)
    scores = np.array(llm.scores[: len(ids)])
    prompt_top1 = [int(x) for x in scores.argmax(axis=1)]
    prompt_margin = [margin(row) for row in scores]
    out, out_margin = [], []
    last = scores[-1]
    for _ in range(DECODE_STEPS):
        tok = int(np.argmax(last))
        out.append(tok)
        out_margin.append(margin(last))
        llm.eval([tok])
        last = np.array(llm.scores[llm.n_tokens - 1])
    cases.append({"name": name, "prompt_ids": ids, "prompt_top1": prompt_top1,
                  "prompt_margin": prompt_margin, "greedy": out, "greedy_margin": out_margin})
    print(f"{name}: {len(ids)} prompt tokens, greedy -> {llm.detokenize(out).decode(errors='replace')!r}", file=sys.stderr)

sha = hashlib.sha256(open(model_path, "rb").read()).hexdigest()
json.dump({"source": f"llama.cpp via llama-cpp-python {LLAMA_CPP_VERSION}", "model_sha256": sha,
           "decode_steps": DECODE_STEPS, "cases": cases}, sys.stdout)
