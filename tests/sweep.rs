//! The finding of "Diversity by Design" (SPEC §12.7), reproduced on a small sweep: what the
//! mean baseline wins, and what it does not. Each inequality is stated where it is asserted;
//! the sweep is deterministic (seeded), so the margins are those of one fixed run.

use calibra::sweep::{base_config, run_sweep, MetricOutcome, PointResult, SweepGrid, SWEEP_MODELS};

const MEAN: usize = 0;
const GENUINE: usize = 3;
const BIASES: [f64; 2] = [0.0, 1.0];
const SPARSE: f64 = 0.1;
const DENSE: f64 = 1.0;

fn small_sweep() -> Vec<PointResult> {
    let grid = SweepGrid {
        control_bias: BIASES.to_vec(),
        deg_fraction: vec![SPARSE, DENSE],
        effect_size: vec![1.0],
        cells_per_perturbation: vec![40],
    };
    run_sweep(&base_config(), &grid, &|_| {}).expect("the sweep runs")
}

fn at<'a>(results: &'a [PointResult], bias: f64, degs: f64, metric: &str) -> &'a MetricOutcome {
    results
        .iter()
        .find(|r| r.point.control_bias == bias && r.point.deg_fraction == degs)
        .and_then(|r| r.metrics.iter().find(|m| m.metric == metric))
        .expect("a point of the grid and a calibrated metric")
}

#[test]
fn the_mean_baseline_wins_what_the_paper_says_and_only_that() {
    assert_eq!(SWEEP_MODELS[MEAN].0, "mean_baseline");
    assert_eq!(SWEEP_MODELS[GENUINE].0, "genuine_predictor");
    let r = small_sweep();
    let mean = |b, d, m| at(&r, b, d, m).means[MEAN];
    let genuine = |b, d, m| at(&r, b, d, m).means[GENUINE];
    let drf = |b, d, m| at(&r, b, d, m).drf;

    // The control bias inflates the mean baseline's Pearson(Δctrl): +0.5 or more from no bias
    // to bias 1, at both DEG fractions.
    for d in [SPARSE, DENSE] {
        let rise = mean(1.0, d, "pearson_deltactrl") - mean(0.0, d, "pearson_deltactrl");
        assert!(
            rise > 0.5,
            "Pearson(Δctrl) of the mean rose by {rise} at DEG fraction {d}"
        );
    }
    // …so that its lag behind the genuine predictor (dense DEGs, where the genuine predictor
    // leads without bias) shrinks below a quarter of what it was.
    let lag = |b| genuine(b, DENSE, "pearson_deltactrl") - mean(b, DENSE, "pearson_deltactrl");
    assert!(
        lag(0.0) > 0.05,
        "the genuine predictor leads without bias: {}",
        lag(0.0)
    );
    assert!(
        lag(1.0) < 0.25 * lag(0.0),
        "lag {} → {}",
        lag(0.0),
        lag(1.0)
    );

    // Sparse DEG signals are diluted by unweighted errors: with sparse DEGs the mean baseline's
    // MSE is lower than the genuine predictor's at every bias.
    for b in BIASES {
        let (m, g) = (mean(b, SPARSE, "mse"), genuine(b, SPARSE, "mse"));
        assert!(m < g, "MSE: mean {m} vs genuine {g} at bias {b}");
    }

    // The DEG-weighted metrics are not fooled: the genuine predictor is better than the mean
    // baseline at every point on WMSE (lower) and on R²_w(Δpert) (higher).
    for b in BIASES {
        for d in [SPARSE, DENSE] {
            let (m, g) = (mean(b, d, "wmse"), genuine(b, d, "wmse"));
            assert!(
                g < m,
                "WMSE: genuine {g} vs mean {m} at bias {b}, DEG fraction {d}"
            );
            let (m, g) = (
                mean(b, d, "weighted_r2_deltapert"),
                genuine(b, d, "weighted_r2_deltapert"),
            );
            assert!(
                g > m,
                "R²_w(Δpert): genuine {g} vs mean {m} at bias {b}, DEGs {d}"
            );
        }
    }

    // Calibration sees it: MSE's DRF falls below half its dense-DEG value when DEGs are
    // sparse, while WMSE's keeps more than 60% of its own and stays above twice MSE's.
    for b in BIASES {
        let (mse_sparse, mse_dense) = (drf(b, SPARSE, "mse"), drf(b, DENSE, "mse"));
        let (wmse_sparse, wmse_dense) = (drf(b, SPARSE, "wmse"), drf(b, DENSE, "wmse"));
        assert!(
            mse_sparse < 0.5 * mse_dense,
            "DRF(MSE) {mse_dense} → {mse_sparse} at bias {b}"
        );
        assert!(
            wmse_sparse > 0.6 * wmse_dense,
            "DRF(WMSE) {wmse_dense} → {wmse_sparse}"
        );
        assert!(
            wmse_sparse > 2.0 * mse_sparse,
            "DRF sparse: WMSE {wmse_sparse}, MSE {mse_sparse}"
        );
    }
}

#[test]
fn the_sweep_is_deterministic_and_its_table_is_tidy() {
    let grid = SweepGrid {
        control_bias: vec![0.5],
        deg_fraction: vec![0.3],
        effect_size: vec![1.0],
        cells_per_perturbation: vec![20],
    };
    let a = run_sweep(&base_config(), &grid, &|_| {}).unwrap();
    let b = run_sweep(&base_config(), &grid, &|_| {}).unwrap();
    let table = calibra::sweep::sweep_table(&a);
    assert_eq!(table.to_csv(), calibra::sweep::sweep_table(&b).to_csv());
    // A row per point × metric × model.
    assert_eq!(table.n_rows(), a[0].metrics.len() * SWEEP_MODELS.len());
    assert_eq!(a[0].metrics.len(), 13);
}
