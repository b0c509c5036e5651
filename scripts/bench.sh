#!/usr/bin/env bash
# anuvad's engine vs llama.cpp (llama-cpp-python, compiled from source for this machine)
# on the default model: prefill and decode tokens/s, a whole article end to end, peak
# RSS, and their ratios, measured in the same run; then the real Qwen 2.5 Coder 0.5B and
# 1.5B GGUFs (fetched from PyPI) and random-weight models with the real shapes and Q4_K_M
# mixes of Gemma 3 1B and 4B, Llama 3.2 3B and Qwen 2.5 3B, and the article again on
# Qwen 2.5 1.5B. Prints the CPU and its instruction sets first; ends with
#   ratio decode=X prefill=Y article=Z rss_mb=N
#   ratio model=qwen2.5-coder-1.5b-instruct-q4_k_m.gguf decode=… prefill=… article=… rss_mb=… llama_rss_mb=…
#   scripts/bench.sh [--quick]   (--quick: one repetition, prompts of 100 and 500 tokens,
#                                 default model only; under 5 minutes once llama.cpp is built)
#   MODELS="qwen2.5-0.5b gemma3-4b" scripts/bench.sh   (only these of the other models)
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
# Which machine this is: every table in BENCHMARKS.md names it.
echo "== machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) cores"
echo "== instruction sets: $(grep -o -w 'avx2\|fma\|f16c\|avx_vnni\|avx512[a-z_0-9]*\|amx[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
scripts/fetch-model.sh >/dev/null
home="${ANUVAD_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/anuvad}"
model="$home/models/gemma-3-270m-q4_k_m.gguf"
threads="${THREADS:-2}"

if ! python3 -c "import llama_cpp, numpy" 2>/dev/null; then
  echo "bench: installing llama-cpp-python (compiles llama.cpp, several minutes)" >&2
  # Built for this machine's own instruction sets (whatever they are), but no AMX:
  # AMX tiles crash in VMs that do not grant them.
  CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
    python3 -m pip install --quiet --no-cache-dir llama-cpp-python numpy
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
    # The real Qwen 2.5 GGUFs, and random-weight models with real shapes and Q4_K_M-like
    # types: speed does not depend on the weights' values.
    local extra=() want=${MODELS:-"qwen2.5-0.5b qwen2.5-1.5b gemma3-1b gemma3-4b llama3.2-3b qwen2.5-3b"}
    for m in $want; do
      case "$m" in
        qwen2.5-0.5b|qwen2.5-1.5b)
          local id=qwen2.5-coder-${m#qwen2.5-}-instruct
          scripts/fetch-model.sh "$id" >/dev/null
          extra+=(--extra "$home/models/$(sed -n 's/^file = "\(.*\)"/\1/p' "models/$id.toml")") ;;
        *)
          local f="$home/bench/models/$m-random.gguf"
          [ -f "$f" ] || target/release/examples/write_tiny_model "$home/bench" --shape "$m" >/dev/null
          extra+=(--extra "$f") ;;
      esac
    done
    local second=()
    if [[ " $want " == *" qwen2.5-1.5b "* ]]; then
      second=(--article-model "$home/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" --card qwen2.5-coder-1.5b-instruct)
    fi
    python3 scripts/bench.py "$model" "${common[@]}" --reps 3 --prompts 100,500,1500 "${extra[@]}" "${second[@]}"
  fi
}
if [ -n "$baseline" ]; then
  old="$(build_baseline "$baseline")"
  echo "== baseline: $(git log -1 --format='%h %s' "$baseline" | cut -c1-100)"
  measure "$old" "$@"
  echo "== this tree: $(git log -1 --format='%h' HEAD)$(git diff --quiet || echo ' (modified)')"
fi
measure target/release/examples "$@"
