#!/usr/bin/env python3
"""Writes tests/fixtures/student_t_scipy.csv for tests/student_t_scipy.rs: on a dense (t, df) grid,
tails included, scipy.stats.t.sf (the reference's p-values) and the exact value (mpmath's
regularised incomplete beta at 40 digits, rounded to the nearest double). Run with the
reference's venv (scipy 1.17.1) plus mpmath:

    /path/to/venv/bin/python scripts/student_t_scipy.py
"""
import os

import mpmath as mp
import numpy as np
import scipy
import scipy.stats as st

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                   "tests", "fixtures", "student_t_scipy.csv")
small = np.geomspace(1e-6, 1, 13)
ts = np.concatenate([np.linspace(-40, 40, 161), small, -small, np.geomspace(40, 1e4, 9)])
dfs = [0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 7, 10, 15, 20, 30, 45, 60, 100, 150, 300, 1000, 2047,
       5000, 1e4, 1e5, 1e6]
mp.mp.dps = 40


def exact_sf(t, df):
    t, df = mp.mpf(t), mp.mpf(df)
    two_sided = mp.betainc(df / 2, mp.mpf(1) / 2, 0, df / (df + t * t), regularized=True)
    return float(two_sided / 2 if t > 0 else 1 - two_sided / 2)


with open(OUT, "w") as f:
    f.write(f"# scipy {scipy.__version__}: scipy.stats.t.sf(t, df); exact: mpmath {mp.__version__}, 40 digits\n")
    f.write("t,df,scipy,exact\n")
    for df in dfs:
        for t in ts:
            sf = float(st.t.sf(t, df))
            if sf > 0:
                f.write(f"{float(t)!r},{float(df)!r},{sf!r},{exact_sf(t, df)!r}\n")
