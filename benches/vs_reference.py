#!/usr/bin/env python3
"""calibra vs the Python reference on the same files, in the same run.

    python3 benches/vs_reference.py [perf_medium|perf_large|perf_medium_4x …] [--runs 3] [--format parquet|arrow]

Generates each dataset on first use into bench-cache/ (ignored by git) with
../shared/reference/simulate.py; `perf_medium_4x` is perf_medium with every cell repeated four
times (same perturbations and genes, 4× the cells: peak RSS must not grow). Runs the reference
(`reference.py --deg-engine fast --light`) and `target/release/calibra evaluate --light` (both
skip the big per-gene tables, writing the same outputs) under
/usr/bin/time -v, checks that calibra's metrics.csv, drf_summary.csv and stats.csv equal the
reference's (≤1e-9 relative, identical NaNs), and prints per-stage times, total wall time, peak RSS
and the reference/calibra ratio — medians over the runs. Machines are noisy: compare the ratios.

Needs the reference's Python environment (scanpy 1.11.5, sklearn, statsmodels, pyarrow, pandas):
set PYTHON=/path/to/venv/bin/python (default: the python running this script).
"""
import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("CALIBRA_SHARED", os.path.join(REPO, "..", "shared"))
CACHE = os.path.join(REPO, "bench-cache")
PYTHON = os.environ.get("PYTHON", sys.executable)
# CALIBRA=path overrides the binary (e.g. target/profiling/calibra: release code with symbols).
CALIBRA = os.environ.get("CALIBRA", os.path.join(REPO, "target", "release", "calibra"))
COMPARED = ["metrics.csv", "drf_summary.csv", "stats.csv"]


def dataset(name):
    """Path of the dataset folder, generated on first use."""
    folder = os.path.join(CACHE, name)
    if os.path.exists(os.path.join(folder, "data.parquet")):
        return folder
    if name.endswith("_4x"):
        # In the reference's Python (pyarrow), which need not be the one running this script.
        src = dataset(name[:-3])
        os.makedirs(folder, exist_ok=True)
        repeat = (
            "import sys, pyarrow as pa, pyarrow.parquet as pq\n"
            "t = pq.read_table(sys.argv[1])\n"
            "pq.write_table(pa.concat_tables([t] * 4), sys.argv[2], row_group_size=8192)\n"
        )
        subprocess.run([PYTHON, "-c", repeat, os.path.join(src, "data.parquet"),
                        os.path.join(folder, "data.parquet")], check=True)
        shutil.copy(os.path.join(src, "predictions.parquet"), folder)
        return folder
    print(f"generating {name} into {folder} (first use only)…", flush=True)
    subprocess.run([PYTHON, os.path.join(SHARED, "reference", "simulate.py"), name, "--out", folder], check=True)
    return folder


def timed(cmd):
    """Runs cmd under /usr/bin/time -v; returns (wall seconds, peak RSS bytes)."""
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-3000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1)) * 1024
    return wall, rss


def read_csv(path):
    import csv
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def same(a, b):
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return abs(x - y) <= 1e-12 or abs(x - y) <= 1e-9 * abs(y)


def compare(ours, theirs):
    """Problems between two output folders (empty when equal)."""
    problems = []
    for name in COMPARED:
        a, b = read_csv(os.path.join(ours, name)), read_csv(os.path.join(theirs, name))
        if len(a) != len(b):
            problems.append(f"{name}: {len(a)} rows vs {len(b)}")
            continue
        for i, (ra, rb) in enumerate(zip(a, b)):
            for col, vb in rb.items():
                if not same(ra.get(col), vb):
                    problems.append(f"{name} row {i} {col}: {ra.get(col)} vs {vb}")
                    break
    return problems[:10]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="*", default=["perf_medium"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--format", choices=["parquet", "arrow"], default="parquet",
                    help="input format of the cells file (both tools read the same file)")
    ap.add_argument("--skip-reference", action="store_true", help="time calibra only")
    args = ap.parse_args()
    if "CALIBRA" not in os.environ:  # always current: a no-op when nothing changed
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
    for name in args.datasets:
        folder = dataset(name)
        data = os.path.join(folder, f"data.{args.format}")
        preds = os.path.join(folder, "predictions.parquet")
        out = os.path.join(CACHE, "out", name)
        runs = {"calibra": [], "reference": []}
        for i in range(args.runs):
            o = os.path.join(out, "calibra")
            wall, rss = timed([CALIBRA, "evaluate", "--quiet", "--light", "--cells", data,
                               "--predictions", preds, "--out", o])
            with open(os.path.join(o, "manifest.json")) as f:
                stages = json.load(f)["timings_seconds"]
            runs["calibra"].append((wall, rss, stages))
            if args.skip_reference:
                continue
            o = os.path.join(out, "reference")
            wall, rss = timed([PYTHON, os.path.join(SHARED, "reference", "reference.py"), "--data", data,
                               "--predictions", preds, "--out", o, "--deg-engine", "fast", "--light"])
            with open(os.path.join(o, "timings.json")) as f:
                stages = json.load(f)
            runs["reference"].append((wall, rss, stages))
            print(f"  run {i + 1}: calibra {runs['calibra'][-1][0]:.2f} s, reference {wall:.2f} s", flush=True)
        print(f"\n== {name} ({args.format}, {os.path.getsize(data) / 1e6:.0f} MB, median of {args.runs})")
        for tool, rs in runs.items():
            if not rs:
                continue
            walls = [r[0] for r in rs]
            rss = max(r[1] for r in rs)
            stage_names = list(rs[0][2])
            stage_text = ", ".join(f"{s} {statistics.median(r[2].get(s, 0.0) for r in rs):.2f}" for s in stage_names)
            print(f"{tool:10s} wall {statistics.median(walls):8.2f} s   peak RSS {rss / 2**20:8.0f} MiB")
            print(f"{'':10s} stages (s): {stage_text}")
        if runs["reference"]:
            ratios = [r[0] / c[0] for r, c in zip(runs["reference"], runs["calibra"])]
            print(f"ratio reference/calibra (same run): median {statistics.median(ratios):.1f}×, "
                  f"runs {', '.join(f'{x:.1f}' for x in ratios)}")
            problems = compare(os.path.join(out, "calibra"), os.path.join(out, "reference"))
            print("outputs equal (metrics, drf_summary, stats ≤1e-9 relative)" if not problems
                  else "OUTPUTS DIFFER:\n  " + "\n  ".join(problems))
            if problems:
                sys.exit(1)


if __name__ == "__main__":
    main()
