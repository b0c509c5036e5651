#!/usr/bin/env python3
"""Record llama.cpp's tokenizer ids, greedy tokens and per-position top-1 predictions on a
GGUF (the default Gemma 3, the real Qwen 2.5 Coder 0.5B), as the reference that
tests/llama_cpp_parity.rs pins our tokenizer and model to.

With every top-1 we record llama.cpp's margin (top-1 minus top-2 logit). This small
quantized model is numerically touchy: llama.cpp's own logits move by 1-2 units between
batched and one-token evaluation, so near-ties can flip in any correct implementation;
the test compares decisions where llama.cpp's margin is clear.

usage: python3 scripts/parity-fixtures.py MODEL.gguf > tests/fixtures/gemma3-llamacpp.json
       python3 scripts/parity-fixtures.py QWEN.gguf > tests/fixtures/qwen2.5-coder-0.5b-llamacpp.json
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

def margin(row):
    top2 = np.sort(row)[-2:]
    return round(float(top2[1] - top2[0]), 4)


llm = Llama(model_path=model_path, n_ctx=2048, n_threads=2, logits_all=True, verbose=False, seed=0)
# Repetitions until the prompt passes 600 tokens: past Gemma 3's 512-token sliding window.
reps = 1
while len(llm.tokenize(("Hindi: " + para * reps + "\nEnglish:").encode(), add_bos=True)) <= 600:
    reps += 1
long = "Hindi: " + para * reps + "\nEnglish:"
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

# Tokenizer ids (no BOS) for Hindi and English news text, numbers, punctuation and
# the chat markup an instruct card writes.
texts = [
    "नई दिल्ली, 13 मार्च (भाषा)। दिल्ली में बुधवार को भारी बारिश हुई।",
    "मौसम विभाग ने कहा कि अगले 2 दिनों तक बारिश जारी रहेगी, तापमान 42.5 डिग्री तक पहुंचेगा।",
    "प्रधानमंत्री नरेंद्र मोदी ने ₹1,200 करोड़ की योजनाओं का उद्घाटन किया।",
    "The Reserve Bank of India kept the repo rate at 6.5% on Friday, Governor Shaktikanta Das said.",
    "  Leading spaces,\ttabs\n\nand blank lines; quotes \"like this\" — and 10:42 a.m.",
    "<|im_start|>user\nTranslate: सरकार<|im_end|>\n<|im_start|>assistant\n",
]
tokenizer = [{"text": t, "ids": llm.tokenize(t.encode(), add_bos=False, special=True)} for t in texts]

sha = hashlib.sha256(open(model_path, "rb").read()).hexdigest()
json.dump({"source": f"llama.cpp via llama-cpp-python {LLAMA_CPP_VERSION}", "model_sha256": sha,
           "decode_steps": DECODE_STEPS, "cases": cases, "tokenizer": tokenizer}, sys.stdout)
