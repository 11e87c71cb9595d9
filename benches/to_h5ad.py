"""Writes a wide calibra cells table (Parquet) as an AnnData .h5ad file, for the h5ad-vs-Parquet
benchmark: X as CSR float32 (gzip, anndata's defaults otherwise), obs = the label columns as
categoricals (perturbation, half) and integers (fold).

    python3 benches/to_h5ad.py bench-cache/perf_medium/data.parquet bench-cache/perf_medium/data.h5ad
"""
import sys

import anndata
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import scipy.sparse as sp

src, dst = sys.argv[1], sys.argv[2]
table = pq.read_table(src)
meta = [c for c in ("perturbation", "half", "fold", "cell_type") if c in table.column_names]
genes = [c for c in table.column_names if c not in meta]
# Row groups one at a time: CSR blocks stacked, never the dense matrix as float64.
blocks = []
for batch in table.select(genes).to_batches(max_chunksize=8192):
    dense = np.column_stack([batch.column(i).to_numpy(zero_copy_only=False) for i in range(len(genes))])
    blocks.append(sp.csr_matrix(dense.astype(np.float32)))
X = sp.vstack(blocks, format="csr")
obs = table.select(meta).to_pandas()
for c in ("perturbation", "half", "cell_type"):
    if c in obs:
        obs[c] = obs[c].astype("category")
obs.index = [f"cell{i}" for i in range(len(obs))]
adata = anndata.AnnData(X=X, obs=obs, var=pd.DataFrame(index=genes))
adata.write_h5ad(dst, compression="gzip")
print(f"{dst}: {adata.n_obs} cells × {adata.n_vars} genes, {X.nnz} non-zeros")
