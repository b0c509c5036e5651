#!/usr/bin/env python3
"""Side-by-side speed of anuvad's engine and llama.cpp on the same GGUF, same token ids,
same thread count, greedy decoding: prefill and decode tokens/s for several prompt
lengths, median of several repetitions, and the ratio anuvad / llama.cpp measured in the
same run. Called by scripts/bench.sh.
"""
import argparse, json, os, resource, statistics, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--ours", required=True, help="path to the model_speed example binary")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--prompts", default="100,500,1500")
ap.add_argument("--decode", type=int, default=64)
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


def ours(n):
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    out, rss = run([args.ours, args.model, str(n), str(args.decode)], env=env)
    # "load 0.35s prefill 500 tok 186.8 tok/s decode 64 tok 27.8 tok/s"
    w = out.split()
    return float(w[w.index("prefill") + 3]), float(w[w.index("decode") + 3]), rss


def llama(n):
    # A fresh process per measurement, like ours, so neither side keeps warm state.
    code = f"""
import time, numpy as np
from llama_cpp import Llama
llm = Llama(model_path={args.model!r}, n_ctx={n + args.decode + 16}, n_threads={args.threads}, n_batch=2048, n_ubatch=512, verbose=False)
ids = [2] + [1000 + (i * 7919) % 200000 for i in range(1, {n})]
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


rows = []
for n in lengths:
    a = [ours(n) for _ in range(args.reps)]
    b = [llama(n) for _ in range(args.reps)]
    med = lambda xs, i: statistics.median(x[i] for x in xs)
    rows.append((n, med(a, 0), med(b, 0), med(a, 1), med(b, 1), max(x[2] for x in a), max(x[2] for x in b)))

print("| prompt tokens | prefill anuvad | prefill llama.cpp | ratio | decode anuvad | decode llama.cpp | ratio | peak RSS anuvad | peak RSS llama.cpp (Python process) |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for n, pa, pb, da, db, ra, rb in rows:
    print(f"| {n} | {pa:.1f} | {pb:.1f} | {pa / pb:.2f} | {da:.1f} | {db:.1f} | {da / db:.2f} | {ra:.0f} MB | {rb:.0f} MB |")
pr = statistics.median(r[1] / r[2] for r in rows)
dr = statistics.median(r[3] / r[4] for r in rows)
rss = max(r[5] for r in rows)
print(json.dumps({"prefill_ratio": round(pr, 3), "decode_ratio": round(dr, 3), "rss_mb": round(rss)}))
# rss_mb: anuvad's peak RSS on the longest prompt (model file 253 MB); the article ratio
# (batched chunks vs llama.cpp chunk by chunk) is not measured yet.
print(f"ratio decode={dr:.2f} prefill={pr:.2f} article=NA rss_mb={rss:.0f}")
