#!/usr/bin/env python3
"""Cost of the cell-level (distributional) family against the calibrated core, same input, same run.

    python3 benches/cell_level.py [perf_medium] [--runs 3] [--cells-per-perturbation 100]

Generates the dataset on first use (benches/vs_reference.py's bench-cache/), then a file of
generated cells: per model and perturbation of the dataset's predictions, N cells =
the model's predicted profile + Gaussian noise (sd 0.3, seeded, clipped at 0), float32, wide,
`model, perturbation, <genes>` (written once to bench-cache/<name>/generated_cells.parquet).
Times `calibra evaluate --light` with the core only and with `--metrics distributional` in each
space and all three, under /usr/bin/time -v: medians of wall time and peak RSS, and the ratios
to the core (the issue's targets: ≤ 3× time, ≤ 1.5× RSS). Machines are noisy: compare ratios.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vs_reference import CALIBRA, PYTHON, dataset  # noqa: E402

GENERATE = r"""
import sys, numpy as np, pyarrow as pa, pyarrow.parquet as pq
pred = pq.read_table(sys.argv[1]).to_pandas()
n, out = int(sys.argv[2]), sys.argv[3]
genes = [c for c in pred.columns if c not in ("model", "perturbation", "context")]
rng = np.random.default_rng(0)
writer = None
for model, rows in pred.groupby("model", sort=True) if "model" in pred else [("model", pred)]:
    for _, row in rows.iterrows():
        mu = row[genes].to_numpy(np.float64)
        x = np.clip(mu + rng.normal(0.0, 0.3, size=(n, len(genes))), 0, None).astype(np.float32)
        cols = {"model": pa.array([str(model)] * n), "perturbation": pa.array([row["perturbation"]] * n)}
        cols.update({g: pa.array(x[:, j]) for j, g in enumerate(genes)})
        t = pa.table(cols)
        writer = writer or pq.ParquetWriter(out, t.schema)
        writer.write_table(t)
writer.close()
"""


def generated_cells(folder, n):
    out = os.path.join(folder, f"generated_cells_{n}.parquet")
    if not os.path.exists(out):
        print(f"writing {out} (first use only)…", flush=True)
        subprocess.run([PYTHON, "-c", GENERATE, os.path.join(folder, "predictions.parquet"), str(n), out],
                       check=True)
    return out


def run(cells, predictions, extra):
    """(wall seconds, peak RSS MB) of one evaluation."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["/usr/bin/time", "-v", CALIBRA, "evaluate", "--cells", cells, "--predictions", predictions,
               "--light", "--out", os.path.join(tmp, "out")] + extra
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"calibra failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
        wall = rss = None
        for line in p.stderr.splitlines():
            line = line.strip()
            if line.startswith("Elapsed (wall clock) time"):
                parts = line.split()[-1].split(":")
                wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(parts)))
            if line.startswith("Maximum resident set size"):
                rss = int(line.split()[-1]) / 1024
        return wall, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("datasets", nargs="*", default=["perf_medium"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cells-per-perturbation", type=int, default=100)
    ap.add_argument("--only", default="", help="comma-separated run labels to keep (core always runs)")
    args = ap.parse_args()
    variants = [
        ("core", []),
        ("distributional raw", ["--metrics", "distributional", "--spaces", "raw"]),
        ("distributional pca", ["--metrics", "distributional", "--spaces", "pca"]),
        ("distributional deg", ["--metrics", "distributional", "--spaces", "deg"]),
        ("distributional raw,pca,deg", ["--metrics", "distributional"]),
    ]
    if args.only:
        keep = {v.strip() for v in args.only.split(",")}
        variants = [v for v in variants if v[0] == "core" or v[0].split()[-1] in keep]
    for name in args.datasets:
        folder = dataset(name)
        cells = os.path.join(folder, "data.parquet")
        generated = generated_cells(folder, args.cells_per_perturbation)
        print(f"\n{name}: {args.cells_per_perturbation} generated cells per perturbation and model; "
              f"medians of {args.runs}", flush=True)
        print(f"{'run':28} {'wall s':>8} {'RSS MB':>8} {'× time':>7} {'× RSS':>7}")
        base = None
        for label, extra in variants:
            results = [run(cells, generated, extra) for _ in range(args.runs)]
            wall = statistics.median(r[0] for r in results)
            rss = statistics.median(r[1] for r in results)
            base = base or (wall, rss)
            print(f"{label:28} {wall:8.2f} {rss:8.0f} {wall / base[0]:7.2f} {rss / base[1]:7.2f}", flush=True)


if __name__ == "__main__":
    main()
