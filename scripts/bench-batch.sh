#!/usr/bin/env bash
# Batch throughput on the default model, measured in one run against the obvious
# alternative: the same articles through one `anuvad translate` process each (a shell
# loop, loading the model every time). Prints articles/min and tokens/s of both, their
# ratio, and whether both produced the same translations (they must: greedy decoding).
#   scripts/bench-batch.sh [ARTICLE_DIR]     (default: bench/articles, 24 articles)
#   THREADS=2 (default) sets --threads for both.
set -euo pipefail
cd "$(dirname "$0")/.."
articles=${1:-bench/articles}
threads=${THREADS:-2}
scripts/fetch-model.sh >/dev/null
cargo build --release --quiet
bin=$PWD/target/release/anuvad
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/loop"

now() { date +%s.%N; }
t0=$(now)
"$bin" batch "$articles" --out "$work/batch" --threads "$threads" --progress plain 2>"$work/batch.log"
t1=$(now)
for f in "$articles"/*.txt; do
  "$bin" translate "$f" --format json --threads "$threads" --progress none \
    >"$work/loop/$(basename "$f").json"
done
t2=$(now)

python3 - "$work" "$t0" "$t1" "$t2" "$articles" <<'PY'
import json, os, sys
work, t0, t1, t2, articles = sys.argv[1], *map(float, sys.argv[2:5]), sys.argv[5]
report = json.load(open(f"{work}/batch/report.json"))
recs = {}
for line in open(f"{work}/batch/articles.jsonl"):
    r = json.loads(line)
    recs[os.path.basename(r["id"])] = r
loop = {f[:-5]: json.load(open(f"{work}/loop/{f}")) for f in os.listdir(f"{work}/loop")}
n = len(loop)
chars = sum(r.get("source_chars", 0) for r in recs.values())
out_tokens = sum(r["stats"]["output_tokens"] for r in recs.values())
in_tokens = sum(r["stats"]["input_tokens"] for r in recs.values())
batch_s, loop_s = t1 - t0, t2 - t1
same = sum(1 for k, v in loop.items() if k in recs and recs[k].get("translation") == v["translation"])
a = report["articles"]
print(f"articles: {n} ({chars} characters), {in_tokens} prompt tokens, {out_tokens} output tokens")
print(f"batch:  {batch_s:7.1f} s wall  {n / batch_s * 60:6.2f} articles/min  {out_tokens / batch_s:6.1f} output tok/s"
      f"  (done {a['done']}, failed {a['failed']})")
print(f"loop:   {loop_s:7.1f} s wall  {n / loop_s * 60:6.2f} articles/min  {out_tokens / loop_s:6.1f} output tok/s")
print(f"ratio batch/loop articles per minute: {loop_s / batch_s:.2f}x")
print(f"identical translations: {same}/{n}")
slow = report["slowest"][:3]
print("slowest: " + ", ".join(f"{s['id']} {s['seconds']:.1f} s ({s['source_chars']} chars)" for s in slow))
PY
