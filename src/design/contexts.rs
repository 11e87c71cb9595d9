//! One dataset per context (e.g. cell line): its control, its folds (from the file or
//! assigned) and the warnings about perturbations it cannot evaluate.

use super::splits::assign_folds;
use crate::data::{Dataset, GroupStats};
use crate::error::{preview, Error, Result};

/// Position of the control label in a context's sorted `labels`; an error when the context
/// has no control cells.
pub fn context_control(
    file: &str,
    context: &str,
    labels: &[&str],
    control_label: &str,
) -> Result<usize> {
    labels
        .iter()
        .position(|&l| l == control_label)
        .ok_or_else(|| {
            Error::in_file(
                file,
                format!("context '{context}' has no control cells (label '{control_label}')"),
                "every context needs its own control cells, or evaluate contexts in separate files",
            )
        })
}

/// The fold of each of a context's sorted `labels` (−1 for the control at `control`): the
/// file's folds when it has a fold column (`file_folds[i]`, −1 when unknown), else assigned
/// with `seed` ([`assign_folds`]).
pub fn context_folds(
    labels: &[&str],
    control: usize,
    file_folds: Option<&[Option<i64>]>,
    seed: u64,
) -> Vec<i64> {
    match file_folds {
        None => {
            let perts: Vec<&str> = labels
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != control)
                .map(|(_, &l)| l)
                .collect();
            let mut it = assign_folds(&perts, seed).into_iter();
            (0..labels.len())
                .map(|i| {
                    if i == control {
                        -1
                    } else {
                        it.next().unwrap_or(-1)
                    }
                })
                .collect()
        }
        Some(folds) => (0..labels.len())
            .map(|i| {
                if i == control {
                    -1
                } else {
                    folds.get(i).copied().flatten().unwrap_or(-1)
                }
            })
            .collect(),
    }
}

/// A context's dataset from its sorted labels, control, folds and statistics (rows 2·i and
/// 2·i + 1: label i's GT and TD halves), with a warning when some perturbations have a single
/// cell. `context` is `None` for a file without a context column.
pub fn context_dataset(
    context: Option<&str>,
    genes: Vec<String>,
    labels: &[&str],
    control: usize,
    fold_of: Vec<i64>,
    stats: GroupStats,
    warnings: &mut Vec<String>,
) -> Dataset {
    let n_cells = stats.count.iter().sum();
    let ds = Dataset {
        genes,
        labels: labels.iter().map(|s| s.to_string()).collect(),
        control,
        fold_of,
        stats,
        n_cells,
    };
    let single: Vec<&str> = ds
        .perturbations()
        .into_iter()
        .filter(|&l| ds.n_cells_of(l) == 1)
        .map(|l| ds.labels[l].as_str())
        .collect();
    if !single.is_empty() {
        warnings.push(format!(
            "{}{} perturbation(s) with a single cell are not evaluated (no GT-half cell pair): {}",
            context.map_or(String::new(), |c| format!("context '{c}': ")),
            single.len(),
            preview(&single, 5)
        ));
    }
    ds
}
