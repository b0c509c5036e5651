#!/usr/bin/env bash
# anuvad's engine vs llama.cpp (llama-cpp-python, compiled from source) on the default
# model: prefill and decode tokens/s and their ratio, measured in the same run.
#   scripts/bench.sh [--quick]     (--quick: one repetition, prompts of 100 and 500 tokens)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-model.sh >/dev/null
home="${ANUVAD_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/anuvad}"
model="$home/models/gemma-3-270m-q4_k_m.gguf"

if ! python3 -c "import llama_cpp, numpy" 2>/dev/null; then
  echo "bench: installing llama-cpp-python (compiles llama.cpp, several minutes)" >&2
  # Native AVX-512 flags, but no AMX: AMX tiles crash in VMs that do not grant them.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
    python3 -m pip install --quiet llama-cpp-python numpy
fi
cargo build --release --quiet --example model_speed
if [ "${1:-}" = "--quick" ]; then
  python3 scripts/bench.py "$model" --ours target/release/examples/model_speed --reps 1 --prompts 100,500
else
  python3 scripts/bench.py "$model" --ours target/release/examples/model_speed --reps 3 --prompts 100,500,1500
fi
