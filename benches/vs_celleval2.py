#!/usr/bin/env python3
"""calibra's cell-eval2 family against `cell-eval2 run` itself, same inputs, same machine, one run.

    CELLEVAL2=/path/to/venv/bin/cell-eval2 python3 benches/vs_celleval2.py [--runs 3] [--perf perf_medium]

The peer is not installed by this script (nor by CI): make a venv with
`python3 -m venv V && V/bin/pip install cell-eval2==0.20.0 pdex==0.3.0` and point CELLEVAL2 at
V/bin/cell-eval2. Without it the script says so and stops.

For the two inputs of the peer goldens (A = golden_single, C = the Norman19 subset) it builds the
h5ad files with `../shared/golden/peers/celleval2/scripts/build_celleval_inputs.py` (the peer
venv's python), then times, under /usr/bin/time -v (wall, peak RSS), medians of --runs (--peer-runs for the peer):
  * `cell-eval2 run` per model with the goldens' exact settings (profile `full`, and the `vcc2026`
    preset), a cold CLI process as a user runs it;
  * `calibra evaluate --metrics calibrated,celleval2 --compat celleval --light`: one run scores
    every model (and the baselines, with calibration);
  * `calibra evaluate --light` (the calibrated core alone).
Ratios: the peer's summed per-model time over calibra's run (issue 16's target: ≥ 20×), and on
`--perf` (a vs_reference.py dataset), the family's cost over the core's (target ≤ 3×).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vs_reference import CALIBRA, SHARED, dataset  # noqa: E402

INPUTS = {
    "A_golden_single": (
        os.path.join(SHARED, "golden", "golden_single", "data.parquet"),
        os.path.join(SHARED, "golden", "golden_single", "predictions.parquet"),
        ["collapsed", "noisy_truth"], []),
    "C_norman19_subset": (
        os.path.join(SHARED, "data", "norman19_subset.parquet"),
        os.path.join(SHARED, "data", "norman19_subset_predictions.parquet"),
        ["additive_guess", "noisy_truth"], ["--no-target-genes"]),
}


def timed(cmd, cwd=None):
    """(wall seconds, peak RSS MB) of one command."""
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, cwd=cwd)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
    wall = rss = None
    for line in p.stderr.splitlines():
        line = line.strip()
        if line.startswith("Elapsed (wall clock) time"):
            parts = [float(x) for x in line.split(": ")[-1].split(":")]
            wall = sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
        elif line.startswith("Maximum resident set size"):
            rss = int(line.split(": ")[-1]) / 1024
    return wall, rss


def median_of(runs, cmd, cwd=None):
    results = [timed(cmd, cwd) for _ in range(runs)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def calibra(cells, predictions, extra, runs):
    with tempfile.TemporaryDirectory() as tmp:
        return median_of(runs, [CALIBRA, "evaluate", "--cells", cells, "--predictions", predictions,
                                "--light", "--out", os.path.join(tmp, "out")] + extra)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs of calibra (median)")
    ap.add_argument("--peer-runs", type=int, default=1, help="runs of cell-eval2 per model and profile (median)")
    ap.add_argument("--perf", default="perf_medium", help="vs_reference.py dataset for the family-vs-core ratio ('' to skip)")
    args = ap.parse_args()
    if not os.path.exists(CALIBRA):
        sys.exit(f"{CALIBRA} missing: cargo build --release")
    peer = os.environ.get("CELLEVAL2") or shutil.which("cell-eval2")
    if not peer or not os.path.exists(peer):
        print("cell-eval2 not found: set CELLEVAL2=/path/to/venv/bin/cell-eval2 (see the docstring); "
              "only calibra's family-vs-core ratio is measured.")
        peer = None
    rows = []
    if peer:
        python = os.path.join(os.path.dirname(peer), "python")
        work = tempfile.mkdtemp(prefix="vs_celleval2_")
        build = os.path.join(SHARED, "golden", "peers", "celleval2", "scripts", "build_celleval_inputs.py")
        # The build script reads shared/... relative to its working directory.
        subprocess.run([python, build, "--out", os.path.join(work, "inputs")], check=True,
                       cwd=os.path.dirname(SHARED), capture_output=True)
        for tag, (cells, predictions, models, extra) in INPUTS.items():
            ours = calibra(cells, predictions, ["--metrics", "calibrated,celleval2", "--compat", "celleval"], args.runs)
            core = calibra(cells, predictions, [], args.runs)
            for preset in (["--profile", "full"], ["--preset", "vcc2026"]):
                total, peak = 0.0, 0.0
                for model in models:
                    inputs = os.path.join(work, "inputs", tag, "cell-eval", model, "inputs")
                    out = os.path.join(work, "out", tag, model, preset[1])
                    wall, rss = median_of(args.peer_runs, [
                        peer, "run", "-ap", os.path.join(inputs, "pred.h5ad"), "-ar", os.path.join(inputs, "real.h5ad"),
                        *preset, "--pert-col", "perturbation", "--control", "control", "--input-type", "lognorm",
                        "--set", "device=cpu", "--set", "de.backend=pdex", "--set", "num_threads=2",
                        "--set", "gather_threads=2", "--set", "validate_input=false", "--write-degenes",
                        *extra, "-o", out])
                    total += wall
                    peak = max(peak, rss)
                rows.append((tag, preset[1], len(models), total, peak, ours[0], ours[1], core[0], total / ours[0]))
        shutil.rmtree(work, ignore_errors=True)
        print("\n| input | cell-eval2 profile | models | cell-eval2 s (sum of runs) | its peak MB | calibra celleval2 s | calibra MB | calibra core s | speed-up |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.1f} | {r[4]:.0f} | {r[5]:.2f} | {r[6]:.0f} | {r[7]:.2f} | {r[8]:.0f}× |")
    if args.perf:
        folder = dataset(args.perf)
        cells, predictions = os.path.join(folder, "data.parquet"), os.path.join(folder, "predictions.parquet")
        core = calibra(cells, predictions, [], args.runs)
        family = calibra(cells, predictions, ["--metrics", "calibrated,celleval2"], args.runs)
        print(f"\n{args.perf}: core {core[0]:.2f} s / {core[1]:.0f} MB; core + celleval2 {family[0]:.2f} s / "
              f"{family[1]:.0f} MB: {family[0] / core[0]:.2f}× time, {family[1] / core[1]:.2f}× peak RSS")


if __name__ == "__main__":
    main()
