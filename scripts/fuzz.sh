#!/usr/bin/env bash
# Fuzzes the h5ad reader (and everything after it) with cargo-fuzz for SECONDS (default 60):
# seeds are valid h5ad files in every encoding the tests write; a panic fails the run.
#   bash scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-60}"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
CORPUS=fuzz/corpus/h5ad
mkdir -p "$CORPUS"
CALIBRA_FUZZ_SEEDS="$PWD/$CORPUS" cargo test --test h5ad write_fuzz_seeds -- --ignored --quiet
cargo +nightly fuzz run h5ad "$CORPUS" -- -max_total_time="$SECONDS_TO_RUN" -max_len=200000 -rss_limit_mb=4096
