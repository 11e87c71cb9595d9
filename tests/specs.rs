//! Every metric named in SPEC §6 resolves to exactly one declared spec, and every declared
//! metric of the calibrated family is named there.

mod common;

use calibra::metrics::{registered_specs, Direction, NullModel};

/// The metric names of SPEC §6's table (the backticked names of its second column).
fn spec_section_6_names() -> Vec<String> {
    let spec =
        std::fs::read_to_string(common::shared_dir().join("SPEC.md")).expect("../shared/SPEC.md");
    let start = spec.find("## 6.").expect("SPEC has §6");
    let end = spec[start..].find("### 6.1").expect("SPEC has §6.1") + start;
    let mut names = Vec::new();
    for line in spec[start..end].lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').collect();
        let Some(name_cell) = cells.get(2) else {
            continue;
        };
        for (i, part) in name_cell.split('`').enumerate() {
            if i % 2 == 1 {
                names.push(part.to_string());
            }
        }
    }
    names
}

#[test]
fn every_metric_of_spec_6_has_exactly_one_spec() {
    let names = spec_section_6_names();
    assert_eq!(names.len(), 13, "SPEC §6 names 13 metrics: {names:?}");
    let specs = registered_specs();
    for name in &names {
        let found: Vec<_> = specs.iter().filter(|s| s.name == name).collect();
        assert_eq!(found.len(), 1, "{name}: {} specs", found.len());
    }
    for s in specs.iter().filter(|s| s.family == "calibrated") {
        assert!(
            names.iter().any(|n| n == s.name),
            "{} is not in SPEC §6",
            s.name
        );
    }
}

#[test]
fn directions_perfect_values_and_nulls_follow_spec() {
    // §6: mse and wmse lower-better (perfect 0), the rest higher-better (perfect 1);
    // §8: control_mean is the null of the Δpert metrics, dataset_mean of the others.
    for s in registered_specs()
        .into_iter()
        .filter(|s| s.family == "calibrated")
    {
        let lower = s.name == "mse" || s.name == "wmse";
        assert_eq!(s.direction == Direction::LowerBetter, lower, "{}", s.name);
        assert_eq!(s.perfect, if lower { 0.0 } else { 1.0 }, "{}", s.name);
        let null = if s.name.contains("deltapert") {
            NullModel::ControlMean
        } else {
            NullModel::DatasetMean
        };
        assert_eq!(s.null, null, "{}", s.name);
        assert!(!s.doc.is_empty(), "{} has no doc", s.name);
    }
}

#[test]
fn distributional_distances_are_lower_better_and_correlations_higher() {
    // §12.3: a distance's perfect value is 0; correlations and R² are perfect at 1; the null
    // is the pooled cells of the train perturbations (the dataset mean's cell form).
    let specs: Vec<_> = registered_specs()
        .into_iter()
        .filter(|s| s.family == "distributional")
        .collect();
    assert!(!specs.is_empty());
    for s in specs {
        // The multivariate variants are distances too (multivariate_mmd_raw…), and so are
        // pertpy's per-feature statistics.
        let base = s.name.strip_prefix("multivariate_").unwrap_or(s.name);
        let distance = ["mse", "wasserstein", "mmd", "energy", "ks_test", "t_test"]
            .iter()
            .any(|d| base.starts_with(d));
        assert_eq!(
            s.direction == Direction::LowerBetter,
            distance,
            "{}",
            s.name
        );
        assert_eq!(s.perfect, if distance { 0.0 } else { 1.0 }, "{}", s.name);
        assert_eq!(s.null, NullModel::DatasetMean, "{}", s.name);
        assert!(
            ["_raw", "_pca50", "_deg"]
                .iter()
                .any(|space| s.name.ends_with(space)),
            "{} names its space",
            s.name
        );
    }
}

#[test]
fn celleval_directions_follow_its_registry() {
    // cell-eval 0.8.1's `best_value`: ZERO for mse, mae, mse_delta, mae_delta; NONE for the
    // counts of significant genes; ONE for every other metric.
    let specs: Vec<_> = registered_specs()
        .into_iter()
        .filter(|s| s.family == "celleval")
        .collect();
    assert_eq!(specs.len(), 27);
    for s in specs {
        let name = s.name.strip_prefix("celleval_").expect("prefixed");
        let expected = match name {
            "mse" | "mae" | "mse_delta" | "mae_delta" => Direction::LowerBetter,
            "de_nsig_counts_real" | "de_nsig_counts_pred" => Direction::Descriptive,
            _ => Direction::HigherBetter,
        };
        assert_eq!(s.direction, expected, "{}", s.name);
        match expected {
            Direction::HigherBetter => assert_eq!(s.perfect, 1.0),
            Direction::LowerBetter => assert_eq!(s.perfect, 0.0),
            Direction::Descriptive => assert!(s.perfect.is_nan()),
        }
    }
}

#[test]
fn perturbench_ranks_are_lower_better() {
    // PerturBench: rank 0 = the model's own prediction is the closest; RMSE lower, cosine
    // higher.
    let specs: Vec<_> = registered_specs()
        .into_iter()
        .filter(|s| s.family == "perturbench")
        .collect();
    assert_eq!(specs.len(), 4);
    for s in specs {
        let lower = s.name.contains("rank") || s.name.contains("rmse");
        assert_eq!(s.direction == Direction::LowerBetter, lower, "{}", s.name);
        assert_eq!(s.perfect, if lower { 0.0 } else { 1.0 }, "{}", s.name);
    }
}

/// cell-eval2's catalog (its `metrics.md` §7, in `../shared/golden/peers/celleval2/`):
/// metric name → (direction arrow, anchor text), `_top{50,…}` rows expanded.
fn celleval2_catalog() -> Vec<(String, String, String)> {
    let doc = std::fs::read_to_string(
        common::shared_dir().join("golden/peers/celleval2/docs_cell_eval2_0.20.0/metrics.md"),
    )
    .expect("cell-eval2's metrics.md");
    let start = doc.find("## 7. Metric catalog summary").expect("§7");
    let mut rows = Vec::new();
    for line in doc[start..].lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`');
        let (dir, anchor) = (cells[4].to_string(), cells[5].to_string());
        match name.split_once("{50,100,200,500}") {
            Some((stem, _)) => {
                for k in [50, 100, 200, 500] {
                    rows.push((format!("{stem}{k}"), dir.clone(), anchor.clone()));
                }
            }
            None => rows.push((name.to_string(), dir, anchor)),
        }
    }
    rows
}

#[test]
fn celleval2_directions_and_perfect_values_follow_its_catalog() {
    let catalog = celleval2_catalog();
    let specs: Vec<_> = registered_specs()
        .into_iter()
        .filter(|s| s.family == "celleval2")
        .collect();
    assert_eq!(specs.len(), 53);
    for s in specs {
        let name = s.name.strip_prefix("celleval2_").expect("prefixed");
        let (_, dir, anchor) = catalog
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("{name} is not in cell-eval2's catalog"));
        let expected = match dir.as_str() {
            "↑" => Direction::HigherBetter,
            "↓" => Direction::LowerBetter,
            "·" => Direction::Descriptive,
            other => panic!("{name}: direction {other}"),
        };
        assert_eq!(s.direction, expected, "{}", s.name);
        match anchor.trim_matches('$') {
            "" => assert!(s.perfect.is_nan(), "{} has no anchor in cell-eval2", s.name),
            a => assert_eq!(s.perfect, a.parse::<f64>().unwrap(), "{}", s.name),
        }
    }
}
