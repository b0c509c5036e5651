#!/usr/bin/env bash
# The aarch64 (Apple Silicon, Graviton) kernels and tiny-model tests, cross-compiled and
# run under qemu-user: with the dot-product extension (QEMU_CPU=max) and our kernels
# again without it (cortex-a53), so both NEON paths run. This checks correctness only; ARM
# speed is not measured on these x86 machines.
#
# Needs the Rust target aarch64-unknown-linux-gnu (rustup target add …) and Debian's
# gcc/g++-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user; installs what it can
# (apt-get needs root). Where they cannot be had it says so and exits 0 with SKIP on its
# last line, unless ANUVAD_REQUIRE_AARCH64=1 (then it fails).
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
skip() {
  echo "test-aarch64: $1" >&2
  if [ "${ANUVAD_REQUIRE_AARCH64:-0}" = 1 ]; then exit 1; fi
  echo "test-aarch64: SKIP (aarch64 tests not run)"
  exit 0
}

if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  timeout 600 rustup target add "$target" >&2 || skip "the Rust target $target cannot be installed here (rustup target add $target)"
fi
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross >&2 \
      || skip "apt-get could not install qemu-user and the aarch64 cross compilers"
  else
    skip "needs qemu-user, gcc-aarch64-linux-gnu, g++-aarch64-linux-gnu and libc6-dev-arm64-cross (Debian packages)"
  fi
fi

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
# Its own target directory: a cross build must not evict the native one's artifacts.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}/aarch64-cross

echo "test-aarch64: kernels and tiny models under qemu-aarch64 -cpu max (NEON with sdot)"
QEMU_CPU=max cargo test --quiet --profile ci --target "$target" --lib models::
QEMU_CPU=max cargo test --quiet --profile ci --target "$target" --test architectures
# An ARMv8.0 core without sdot: our kernels' other NEON path. candle's own quantized
# kernels use sdot unconditionally (SIGILL here), so only our kernel tests run.
echo "test-aarch64: kernels under qemu-aarch64 -cpu cortex-a53 (NEON without sdot)"
QEMU_CPU=cortex-a53 cargo test --quiet --profile ci --target "$target" --lib models::kernels
echo "test-aarch64: PASS"
