#!/usr/bin/env python
"""Build raw-count AnnData inputs for `cell-eval2 run --input-type counts` from Papalexi 2021.

Usage:
    python benches/celleval2_counts_inputs.py INPUT_PARQUET OUTDIR
    e.g. python benches/celleval2_counts_inputs.py ../shared/data/papalexi2021_counts.parquet \
             /work/peer-counts/inputs

Writes OUTDIR/<model>/{real,pred}.h5ad for model in (collapsed_counts, noisy_counts) and
OUTDIR/inputs_manifest.json (cell counts, SHA-256 of every X). Nothing is written elsewhere.
The goldens in tests/fixtures/celleval2_counts/ were produced from these files; see the README there.

Construction (same rules as the lognorm goldens' build_celleval_inputs.py, but in raw counts):

Input   : wide Parquet, one row per cell: 'perturbation' (utf8; the control label in this file is
          'control'), 'half', 'fold' (int), then 299 float32 gene columns holding raw UMI counts.
          Gene order = the file's column order.
E       : evaluated perturbations = unique labels with fold >= 0, i.e. every non-control label
          (25 of them). fold == 0 alone would give only 5 (CD86, IRF1, MARCH8, SPI1 with 33 cells,
          TNFRSF14) and only one of them (TNFRSF14) is a measured gene, so all 25 are used.
REAL    : every row whose perturbation is in E plus every control row, in Parquet order.
          X = the gene columns, dense float32, values untouched (integers).
          obs_names = 'c<0-based row index in the Parquet>'; obs: perturbation (str), half (str),
          fold (int32); var_names = gene order.
PRED    : same obs / obs_names / var_names / row order; control rows = the real control cells.
  collapsed_counts : every cell of perturbation p gets mean_p = (1/K_p) * sum over p's real cells
          of the count vector (summed in float64 in row order with numpy's mean, then cast to
          float32). K_p identical, non-integer rows.
  noisy_counts     : F = exp(rng.normal(0, 0.3, size=(P, G))) with rng = numpy default_rng(0),
          rows = E in sorted order, columns = gene order (one draw, row-major). Each perturbed
          cell c of p: round(x_c * F[p, :]) computed in float64, rounded with np.rint (round half
          to even; plain rounding, no Poisson draw), cast to float32. Integer, non-negative.
"""
import argparse
import hashlib
import json
import os

import anndata as ad
import numpy as np
import pandas as pd

META = ["perturbation", "half", "fold"]
CONTROL = "control"
SIGMA = 0.3
SEED = 0


def sha(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x, dtype=np.float32).tobytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input_parquet")
    ap.add_argument("outdir")
    args = ap.parse_args()

    df = pd.read_parquet(args.input_parquet)
    genes = [c for c in df.columns if c not in META]
    evaluated = sorted(df.loc[df["fold"] >= 0, "perturbation"].unique().tolist())
    assert CONTROL not in evaluated
    mask = df["perturbation"].isin(evaluated) | (df["perturbation"] == CONTROL)
    rows = np.flatnonzero(mask.to_numpy())
    cells = df.iloc[rows]
    obs = pd.DataFrame(
        {
            "perturbation": cells["perturbation"].astype(str).to_numpy(),
            "half": cells["half"].astype(str).to_numpy(),
            "fold": cells["fold"].astype(np.int32).to_numpy(),
        },
        index=[f"c{i}" for i in rows],
    )
    var = pd.DataFrame(index=pd.Index(genes, name=None))
    X_real = cells[genes].to_numpy(dtype=np.float32, copy=True)
    assert (X_real >= 0).all() and (X_real == np.rint(X_real)).all(), "input must be raw counts"

    labels = obs["perturbation"].to_numpy()
    is_ctrl = labels == CONTROL

    # (a) collapsed_counts: per-perturbation mean count vector, K identical rows
    X_col = X_real.copy()
    for p in evaluated:
        idx = np.flatnonzero(labels == p)
        m = X_real[idx].astype(np.float64).mean(axis=0)
        X_col[idx] = m.astype(np.float32)[None, :]

    # (b) noisy_counts: per-(perturbation, gene) lognormal factor, plain rounding
    rng = np.random.default_rng(SEED)
    F = np.exp(rng.normal(0.0, SIGMA, size=(len(evaluated), len(genes))))
    X_noi = X_real.copy()
    for i, p in enumerate(evaluated):
        idx = np.flatnonzero(labels == p)
        X_noi[idx] = np.rint(X_real[idx].astype(np.float64) * F[i][None, :]).astype(np.float32)

    os.makedirs(args.outdir, exist_ok=True)
    counts = obs["perturbation"].value_counts().sort_index()
    manifest = {
        "input": os.path.basename(args.input_parquet),
        "n_genes": len(genes),
        "n_cells": int(obs.shape[0]),
        "n_control_cells": int(is_ctrl.sum()),
        "evaluated_perturbations": evaluated,
        "targets_among_genes": [p for p in evaluated if p in set(genes)],
        "cells_per_perturbation": {k: int(v) for k, v in counts.items()},
        "sha256_real_X": sha(X_real),
        "noise": {"sigma": SIGMA, "seed": SEED, "rounding": "np.rint (half to even), float64"},
        "models": {},
    }
    for model, X_pred in (("collapsed_counts", X_col), ("noisy_counts", X_noi)):
        d = os.path.join(args.outdir, model)
        os.makedirs(d, exist_ok=True)
        ad.AnnData(X=X_real, obs=obs.copy(), var=var.copy()).write_h5ad(os.path.join(d, "real.h5ad"))
        ad.AnnData(X=X_pred, obs=obs.copy(), var=var.copy()).write_h5ad(os.path.join(d, "pred.h5ad"))
        manifest["models"][model] = {
            "sha256_pred_X": sha(X_pred),
            "pred_is_integer": bool((X_pred == np.rint(X_pred)).all()),
            "pred_min": float(X_pred.min()),
            "pred_max": float(X_pred.max()),
            "pred_total_counts_perturbed": float(X_pred[~is_ctrl].astype(np.float64).sum()),
            "real_total_counts_perturbed": float(X_real[~is_ctrl].astype(np.float64).sum()),
        }
        print(model, X_pred.shape, "perts", len(evaluated), "ctrl", int(is_ctrl.sum()))
    with open(os.path.join(args.outdir, "inputs_manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
