//! The control label (SPEC §1.1): the one given, or the first of a fixed list that the file
//! has; an error listing some labels otherwise.

use crate::error::{preview, Error, Result};

/// Control labels tried, in order, when none is given (SPEC §1.1).
pub const DEFAULT_CONTROL_LABELS: [&str; 4] = ["control", "non-targeting", "ctrl", "NT"];

/// The control label of a file whose distinct labels (all contexts) are `labels`, sorted by
/// label, each with its number of cells: `given` when present, else the first of
/// [`DEFAULT_CONTROL_LABELS`] present. When there is none the error lists the most frequent
/// labels: the control is usually among them.
pub fn choose_control(file: &str, labels: &[(&str, u64)], given: Option<&str>) -> Result<String> {
    let present = |l: &str| labels.binary_search_by(|&(x, _)| x.cmp(l)).is_ok();
    let frequent = || {
        let mut by_count = labels.to_vec();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = by_count
            .iter()
            .map(|(l, n)| format!("'{l}' ({n} cells)"))
            .collect();
        preview(&shown, 8)
    };
    if let Some(c) = given {
        if present(c) {
            return Ok(c.to_string());
        }
        return Err(Error::in_file(
            file,
            format!("no cells carry the control label '{c}'"),
            format!(
                "check --control-label; the most frequent labels are {}",
                frequent()
            ),
        ));
    }
    DEFAULT_CONTROL_LABELS
        .iter()
        .find(|l| present(l))
        .map(|l| l.to_string())
        .ok_or_else(|| {
            Error::in_file(
                file,
                format!(
                    "no control cells: none of the labels {} is present",
                    DEFAULT_CONTROL_LABELS.join(", ")
                ),
                format!(
                    "pass --control-label with your control label; the most frequent labels are {}",
                    frequent()
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_control_lists_the_most_frequent_labels() {
        let labels = [("A", 5), ("B", 300), ("C", 40), ("NTC", 900)];
        let e = choose_control("c.parquet", &labels, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'NTC' (900 cells), 'B' (300 cells), 'C' (40 cells)"),
            "{e}"
        );
        assert_eq!(choose_control("c", &labels, Some("NTC")).unwrap(), "NTC");
        let e = choose_control("c", &labels, Some("ctrl"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'ctrl'") && e.contains("'NTC' (900 cells)"),
            "{e}"
        );
    }
}
