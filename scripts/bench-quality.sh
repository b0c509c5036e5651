#!/usr/bin/env bash
# What each quality mode costs and buys, in one run: `anuvad eval` on an evaluation set
# with the binary of git revision REV (before quality modes: its greedy decoding is the
# baseline) and with this tree's binary in `fast`, `balanced` and `best`. Prints, per
# run, seconds, the ratio to the baseline's seconds, chrF, BLEU, names/numbers/dates
# kept and invented; keeps the JSON reports in OUT_DIR.
# REV's eval cannot read the fact lists of today's eval TOMLs, and cannot count names,
# so it runs on a copy without them (for its time, chrF and BLEU), and its facts are
# counted by this tree's binary decoding as REV did: greedy, numbers unconstrained (a
# card with `constrain_numbers = false`); the two must agree on chrF and BLEU.
#   scripts/bench-quality.sh [--baseline REV] [--out OUT_DIR] [EVAL_DIR]
#     default: --baseline 120a932 (the last commit before issue 14), eval/news
#   THREADS=2 (default) sets --threads.
set -euo pipefail
cd "$(dirname "$0")/.."
baseline=120a932
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --baseline) baseline="${2:?--baseline takes a git revision}"; shift 2 ;;
    --out) out="${2:?--out takes a directory}"; shift 2 ;;
    *) break ;;
  esac
done
data="${1:-eval/news}"
threads="${THREADS:-2}"
out="${out:-$(mktemp -d)}"
mkdir -p "$out"
scripts/fetch-model.sh >/dev/null
cargo build --release --quiet
rev="$(git rev-parse --short "$baseline")"
dir="target/baseline-$rev"
if [ ! -x "$dir/release/anuvad" ]; then
  wt="$(mktemp -d)/anuvad-$rev"
  git worktree add --quiet --detach "$wt" "$rev"
  (cd "$wt" && CARGO_TARGET_DIR="$OLDPWD/$dir" cargo build --release --quiet)
  git worktree remove --force "$wt"
fi
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, avx512: $(grep -o 'avx512[a-z0-9_]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "baseline: $(git log -1 --format='%h %s' "$rev" | cut -c1-90)"
echo "this tree: $(git log -1 --format='%h' HEAD)$(git diff --quiet || echo ' (modified)')"
run() {
  local name="$1" bin="$2"; shift 2
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" eval "$data" --threads "$threads" --progress none --format json --out "$out/$name.json" "$@" >/dev/null 2>"$out/$name.log"
  t1=$(date +%s.%N)
  echo "$name $(python3 -c "print($t1 - $t0)")" >>"$out/seconds"
}
rm -f "$out/seconds"
old_set="$out/old-set"
rm -rf "$old_set" && mkdir -p "$old_set"
cp "$data"/*.txt "$old_set/"
for t in "$data"/*.toml; do
  python3 -c 'import re,sys; print(re.sub(r"(?ms)^(names|numbers|dates) = \[.*?\]\n", "", open(sys.argv[1]).read()), end="")' "$t" >"$old_set/$(basename "$t")"
done
home="${ANUVAD_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/anuvad}"
old_home="$out/old-home"
mkdir -p "$old_home/models"
ln -sf "$home/models/gemma-3-270m-q4_k_m.gguf" "$old_home/models/"
cp "$home/models/gemma-3-270m-q4_k_m.gguf.sha256" "$old_home/models/" 2>/dev/null || true
sed 's/^\[generation\]$/[generation]\nconstrain_numbers = false/' models/gemma3-270m.toml >"$old_home/models/gemma3-270m.toml"
data="$old_set" run baseline "$dir/release/anuvad"
ANUVAD_HOME="$old_home" run baseline-facts target/release/anuvad --quality fast
for q in fast balanced best; do
  run "$q" target/release/anuvad --quality "$q"
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
secs = dict(l.split() for l in open(f"{out}/seconds"))
base = float(secs["baseline"])
pct = lambda x: f"{x[0]}/{x[1]} ({100 * x[0] / x[1]:.1f}%)" if x else "-"
print("| run | seconds | × baseline | chrF | BLEU | names+numbers | names | numbers | dates | invented numbers | invented names (/1000 words) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
old = json.load(open(f"{out}/baseline.json"))["summary"]
same = json.load(open(f"{out}/baseline-facts.json"))["summary"]
print(f"baseline {old['chrf']:.2f}/{old['bleu']:.2f} chrF/BLEU; this tree decoding as it did: {same['chrf']:.2f}/{same['bleu']:.2f}")
for name in ["baseline", "fast", "balanced", "best"]:
    s = json.load(open(f"{out}/{name if name != 'baseline' else 'baseline-facts'}.json"))["summary"]
    nn = ((s["names"][0] + s["numbers"][0]), (s["names"][1] + s["numbers"][1])) if s.get("names") else None
    inv = s.get("invented_names")
    words = max(1, s.get("english_words") or 1)
    inv_s = f"{inv} ({1000 * inv / words:.1f})" if inv is not None else "-"
    t = float(secs[name])
    print(f"| {name} | {t:.0f} | {t / base:.2f} | {s['chrf']:.2f} | {s['bleu']:.2f} | {pct(nn)} | {pct(s.get('names'))} | {pct(s.get('numbers'))} | {pct(s.get('dates'))} | {s.get('invented_numbers', '-')} | {inv_s} |")
PY
