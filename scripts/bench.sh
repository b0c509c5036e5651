#!/usr/bin/env bash
# anuvad's engine vs llama.cpp (llama-cpp-python, compiled from source) on the default
# model: prefill and decode tokens/s, a whole article end to end, peak RSS, and their
# ratios, measured in the same run. Ends with one line:
#   ratio decode=X prefill=Y article=Z rss_mb=N
#   scripts/bench.sh [--quick]   (--quick: one repetition, prompts of 100 and 500 tokens,
#                                 default model only; under 5 minutes once llama.cpp is built)
#   scripts/bench.sh [--quick] --baseline REV
#       also measures the engine as it was at git revision REV (its examples built in a
#       worktree), in the same run and against the same llama.cpp, old first: a change
#       that should not move speed prints two ratio lines that agree within noise
#   scripts/bench.sh --marian [--quick]
#       the Marian engine vs CTranslate2 (int8, float32) and transformers on a random model
#       shaped like opus-mt-hi-en (scripts/bench-marian.py); ends with a marian_ratio line.
set -euo pipefail
cd "$(dirname "$0")/.."
baseline=""
rest=()
while [ $# -gt 0 ]; do
  case "$1" in
    --baseline) baseline="${2:?--baseline takes a git revision}"; shift 2 ;;
    *) rest+=("$1"); shift ;;
  esac
done
set -- "${rest[@]+"${rest[@]}"}"
if [ "${1:-}" = "--marian" ]; then
  if ! python3 -c "import torch, transformers, sentencepiece, ctranslate2" 2>/dev/null; then
    echo "bench: installing torch, transformers, sentencepiece, ctranslate2" >&2
    python3 -m pip install --quiet torch transformers sentencepiece ctranslate2 safetensors
  fi
  cargo build --release --quiet --example marian_speed
  exec env BENCH_THREADS="${THREADS:-2}" python3 scripts/bench-marian.py "${@:2}"
fi
scripts/fetch-model.sh >/dev/null
home="${ANUVAD_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/anuvad}"
model="$home/models/gemma-3-270m-q4_k_m.gguf"
threads="${THREADS:-2}"

if ! python3 -c "import llama_cpp, numpy" 2>/dev/null; then
  echo "bench: installing llama-cpp-python (compiles llama.cpp, several minutes)" >&2
  # Native AVX-512 flags, but no AMX: AMX tiles crash in VMs that do not grant them.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
    python3 -m pip install --quiet llama-cpp-python numpy
fi
cargo build --release --quiet --example model_speed --example article_speed --example write_tiny_model
article=tests/fixtures/articles/long.hi.txt
# The engine at revision $1, built in a worktree with a target folder of its own:
# prints the folder holding its examples.
build_baseline() {
  local rev dir
  rev="$(git rev-parse --short "$1")"
  dir="target/baseline-$rev"
  if [ ! -x "$dir/release/examples/article_speed" ]; then
    local wt
    wt="$(mktemp -d)/anuvad-$rev"
    git worktree add --quiet --detach "$wt" "$rev"
    (cd "$wt" && CARGO_TARGET_DIR="$OLDPWD/$dir" cargo build --release --quiet --example model_speed --example article_speed)
    git worktree remove --force "$wt"
  fi
  echo "$dir/release/examples"
}
measure() {
  local bin="$1"; shift
  local common=(--ours "$bin/model_speed" --threads "$threads" --article "$article" --article-bin "$bin/article_speed")
  if [ "${1:-}" = "--quick" ]; then
    python3 scripts/bench.py "$model" "${common[@]}" --reps 1 --prompts 100,500
  else
    # A random-weight model with Gemma 3 1B's real shape and Q4_K_M-like types: speed does
    # not depend on the weights' values.
    big="$home/bench/models/gemma-3-1b-random.gguf"
    [ -f "$big" ] || target/release/examples/write_tiny_model "$home/bench" --gemma3-1b >/dev/null
    python3 scripts/bench.py "$model" "${common[@]}" --reps 3 --prompts 100,500,1500 --model2 "$big"
  fi
}
if [ -n "$baseline" ]; then
  old="$(build_baseline "$baseline")"
  echo "== baseline: $(git log -1 --format='%h %s' "$baseline" | cut -c1-100)"
  measure "$old" "$@"
  echo "== this tree: $(git log -1 --format='%h' HEAD)$(git diff --quiet || echo ' (modified)')"
fi
measure target/release/examples "$@"
