#!/usr/bin/env python3
"""Side-by-side speed of anuvad's engine and llama.cpp on the same GGUF, same token ids,
same thread count, greedy decoding, measured in the same run, ratio anuvad / llama.cpp:
- prefill and decode tokens/s for several prompt lengths (median of several repetitions),
  plus anuvad decoding 8 sequences together;
- a whole article: anuvad's translation stage (chunks decoded together) against
  llama.cpp replaying the very same model calls one after another (prefix reused, the
  same number of greedy tokens per call), as output tokens/s; anuvad's peak RSS for it;
- optionally more models (--extra, repeated: the real Qwen 2.5 GGUFs, random models with
  real shapes), and a whole article on one of them too (--article-model PATH --card ID).
Called by scripts/bench.sh; the last lines are `ratio decode=… prefill=… article=… rss_mb=…`
for the main model and `ratio model=… decode=… …` for the --article-model.
"""
import argparse, json, os, resource, statistics, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--ours", required=True, help="path to the model_speed example binary")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--prompts", default="100,500,1500")
ap.add_argument("--decode", type=int, default=64)
ap.add_argument("--article", help="a Hindi article to translate end to end")
ap.add_argument("--article-bin", help="path to the article_speed example binary")
ap.add_argument("--extra", action="append", default=[], help="another GGUF for prefill/decode rows (one repetition)")
ap.add_argument("--article-model", help="a second GGUF to translate the article with")
ap.add_argument("--card", help="the card id of --article-model")
args = ap.parse_args()
lengths = [int(x) for x in args.prompts.split(",")]


def run(cmd, env=None):
    """Run `cmd`; return its stdout and its own peak RSS in MB (wait4, per process)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"bench: {cmd[0]} failed ({p.returncode}): {err}")
    return out, usage.ru_maxrss / 1024  # Linux reports KB


def ours(n, model=None, batch=1):
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    out, rss = run([args.ours, model or args.model, str(n), str(args.decode), str(batch)], env=env)
    # "load 0.35s prefill 500 tok 186.8 tok/s decode 64 tok 27.8 tok/s"
    w = out.split()
    return float(w[w.index("prefill") + 3]), float(w[w.index("decode") + 3]), rss


def llama(n, model=None):
    # A fresh process per measurement, like ours, so neither side keeps warm state.
    code = f"""
import time, numpy as np
from llama_cpp import Llama
llm = Llama(model_path={(model or args.model)!r}, n_ctx={n + args.decode + 16}, n_threads={args.threads}, n_batch=2048, n_ubatch=512, verbose=False)
span = max(llm.n_vocab() - 1000, 1)
ids = [1000 + (i * 7919) % span for i in range({n})]
t = time.time(); llm.eval(ids); p = time.time() - t
t = time.time()
for _ in range({args.decode}):
    tok = int(np.argmax(llm.scores[llm.n_tokens - 1])); llm.eval([tok])
d = time.time() - t
print({n} / p, {args.decode} / d)
"""
    out, rss = run([sys.executable, "-c", code])
    out = out.split()
    return float(out[-2]), float(out[-1]), rss


def table(model, lengths, reps):
    rows = []
    for n in lengths:
        a = [ours(n, model) for _ in range(reps)]
        b = [llama(n, model) for _ in range(reps)]
        c = [ours(n, model, batch=8) for _ in range(reps)]
        med = lambda xs, i: statistics.median(x[i] for x in xs)
        rows.append((n, med(a, 0), med(b, 0), med(a, 1), med(b, 1), med(c, 1), max(x[2] for x in a), max(x[2] for x in b)))
    print(f"\nModel: {os.path.basename(model)}, {args.threads} threads, {reps} repetition(s), median\n")
    print("| prompt tokens | prefill anuvad | prefill llama.cpp | ratio | decode anuvad | decode llama.cpp | ratio | decode anuvad, 8 sequences together | ratio | peak RSS anuvad | peak RSS llama.cpp (Python process) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, pa, pb, da, db, dc, ra, rb in rows:
        print(f"| {n} | {pa:.1f} | {pb:.1f} | {pa / pb:.2f} | {da:.1f} | {db:.1f} | {da / db:.2f} | {dc:.1f} | {dc / db:.2f} | {ra:.0f} MB | {rb:.0f} MB |")
    return rows


rows = table(args.model, lengths, args.reps)
pr = statistics.median(r[1] / r[2] for r in rows)
dr = statistics.median(r[3] / r[4] for r in rows)
summary = {"prefill_ratio": round(pr, 3), "decode_ratio": round(dr, 3)}


def article(model, card=None):
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    if card:
        env["ANUVAD_MODEL"] = card
    out, rss = run([args.article_bin, args.article], env=env)
    v = json.loads(out)
    calls_file = "/tmp/anuvad-bench-calls.json"
    with open(calls_file, "w") as f:
        json.dump(v["calls"], f)
    # llama.cpp gets the same calls one after another, as a chat runtime would run them:
    # the shared prefix evaluated once and kept, each body and answer after it.
    code = f"""
import json, time, numpy as np
from llama_cpp import Llama
calls = json.load(open({calls_file!r}))
llm = Llama(model_path={model!r}, n_ctx=4096, n_threads={args.threads}, n_batch=2048, n_ubatch=512, verbose=False)
t = time.time()
# The last prefix is kept and reused while calls share it (the quality modes' candidates
# use more than one prompt, so it changes between some calls).
prefix_text, prefix = None, []
n_out = 0
for c in calls:
    if c["prefix"] != prefix_text:
        prefix_text = c["prefix"]
        prefix = llm.tokenize(prefix_text.encode(), add_bos=True, special=True)
        llm.n_tokens = 0
        llm.eval(prefix)
    llm.n_tokens = len(prefix)
    llm.eval(llm.tokenize(c["body"].encode(), add_bos=False, special=True))
    # Exactly as many tokens as anuvad generated for this call: the same work on both
    # sides (llama.cpp lacks anuvad's English-only mask and would stop elsewhere).
    for i in range(c["output_tokens"]):
        tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        n_out += 1
        if i + 1 < c["output_tokens"]:
            llm.eval([tok])
print(json.dumps({{"seconds": time.time() - t, "output_tokens": n_out}}))
"""
    out2, rss2 = run([sys.executable, "-c", code])
    w = json.loads(out2.split("\n")[-2] if out2.endswith("\n") else out2)
    ra = v["output_tokens"] / v["seconds"]
    rb = w["output_tokens"] / w["seconds"]
    print(f"\nWhole article: {args.article} with {os.path.basename(model)}, {v['chunks']} chunks, {len(v['calls'])} model calls\n")
    print("| | output tokens | seconds | output tokens/s | peak RSS |")
    print("|---|---:|---:|---:|---:|")
    print(f"| anuvad, {v['batch']} chunks decoded together | {v['output_tokens']} | {v['seconds']:.1f} | {ra:.1f} | {rss:.0f} MB |")
    print(f"| llama.cpp, the same calls one after another, as many tokens each | {w['output_tokens']} | {w['seconds']:.1f} | {rb:.1f} | {rss2:.0f} MB (Python process) |")
    print(f"| **ratio** | | | **{ra / rb:.2f}** | {rss / rss2:.2f} |")
    return ra / rb, rss, rss2


art, rss, _ = (article(args.model) if args.article else (None, None, None))
if art is not None:
    summary.update(article_ratio=round(art, 3), rss_mb=round(rss))
extra = {}
for m in args.extra:
    r = table(m, [100, 500], 1)
    extra[os.path.basename(m)] = {
        "prefill_ratio": round(statistics.median(x[1] / x[2] for x in r), 3),
        "decode_ratio": round(statistics.median(x[3] / x[4] for x in r), 3),
        "decode8_ratio": round(statistics.median(x[5] / x[4] for x in r), 3),
        "rss_ratio": round(max(x[6] for x in r) / max(x[7] for x in r), 3),
    }
if extra:
    summary["extra"] = extra
second = None
if args.article_model and args.article:
    a2, r2, l2 = article(args.article_model, args.card)
    e = extra.get(os.path.basename(args.article_model), {})
    second = (os.path.basename(args.article_model), e.get("decode_ratio"), e.get("prefill_ratio"), a2, r2, l2)
print()
print(json.dumps(summary))
fmt = lambda x, f: "NA" if x is None else format(x, f)
print(f"ratio decode={dr:.2f} prefill={pr:.2f} article={fmt(art, '.2f')} rss_mb={fmt(rss, '.0f')}")
if second:
    name, d2, p2, a2, r2, l2 = second
    print(f"ratio model={name} decode={fmt(d2, '.2f')} prefill={fmt(p2, '.2f')} article={a2:.2f} rss_mb={r2:.0f} llama_rss_mb={l2:.0f}")
