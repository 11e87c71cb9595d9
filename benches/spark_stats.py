#!/usr/bin/env python3
"""The sufficient-statistics table from Apache Spark and DuckDB, evaluated by calibra.

    python3 benches/spark_stats.py [perf_medium|perf_large|FOLDER|CELLS.parquet] [--engines spark,duckdb] [--normalize]

For a dataset of benches/vs_reference.py (generated on first use into bench-cache/), a FOLDER
holding data.parquet and predictions.parquet, or a cells file alone (`make test-spark`:
../shared/golden/golden_small, and Papalexi's raw counts with --normalize; work files go to
bench-cache/stats-bench/NAME). With --normalize the engines' query and calibra normalise each
cell (normalize_total(1e4) + log1p):
1. writes its cells in calibra's long layout (`cell, gene, value` + the cell's perturbation,
   half and fold on each row; non-zero values only) — the input of `calibra stats --print-sql`;
2. evaluates the long file directly: `calibra evaluate --cells long.parquet --light`;
3. per engine, runs the query calibra prints (`calibra stats --print-sql spark|duckdb
   --fold-column fold`) — Spark in `local[2]` (PySpark from the package index, Java from apt),
   DuckDB in-process — and `calibra stats merge` of its output (a directory of parts = one
   table) and `calibra evaluate --stats`;
4. checks the engine's table against `calibra stats` of the same file (same rows, n exact,
   sums ≤ 1e-12 relative) and the evaluation from it against the direct one (metrics.csv,
   drf_summary.csv, stats.csv ≤ 1e-9 relative), and prints times and sizes.

Needs pyarrow, numpy, pyspark (+ a Java runtime) and duckdb in PYTHON (default: this python).
Exits non-zero on any mismatch.
"""
import argparse
import math
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vs_reference as vr  # noqa: E402

CALIBRA = os.environ.get("CALIBRA", os.path.join(vr.REPO, "target", "release", "calibra"))


def long_form(cells, work):
    """The cells of a wide Parquet file in the long layout (written once into work), sorted by
    cell."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = os.path.join(work, "long.parquet")
    if os.path.exists(out):
        return out
    f = pq.ParquetFile(cells)
    obs = [c for c in ("perturbation", "half", "fold", "cell_type") if c in f.schema_arrow.names]
    genes = [c for c in f.schema_arrow.names if c not in obs]
    writer = None
    first = 0
    for batch in f.iter_batches(batch_size=4096):
        x = np.column_stack([batch.column(g).to_numpy(zero_copy_only=False) for g in genes])
        rows, cols = np.nonzero(x)
        cell = first + rows
        t = pa.table(
            {
                "cell": pa.array(cell, pa.int64()),
                "gene": pa.DictionaryArray.from_arrays(pa.array(cols, pa.int32()), pa.array(genes)),
                "value": pa.array(x[rows, cols].astype(np.float32)),
                **{c: batch.column(c).take(pa.array(rows)) for c in obs},
            }
        )
        writer = writer or pq.ParquetWriter(out + ".tmp", t.schema)
        writer.write_table(t, row_group_size=1 << 20)
        first += batch.num_rows
    writer.close()
    os.replace(out + ".tmp", out)
    return out


def run(cmd, **kw):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return time.perf_counter() - t0, r.stdout


def spark(sql, long_path, out_dir):
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("calibra-stats")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    print(f"Spark {spark.version} local[2]", flush=True)
    t0 = time.perf_counter()
    spark.read.parquet(long_path).createOrReplaceTempView("cells")
    spark.sql(sql).write.mode("overwrite").parquet(out_dir)
    seconds = time.perf_counter() - t0
    spark.stop()
    return seconds


def duckdb(sql, long_path, out_dir):
    import duckdb as ddb

    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    con = ddb.connect()
    con.execute(f"CREATE VIEW cells AS SELECT * FROM read_parquet('{long_path}')")
    con.execute(f"COPY ({sql}) TO '{os.path.join(out_dir, 'part-0.parquet')}' (FORMAT PARQUET)")
    con.close()
    return time.perf_counter() - t0


def table_rows(path):
    import pyarrow.parquet as pq

    t = pq.read_table(path).to_pandas()
    keys = [c for c in ("context", "perturbation", "half", "gene") if c in t.columns]
    return t.sort_values(keys).reset_index(drop=True), keys


def compare_tables(ours, theirs):
    """Problems between two statistics tables (empty when equal)."""
    a, keys = table_rows(ours)
    b, _ = table_rows(theirs)
    if len(a) != len(b):
        return [f"{len(a)} rows vs {len(b)}"]
    problems = []
    for k in keys:
        if not (a[k].astype(str) == b[k].astype(str)).all():
            problems.append(f"column {k} differs")
    if not (a["n"] == b["n"]).all():
        problems.append("n differs")
    for c in ("sum_x", "sum_x2"):
        rel = ((a[c] - b[c]).abs() / b[c].abs().clip(lower=1e-300)).max()
        if not rel <= 1e-12:
            problems.append(f"{c}: worst relative difference {rel:.3g}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", nargs="?", default="perf_medium")
    ap.add_argument("--engines", default="spark,duckdb")
    ap.add_argument("--normalize", action="store_true", help="raw counts: normalise per cell")
    args = ap.parse_args()
    if args.dataset.endswith(".parquet"):
        cells, preds = args.dataset, None
        name = os.path.basename(args.dataset)[: -len(".parquet")]
    else:
        folder = args.dataset if os.path.isdir(args.dataset) else vr.dataset(args.dataset)
        cells, preds = os.path.join(folder, "data.parquet"), os.path.join(folder, "predictions.parquet")
        name = os.path.basename(os.path.normpath(folder))
    work = os.path.join(vr.CACHE, "stats-bench", name)
    os.makedirs(work, exist_ok=True)
    t0 = time.perf_counter()
    long_path = long_form(cells, work)
    print(f"long layout: {long_path} ({os.path.getsize(long_path) / 1e6:.1f} MB, {time.perf_counter() - t0:.1f} s)")
    norm = ["--normalize"] if args.normalize else []
    with_preds = ["--predictions", preds] if preds else []

    direct = os.path.join(work, "direct")
    t, _ = run([CALIBRA, "evaluate", "-q", "--light", *norm, "--cells", long_path, *with_preds, "--out", direct])
    print(f"calibra evaluate --cells long.parquet: {t:.1f} s")
    ours = os.path.join(work, "calibra_stats.parquet")
    t, _ = run([CALIBRA, "stats", "-q", *norm, "--cells", long_path, "--out", ours])
    print(f"calibra stats: {t:.1f} s, {os.path.getsize(ours) / 1e6:.1f} MB")

    failures = []
    for engine in [e for e in args.engines.split(",") if e]:
        _, sql = run([CALIBRA, "stats", "--print-sql", engine, "--fold-column", "fold", *norm])
        out_dir = os.path.join(work, f"{engine}-out")
        if os.path.exists(out_dir):
            import shutil
            shutil.rmtree(out_dir)
        seconds = {"spark": spark, "duckdb": duckdb}[engine](sql, long_path, out_dir)
        merged = os.path.join(work, f"{engine}_stats.parquet")
        t_merge, _ = run([CALIBRA, "stats", "merge", "-q", out_dir, "--out", merged])
        evaluated = os.path.join(work, f"{engine}-eval")
        t_eval, _ = run([CALIBRA, "evaluate", "-q", "--light", "--stats", merged, *with_preds, "--out", evaluated])
        problems = compare_tables(merged, ours) + vr.compare(evaluated, direct)
        status = "equal" if not problems else "MISMATCH: " + "; ".join(problems[:5])
        print(
            f"{engine}: query {seconds:.1f} s, stats merge {t_merge:.1f} s "
            f"({os.path.getsize(merged) / 1e6:.1f} MB), evaluate --stats {t_eval:.1f} s — {status}"
        )
        if problems:
            failures.append(engine)
    if failures:
        sys.exit(f"mismatch: {', '.join(failures)}")


if __name__ == "__main__":
    main()
