//! A user's train / val / test split (SPEC §12.5) instead of calibra's folds: from a `split`
//! column of the cells or from a split file `perturbation[,context],split`. A split is one
//! test fold: `test` perturbations are evaluated, `train` ones are what the mean and linear
//! baselines learn from, `val` and `excluded` ones are neither.

use crate::data::{FOLD_HELD_OUT, FOLD_TRAIN};
use crate::error::{preview, Error, Result};
use std::collections::{BTreeMap, BTreeSet};

/// The fold of every test perturbation of a user split: a split is a single test fold.
pub const FOLD_TEST: i64 = 0;

/// Which side of a split a perturbation is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Seen in training: the baselines learn from it.
    Train,
    /// Held out for model selection: neither trained on by the baselines nor evaluated.
    Val,
    /// Evaluated.
    Test,
    /// Neither seen nor evaluated (e.g. the held-out context's other perturbations in
    /// `unseen-context-perturbation`).
    Excluded,
}

impl Split {
    /// Every value, in file order of preference.
    pub const ALL: [Split; 4] = [Split::Train, Split::Val, Split::Test, Split::Excluded];

    /// The word written in split files and columns.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
            Split::Excluded => "excluded",
        }
    }

    /// Reads a split word (case-insensitive; `validation` = `val`).
    pub fn parse(word: &str) -> Option<Split> {
        match word.trim().to_ascii_lowercase().as_str() {
            "train" => Some(Split::Train),
            "val" | "validation" => Some(Split::Val),
            "test" => Some(Split::Test),
            "excluded" => Some(Split::Excluded),
            _ => None,
        }
    }

    /// The fold code this side of the split becomes in a [`crate::Dataset`].
    pub fn fold(self) -> i64 {
        match self {
            Split::Train => FOLD_TRAIN,
            Split::Test => FOLD_TEST,
            Split::Val | Split::Excluded => FOLD_HELD_OUT,
        }
    }

    /// The words accepted, for messages.
    pub fn expected() -> String {
        Split::ALL.map(Split::as_str).join(", ")
    }
}

/// A split file read: the side of each (context, perturbation), or of each perturbation in
/// every context when the file has no context column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SplitTable {
    /// The file's display name, for messages.
    pub file: String,
    /// Keys are (context, perturbation); the context is "" when the file has no context column.
    pub sides: BTreeMap<(String, String), Split>,
    /// The file names contexts.
    pub has_context: bool,
    /// The task that made it (`calibra split --task`), when the file says.
    pub task: Option<String>,
}

impl SplitTable {
    /// The side of `label` in `context`, if the file lists it.
    pub fn side_of(&self, context: &str, label: &str) -> Option<Split> {
        let context = if self.has_context { context } else { "" };
        self.sides
            .get(&(context.to_string(), label.to_string()))
            .copied()
    }

    /// Fails when the file names perturbations (or contexts) the cells do not have: a split
    /// made for other data would silently evaluate nothing. `known` holds every (context,
    /// label) of the cells ("" contexts when they have none); `control` is never checked.
    pub fn check_known(&self, known: &BTreeSet<(&str, &str)>, control: &str) -> Result<()> {
        let labels: BTreeSet<&str> = known.iter().map(|&(_, l)| l).collect();
        let unknown: Vec<String> = self
            .sides
            .keys()
            .filter(|(_, l)| l != control)
            .filter(|(c, l)| {
                if self.has_context {
                    !known.contains(&(c.as_str(), l.as_str()))
                } else {
                    !labels.contains(l.as_str())
                }
            })
            .map(|(c, l)| {
                if self.has_context {
                    format!("{l} ({c})")
                } else {
                    l.clone()
                }
            })
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(Error::in_file(
            &self.file,
            format!(
                "the split names {} perturbation(s) the cells do not have: {}",
                unknown.len(),
                preview(&unknown, 6)
            ),
            "use a split made from these cells (calibra split --task …), and check the perturbation and context columns",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for s in Split::ALL {
            assert_eq!(Split::parse(s.as_str()), Some(s));
        }
        assert_eq!(Split::parse(" Validation "), Some(Split::Val));
        assert_eq!(Split::parse("holdout"), None);
        assert_eq!(Split::Test.fold(), FOLD_TEST);
        assert_eq!(Split::Val.fold(), FOLD_HELD_OUT);
    }

    #[test]
    fn unknown_perturbations_are_named() {
        let mut t = SplitTable {
            file: "split.csv".into(),
            ..Default::default()
        };
        t.sides.insert(("".into(), "A".into()), Split::Test);
        t.sides.insert(("".into(), "ZZZ".into()), Split::Train);
        t.sides.insert(("".into(), "ctrl".into()), Split::Train);
        let known: BTreeSet<(&str, &str)> = [("k562", "A"), ("k562", "ctrl")].into();
        let e = t.check_known(&known, "ctrl").unwrap_err().to_string();
        assert!(e.contains("1 perturbation(s)") && e.contains("ZZZ"), "{e}");
        t.sides.remove(&("".into(), "ZZZ".into()));
        assert!(t.check_known(&known, "ctrl").is_ok());
    }
}
