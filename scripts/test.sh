#!/usr/bin/env bash
# The whole test suite on a fresh machine: fetch the default model (needed by the
# end-to-end and parity tests), then lint and run every test. .ci/run calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== fetching the default model (skipped when present and verified)"
scripts/fetch-model.sh

# With the model fetched, tests that need it must not skip silently.
export ANUVAD_REQUIRE_MODEL=1

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings

# Optimised (profile `ci`): the end-to-end tests drive the real model through the
# binary, which is ~30x slower unoptimised.
echo "== cargo test --profile ci"
cargo test --profile ci --all-targets
