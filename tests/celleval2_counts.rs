//! cell-eval2's counts path (`--normalize --predictions-counts`) against cell-eval2 0.20.0's
//! own outputs on Papalexi's raw counts (`tests/fixtures/celleval2_counts/`, README there:
//! inputs, versions, commands, formulas).
//!
//! The predictions are rebuilt here as the fixtures' input builder made them: `collapsed_counts`
//! = each perturbation's mean count vector (one row, a mean profile), `noisy_counts` = each
//! real cell's counts times a per-(perturbation, gene) factor, rounded half to even (cells).
//! Every cell is kept (`--max-cells` above every group's size), as cell-eval2 reads them all.
//!
//! Compared: every row and aggregate of the `full_libm` run (the run whose DE p-values do not
//! depend on the host's SIMD `log1p`) and of the `vcc2026` run, and the DE tables themselves
//! (including the 200-CPM gene gate of the `full_cpm200` run).

mod common;

use arrow::array::Float64Array;
use arrow::datatypes::DataType;
use calibra::metrics::celleval2::counts::CountsReference;
use common::celleval2_results::assert_models_equal;
use common::celleval_inputs::{read_parquet, strings};
use common::counts_inputs::{noise_factors, predictions_parquet, Cells, CONTROL, MODELS};
use ndarray::Array2;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/celleval2_counts")
}

fn papalexi() -> PathBuf {
    common::shared_dir().join("data/papalexi2021_counts.parquet")
}

fn read_cells() -> Cells {
    Cells::of_parquet(std::fs::read(papalexi()).unwrap())
}

fn factors(cells: &Cells) -> BTreeMap<String, Vec<f64>> {
    noise_factors(
        std::fs::read(fixtures().join("noisy_factors.parquet")).unwrap(),
        &cells.genes,
    )
}

#[test]
fn counts_path_equals_cell_eval2() {
    let cells = read_cells();
    let dir = tempfile::tempdir().unwrap();
    let predictions = dir.path().join("predictions.parquet");
    std::fs::write(&predictions, predictions_parquet(&cells, &factors(&cells))).unwrap();
    let (results, agg) = common::celleval_inputs::peer_family_tables(
        &papalexi(),
        &predictions,
        "celleval2",
        &[
            ("normalize", "true"),
            ("predictions-counts", "true"),
            ("max-cells", "100000"),
        ],
    );
    let runs_of = |model: &str| {
        ["full_libm", "vcc2026"]
            .iter()
            .map(|r| (format!("{model}/{r}"), fixtures().join(model).join(r)))
            .collect()
    };
    assert_models_equal(&MODELS, runs_of, &results, &agg);
}

/// A DE table written by cell-eval2: (target, feature) → (log2 fold change, p, p_adj).
fn peer_de(path: &Path) -> BTreeMap<(String, String), [f64; 3]> {
    let t = read_parquet(path);
    let (targets, features) = (strings(&t, "target"), strings(&t, "feature"));
    let number = |name: &str| -> Vec<f64> {
        let c = arrow::compute::cast(t.column_by_name(name).unwrap(), &DataType::Float64).unwrap();
        c.as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .values()
            .to_vec()
    };
    let (lfc, p, q) = (
        number("log2_fold_change"),
        number("p_value"),
        number("p_adj"),
    );
    (0..targets.len())
        .map(|i| {
            (
                (targets[i].clone(), features[i].clone()),
                [lfc[i], p[i], q[i]],
            )
        })
        .collect()
}

/// The cells a DE table is made of.
#[derive(Clone, Copy, Debug)]
enum Side {
    Real,
    /// A model's predicted cells (an index into [`MODELS`]).
    Predicted(usize),
}

/// calibra's counts-path DE tables of every perturbation's cells (`side`) against the control
/// cells, compared with cell-eval2's: the same rows, and the first `columns` of (fold change,
/// p-value, p_adj); returns their worst relative differences.
fn check_de(cells: &Cells, gate: f64, side: Side, peer: &Path, columns: usize) -> [f64; 3] {
    let rows = cells.rows();
    let controls = cells.matrix(&rows[CONTROL], |_, x| x);
    let reference = CountsReference::with_gate(controls.view(), gate).unwrap();
    let factors = factors(cells);
    let want = peer_de(peer);
    let mut seen = 0;
    let mut worst = [0f64; 3];
    for (label, members) in &rows {
        if *label == CONTROL {
            continue;
        }
        let f = &factors[*label];
        let group = match side {
            Side::Real => cells.matrix(members, |_, x| x),
            Side::Predicted(0) => {
                let mean = cells
                    .matrix(members, |_, x| x)
                    .mapv(f64::from)
                    .mean_axis(ndarray::Axis(0))
                    .unwrap();
                Array2::from_shape_fn((members.len(), mean.len()), |(_, g)| mean[g] as f32)
            }
            Side::Predicted(_) => cells.matrix(members, |g, x| {
                (f64::from(x) * f[g]).round_ties_even() as f32
            }),
        };
        let table = reference.table(group.view()).unwrap();
        for (i, &g) in reference.tested.iter().enumerate() {
            let key = (label.to_string(), cells.genes[g].clone());
            let w = want
                .get(&key)
                .unwrap_or_else(|| panic!("{}: no row {key:?}", peer.display()));
            let got = [table.lfc[i], table.p_value[i], table.p_adj[i]];
            for k in 0..columns {
                let err = (got[k] - w[k]).abs();
                let rel = if err == 0.0 { 0.0 } else { err / w[k].abs() };
                assert!(
                    rel <= 1e-9 || err <= 1e-300,
                    "{} {key:?} column {k}: cell-eval2 {}, calibra {}",
                    peer.display(),
                    w[k],
                    got[k]
                );
                worst[k] = worst[k].max(rel);
            }
            seen += 1;
        }
    }
    assert_eq!(seen, want.len(), "{}: same rows", peer.display());
    worst
}

#[test]
fn counts_de_tables_equal_cell_eval2() {
    let cells = read_cells();
    for (m, model) in MODELS.iter().enumerate() {
        let libm = fixtures().join(model).join("full_libm");
        for (side, file) in [
            (Side::Real, "de_real.parquet"),
            (Side::Predicted(m), "de_pred.parquet"),
        ] {
            let worst = check_de(&cells, 5.0, side, &libm.join(file), 3);
            eprintln!("{model}/full_libm/{file}: worst relative (lfc, p, p_adj) {worst:?}");
        }
    }
    // The 200-CPM gate: its genes and fold changes (its p-values are the host's SIMD
    // log1p's, README §5.1).
    let gated = fixtures()
        .join(MODELS[1])
        .join("full_cpm200/de_real.parquet");
    let worst = check_de(&cells, 200.0, Side::Real, &gated, 1);
    eprintln!(
        "full_cpm200/de_real.parquet: worst relative lfc {:.1e}",
        worst[0]
    );
}
