# calibra — the README's two commands, plus their parts.
#   make serve   build both WebAssembly flavours + the page, serve on http://127.0.0.1:$(PORT)/
#   make test    every test: native (unit, golden, layouts, real data, bad input), the core in
#                WASM under headless Chromium, and the page end to end with Playwright
PORT ?= 8080
CHROMEDRIVER ?= /usr/bin/chromedriver
export CHROMEDRIVER

.PHONY: serve web example test test-native test-wasm test-e2e

serve: web
	PORT=$(PORT) node scripts/serve.mjs

web:
	bash scripts/build-web.sh

# The CLI on calibra's built-in simulated example.
example:
	cargo run --release -- evaluate --example --out calibra-example

test: test-native web test-wasm test-e2e

test-native:
	cargo test

# The core reproduces golden_small inside the threaded WASM build (reuses the web build's
# release dependencies in target/wasm-mt).
test-wasm:
	cargo +nightly test --release --target wasm32-unknown-unknown --no-default-features --features threads \
	  --config .cargo/wasm-threads.toml --target-dir target/wasm-mt --test wasm_golden

# The CLI (debug build, as `cargo test` leaves it) makes the wide screen the page is tested on.
test-e2e:
	cargo build --bin calibra
	node --test tests/e2e/
