#!/usr/bin/env bash
# Render a review page to PNG with headless Chromium, to see it as a browser does.
#   scripts/render-review.sh PAGE.html OUT.png [WIDTH] [HEIGHT]   (default 1280 x 2400)
# Needs the `chromium` package (Debian: apt-get install chromium). The page is
# self-contained, so the render uses no network.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: scripts/render-review.sh PAGE.html OUT.png [WIDTH] [HEIGHT]" >&2
  exit 2
fi
page=$(realpath "$1")
out=$(realpath -m "$2")
width=${3:-1280}
height=${4:-2400}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [[ -z "$browser" ]]; then
  echo "render-review: no chromium found; install it (apt-get install chromium)" >&2
  exit 3
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --user-data-dir="$profile" --window-size="$width,$height" \
  --screenshot="$out" "file://$page" >/dev/null 2>&1
if [[ ! -s "$out" ]]; then
  echo "render-review: chromium produced no image for $page" >&2
  exit 1
fi
echo "$out"
