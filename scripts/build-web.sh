#!/usr/bin/env bash
# Builds both WebAssembly flavours and the page's vendored assets into www/:
#   www/pkg-st  single-thread fallback (stable Rust)
#   www/pkg-mt  threaded build (nightly, atomics + build-std, wasm-bindgen-rayon)
#   www/vendor  Observable Plot + d3 from node_modules (no CDN)
set -euo pipefail
cd "$(dirname "$0")/.."
unset RUSTFLAGS   # an exported RUSTFLAGS would silently override the threads config
WASM_BINDGEN_VERSION=0.2.130   # must equal the `=` pin of wasm-bindgen in Cargo.toml

# What a fresh machine lacks (each step is skipped when already there), so `make serve` works
# right after cloning. .ci/run installs the same plus chromium for the tests.
# clang: the C parts of Parquet's codecs (zstd) are compiled for wasm32 by clang, not gcc.
if ! command -v clang >/dev/null; then
  echo "== clang (compiles zstd for wasm32): installing Debian's package"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if command -v apt-get >/dev/null && { [ -z "$SUDO" ] || command -v sudo >/dev/null; }; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
  else
    echo "clang is needed to build the page (zstd for wasm32) and could not be installed here:" >&2
    echo "install clang with your system's package manager, then run 'make serve' again." >&2
    exit 1
  fi
fi
rustup target list --installed | grep -q '^wasm32-unknown-unknown$' || rustup target add wasm32-unknown-unknown
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup +nightly component list --installed | grep -q '^rust-src' || rustup component add rust-src --toolchain nightly
rustup +nightly target list --installed | grep -q '^wasm32-unknown-unknown$' || rustup target add wasm32-unknown-unknown --toolchain nightly
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
[ -d node_modules/@observablehq/plot ] || npm ci --no-audit --no-fund

echo "== wasm: single-thread build"
cargo build --release --lib --target wasm32-unknown-unknown --no-default-features --config .cargo/wasm-simd.toml --target-dir target/wasm-st
wasm-bindgen --target web --out-dir www/pkg-st target/wasm-st/wasm32-unknown-unknown/release/calibra.wasm

echo "== wasm: threaded build"
cargo +nightly build --release --lib --target wasm32-unknown-unknown --no-default-features --features threads \
  --config .cargo/wasm-threads.toml --target-dir target/wasm-mt
wasm-bindgen --target web --out-dir www/pkg-mt target/wasm-mt/wasm32-unknown-unknown/release/calibra.wasm

echo "== vendored JS"
mkdir -p www/vendor
cp node_modules/d3/dist/d3.min.js node_modules/@observablehq/plot/dist/plot.umd.min.js www/vendor/
ls -la www/pkg-st/*.wasm www/pkg-mt/*.wasm
