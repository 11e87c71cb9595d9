#!/usr/bin/env bash
# Builds both WebAssembly flavours and the page's vendored assets into www/:
#   www/pkg-st  single-thread fallback (stable Rust)
#   www/pkg-mt  threaded build (nightly, atomics + build-std, wasm-bindgen-rayon)
#   www/vendor  Observable Plot + d3 from node_modules (no CDN)
set -euo pipefail
cd "$(dirname "$0")/.."
unset RUSTFLAGS   # an exported RUSTFLAGS would silently override the threads config

echo "== wasm: single-thread build"
cargo build --release --lib --target wasm32-unknown-unknown --no-default-features --target-dir target/wasm-st
wasm-bindgen --target web --out-dir www/pkg-st target/wasm-st/wasm32-unknown-unknown/release/calibra.wasm

echo "== wasm: threaded build"
cargo +nightly build --release --lib --target wasm32-unknown-unknown --no-default-features --features threads \
  --config .cargo/wasm-threads.toml --target-dir target/wasm-mt
wasm-bindgen --target web --out-dir www/pkg-mt target/wasm-mt/wasm32-unknown-unknown/release/calibra.wasm

echo "== vendored JS"
mkdir -p www/vendor
cp node_modules/d3/dist/d3.min.js node_modules/@observablehq/plot/dist/plot.umd.min.js www/vendor/
ls -la www/pkg-st/*.wasm www/pkg-mt/*.wasm
