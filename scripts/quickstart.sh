#!/usr/bin/env bash
# Fresh machine to first result: fetch the default model, build anuvad, then translate
# and summarize a Hindi news article (the bundled sample unless you name one).
set -euo pipefail
cd "$(dirname "$0")/.."
article="${1:-tests/fixtures/articles/sample.hi.txt}"

scripts/fetch-model.sh
cargo build --release --quiet
echo "== translation of $article"
target/release/anuvad translate "$article"
echo
echo "== summary of $article"
target/release/anuvad summarize "$article"
