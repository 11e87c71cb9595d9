//! cell-eval's inputs rebuilt from calibra's Parquet files, as
//! `shared/golden/peers/build_celleval_inputs.py` builds its h5ad files (see
//! `tests/celleval_de.rs`).

use arrow::array::{Array, Int64Array};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use ndarray::Array2;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The control label of the golden inputs.
pub const CONTROL: &str = "control";

pub fn peers() -> PathBuf {
    super::shared_dir().join("golden").join("peers")
}

pub use super::tables::{float_columns, gene_columns, strings};

/// A Parquet file as one record batch.
pub fn read_parquet(path: &Path) -> RecordBatch {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    super::tables::batch_of_parquet(bytes)
}

/// The real and pred matrices (cells × genes) and their perturbation labels.
pub struct Inputs {
    /// The perturbation of each row.
    pub labels: Vec<String>,
    /// Genes, in the data's order.
    pub genes: Vec<String>,
    /// Real cells (cells × genes).
    pub real: Array2<f32>,
    /// Predicted cells: the real controls, K copies of the predicted mean for the others.
    pub pred: Array2<f32>,
}

pub fn build_inputs(data: &Path, predictions: &Path, model: &str) -> Inputs {
    let d = read_parquet(data);
    let genes = gene_columns(&d);
    let pert = strings(&d, "perturbation");
    let fold_col = cast(d.column_by_name("fold").unwrap(), &DataType::Int64).unwrap();
    let fold = fold_col.as_any().downcast_ref::<Int64Array>().unwrap();
    let evaluated: std::collections::BTreeSet<&str> = (0..d.num_rows())
        .filter(|&i| fold.value(i) >= 0)
        .map(|i| pert[i].as_str())
        .collect();
    assert!(!evaluated.contains(CONTROL));

    let p = read_parquet(predictions);
    let p_model = strings(&p, "model");
    let p_pert = strings(&p, "perturbation");
    let p_cols = float_columns(&p, &genes); // re-ordered to the data's gene order
    let mut mean_of: HashMap<&str, usize> = HashMap::new();
    for (i, (m, pp)) in p_model.iter().zip(&p_pert).enumerate() {
        if m == model && evaluated.contains(pp.as_str()) {
            assert!(mean_of.insert(pp.as_str(), i).is_none());
        }
    }
    // Every evaluated perturbation is covered for A and C (no restriction of real needed).
    assert_eq!(mean_of.len(), evaluated.len(), "{model} covers E");

    let cols = float_columns(&d, &genes);
    let rows: Vec<usize> = (0..d.num_rows())
        .filter(|&i| pert[i] == CONTROL || evaluated.contains(pert[i].as_str()))
        .collect();
    let g = genes.len();
    let real = Array2::from_shape_fn((rows.len(), g), |(r, j)| cols[j][rows[r]]);
    let pred = Array2::from_shape_fn((rows.len(), g), |(r, j)| {
        let i = rows[r];
        if pert[i] == CONTROL {
            cols[j][i]
        } else {
            p_cols[j][mean_of[pert[i].as_str()]]
        }
    });
    Inputs {
        genes: genes.clone(),
        labels: rows.iter().map(|&i| pert[i].clone()).collect(),
        real,
        pred,
    }
}

/// Evaluates `cells` and `predictions` with the calibrated family and `family` (`celleval` or
/// `celleval2`) as the peers' goldens were made (`--compat celleval`: both halves are real),
/// with the options `more` besides; returns that family's `{family}_results.csv` and
/// `{family}_agg_results.csv`.
pub fn peer_family_tables(
    cells: &Path,
    predictions: &Path,
    family: &str,
    more: &[(&str, &str)],
) -> (calibra::report::Table, calibra::report::Table) {
    use calibra::pipeline::{evaluate, EvaluateOptions, Inputs};
    let mut options = EvaluateOptions::default();
    calibra::options::set(&mut options, "metrics", &format!("calibrated,{family}")).unwrap();
    calibra::options::set(&mut options, "compat", "celleval").unwrap();
    for (name, value) in more {
        calibra::options::set(&mut options, name, value).unwrap();
    }
    options.per_gene_tables = false;
    let inputs = Inputs {
        cells: calibra::io::open_file(cells).expect("open cells"),
        predictions: vec![calibra::io::open_file(predictions).expect("open predictions")],
        split: None,
    };
    let eval = evaluate(inputs, &options, &mut |_, _| {}).expect("evaluation succeeds");
    let r = &eval.contexts[0];
    let get = |name: String| {
        calibra::report::context_table(r, &name)
            .unwrap()
            .unwrap_or_else(|| panic!("{name}"))
    };
    (
        get(format!("{family}_results.csv")),
        get(format!("{family}_agg_results.csv")),
    )
}
