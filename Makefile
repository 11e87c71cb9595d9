# calibra — the README's two commands, plus their parts.
#   make serve   build both WebAssembly flavours + the page, serve on http://127.0.0.1:$(PORT)/
#   make test    every test: native (unit, golden, layouts, real data, bad input), the core in
#                WASM under headless Chromium, and the page end to end with Playwright
PORT ?= 8080
CHROMEDRIVER ?= /usr/bin/chromedriver
export CHROMEDRIVER

.PHONY: serve web example test test-native test-wasm test-e2e test-spark

serve: web
	PORT=$(PORT) node scripts/serve.mjs

web:
	bash scripts/build-web.sh

# The CLI on calibra's built-in simulated example.
example:
	cargo run --release -- evaluate --example --out calibra-example

test: test-native web test-wasm test-e2e test-spark

test-native:
	cargo test

# The core reproduces golden_small inside the threaded WASM build (reuses the web build's
# release dependencies in target/wasm-mt).
test-wasm:
	cargo +nightly test --release --target wasm32-unknown-unknown --no-default-features --features threads \
	  --config .cargo/wasm-threads.toml --target-dir target/wasm-mt --test wasm_golden

# The statistics table (SPEC §12.6) made by Apache Spark (local[2]) and DuckDB from golden_small
# and from Papalexi's raw counts (normalised by the query) in the long layout equals calibra's
# own, and evaluates to the same numbers. Needs Java; the Python packages go into their own venv.
SPARK_VENV := target/spark-venv
test-spark:
	cargo build --bin calibra
	test -x $(SPARK_VENV)/bin/python || python3 -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/python -c "import pyspark, duckdb, pandas" 2>/dev/null || \
	  $(SPARK_VENV)/bin/pip install -q pyspark==4.3.0 duckdb==2.0.1 pyarrow pandas numpy
	CALIBRA=target/debug/calibra $(SPARK_VENV)/bin/python benches/spark_stats.py \
	  $${CALIBRA_SHARED:-../shared}/golden/golden_small
	CALIBRA=target/debug/calibra $(SPARK_VENV)/bin/python benches/spark_stats.py --normalize \
	  $${CALIBRA_SHARED:-../shared}/data/papalexi2021_counts.parquet

# The CLI (debug build, as `cargo test` leaves it) makes the wide screen the page is tested on.
test-e2e:
	cargo build --bin calibra
	node --test tests/e2e/
