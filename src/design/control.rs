//! The control label (SPEC §1.1): the one given, or the first of a fixed list that the file
//! has; an error listing some labels otherwise.

use crate::error::{preview, Error, Result};

/// Control labels tried, in order, when none is given (SPEC §1.1).
pub const DEFAULT_CONTROL_LABELS: [&str; 4] = ["control", "non-targeting", "ctrl", "NT"];

/// The control label of a file whose distinct labels (all contexts) are `labels`, sorted:
/// `given` when present, else the first of [`DEFAULT_CONTROL_LABELS`] present.
pub fn choose_control(file: &str, labels: &[&str], given: Option<&str>) -> Result<String> {
    let present = |l: &str| labels.binary_search(&l).is_ok();
    if let Some(c) = given {
        if present(c) {
            return Ok(c.to_string());
        }
        return Err(Error::in_file(
            file,
            format!("no cells carry the control label '{c}'"),
            format!(
                "check --control-label; labels include: {}",
                preview(labels, 8)
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
                    "pass --control-label with your control label; labels include: {}",
                    preview(labels, 8)
                ),
            )
        })
}
