//! The in-the-wild tasks (SPEC §12.5; VCBench, PerturBench, ReconEval's out-of-distribution
//! levels) as seeded split files, so that modellers train on exactly the split calibra
//! evaluates: `calibra split --task … --seed S` writes one from a cells file.

use super::user_split::{Split, SplitTable};
use crate::data::is_combo;
use crate::error::{Error, Result};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

/// What the model has not seen at test time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// Test perturbations are unseen in every context.
    UnseenPerturbation,
    /// Test combinations `A+B` are unseen; their singles are train.
    UnseenCombo,
    /// One context is held out whole; the model saw its perturbations in the other contexts.
    UnseenContext,
    /// One context is held out and its test perturbations are unseen in every context.
    UnseenContextPerturbation,
}

impl Task {
    /// Every task, in the order of `--help`.
    pub const ALL: [Task; 4] = [
        Task::UnseenPerturbation,
        Task::UnseenCombo,
        Task::UnseenContext,
        Task::UnseenContextPerturbation,
    ];

    /// The task's name on the command line and in split files.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::UnseenPerturbation => "unseen-perturbation",
            Task::UnseenCombo => "unseen-combo",
            Task::UnseenContext => "unseen-context",
            Task::UnseenContextPerturbation => "unseen-context-perturbation",
        }
    }

    /// The task named `name`.
    pub fn parse(name: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// How a task's split is drawn.
#[derive(Debug, Clone)]
pub struct TaskOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Fraction of the candidate perturbations that are test.
    pub test_fraction: f64,
    /// Fraction of the candidate perturbations that are val (after the test ones).
    pub val_fraction: f64,
    /// The held-out context of the context tasks (`None`: drawn with the seed).
    pub holdout_context: Option<String>,
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions {
            seed: super::DEFAULT_SEED,
            test_fraction: 0.2,
            val_fraction: 0.1,
            holdout_context: None,
        }
    }
}

/// A cells file's labels, as the tasks need them.
#[derive(Debug, Clone)]
pub struct LabelsByContext {
    /// The file's display name, for messages.
    pub file: String,
    /// The control label.
    pub control: String,
    /// Per context (sorted; "" when the file has none), its labels, sorted.
    pub contexts: Vec<(String, Vec<String>)>,
    /// The file has a context column.
    pub has_context: bool,
}

/// The split of `task` over `labels` (SPEC §12.5). Controls are `train` in every context.
pub fn make_split(task: Task, labels: &LabelsByContext, opts: &TaskOptions) -> Result<SplitTable> {
    for f in [opts.test_fraction, opts.val_fraction] {
        if !(0.0..1.0).contains(&f) || opts.test_fraction + opts.val_fraction >= 1.0 {
            return Err(Error::Options(format!(
                "test and val fractions must be in [0, 1) with a sum below 1, got {} and {}",
                opts.test_fraction, opts.val_fraction
            )));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x7A5C_5EED);
    let is_pert = |l: &&String| **l != labels.control;
    // Distinct perturbations over all contexts, sorted.
    let all: BTreeSet<&String> = labels
        .contexts
        .iter()
        .flat_map(|(_, ls)| ls.iter().filter(is_pert))
        .collect();
    let mut table = SplitTable {
        file: labels.file.clone(),
        has_context: labels.has_context,
        task: Some(task.as_str().to_string()),
        ..Default::default()
    };
    let mut set = |context: &str, label: &str, side: Split| {
        table
            .sides
            .insert((context.to_string(), label.to_string()), side);
    };
    match task {
        Task::UnseenPerturbation | Task::UnseenCombo => {
            let candidates: Vec<&String> = all
                .iter()
                .copied()
                .filter(|l| task == Task::UnseenPerturbation || is_combo(l))
                .collect();
            if candidates.len() < 2 {
                return Err(Error::in_file(
                    &labels.file,
                    format!(
                        "{} needs at least 2 {}, the cells have {}",
                        task.as_str(),
                        if task == Task::UnseenCombo {
                            "combinations (labels A+B)"
                        } else {
                            "perturbations"
                        },
                        candidates.len()
                    ),
                    "choose another task",
                ));
            }
            let sides: std::collections::BTreeMap<&String, Split> =
                draw_sides(&candidates, opts, &mut rng)
                    .into_iter()
                    .collect();
            for (context, ls) in &labels.contexts {
                for l in ls {
                    let side = sides.get(l).copied().unwrap_or(Split::Train);
                    set(context, l, side);
                }
            }
        }
        Task::UnseenContext | Task::UnseenContextPerturbation => {
            let held = holdout(labels, opts, task, &mut rng)?;
            let held_labels: Vec<&String> = labels
                .contexts
                .iter()
                .find(|(c, _)| *c == held)
                .map(|(_, ls)| ls.iter().filter(is_pert).collect())
                .unwrap_or_default();
            // unseen-context-perturbation: the held-out context's test perturbations, unseen
            // in every context.
            let unseen: BTreeSet<&String> = if task == Task::UnseenContextPerturbation {
                let sides = draw_sides(&held_labels, opts, &mut rng);
                sides
                    .into_iter()
                    .filter(|&(_, s)| s == Split::Test)
                    .map(|(l, _)| l)
                    .collect()
            } else {
                held_labels.iter().copied().collect()
            };
            // Val perturbations of the other contexts, drawn among those the model may see
            // (in unseen-context, all: the held-out context's perturbations are seen elsewhere).
            let seen: Vec<&String> = all
                .iter()
                .copied()
                .filter(|l| task == Task::UnseenContext || !unseen.contains(l))
                .collect();
            let val_only = TaskOptions {
                test_fraction: 0.0,
                ..opts.clone()
            };
            let val: BTreeSet<&String> = draw_sides(&seen, &val_only, &mut rng)
                .into_iter()
                .filter(|&(_, s)| s == Split::Val)
                .map(|(l, _)| l)
                .collect();
            for (context, ls) in &labels.contexts {
                for l in ls {
                    let side = if l == &labels.control {
                        Split::Train
                    } else if *context == held {
                        if unseen.contains(l) {
                            Split::Test
                        } else {
                            Split::Excluded
                        }
                    } else if unseen.contains(l) && task == Task::UnseenContextPerturbation {
                        Split::Excluded
                    } else if val.contains(l) {
                        Split::Val
                    } else {
                        Split::Train
                    };
                    set(context, l, side);
                }
            }
        }
    }
    Ok(table)
}

/// The held-out context: the one asked for, else one drawn with the seed.
fn holdout(
    labels: &LabelsByContext,
    opts: &TaskOptions,
    task: Task,
    rng: &mut ChaCha8Rng,
) -> Result<String> {
    let names: Vec<&String> = labels.contexts.iter().map(|(c, _)| c).collect();
    if !labels.has_context || names.len() < 2 {
        return Err(Error::in_file(
            &labels.file,
            format!(
                "{} needs at least 2 contexts, the cells have {}",
                task.as_str(),
                if labels.has_context { names.len() } else { 1 }
            ),
            "pass the cell type / cell line column with --context-column, or choose another task",
        ));
    }
    match &opts.holdout_context {
        Some(c) if names.contains(&c) => Ok(c.clone()),
        Some(c) => Err(Error::Options(format!(
            "--holdout-context '{c}' is not a context of {} (contexts: {})",
            labels.file,
            names
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        None => Ok(names
            .choose(rng)
            .map(|s| s.to_string())
            .expect("at least 2 contexts")),
    }
}

/// Sides for `candidates` (sorted): permuted with the seed, the first round(test·n) are test,
/// the next round(val·n) val, the rest train; at least one test and one train.
fn draw_sides<'l>(
    candidates: &[&'l String],
    opts: &TaskOptions,
    rng: &mut ChaCha8Rng,
) -> Vec<(&'l String, Split)> {
    let n = candidates.len();
    let mut order: Vec<&String> = candidates.to_vec();
    order.shuffle(rng);
    let round = |f: f64| (f * n as f64).round() as usize;
    let n_test = if opts.test_fraction > 0.0 {
        round(opts.test_fraction).clamp(1, n.saturating_sub(1).max(1))
    } else {
        0
    };
    let n_val = round(opts.val_fraction).min(n.saturating_sub(n_test + 1));
    order
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let side = if i < n_test {
                Split::Test
            } else if i < n_test + n_val {
                Split::Val
            } else {
                Split::Train
            };
            (l, side)
        })
        .collect()
}

/// The split as CSV: `perturbation[,context],split,task`, one row per (context, perturbation).
pub fn split_csv(table: &SplitTable) -> String {
    let mut out = String::new();
    out.push_str(if table.has_context {
        "perturbation,context,split,task\n"
    } else {
        "perturbation,split,task\n"
    });
    let task = table.task.as_deref().unwrap_or("");
    for ((context, label), side) in &table.sides {
        let mut row = vec![csv_field(label)];
        if table.has_context {
            row.push(csv_field(context));
        }
        row.push(side.as_str().to_string());
        row.push(task.to_string());
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// A CSV field, quoted when it needs to be.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.trim() != s {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(contexts: &[&str], perts: &[&str]) -> LabelsByContext {
        let mut ls: Vec<String> = perts.iter().map(|s| s.to_string()).collect();
        ls.push("ctrl".into());
        ls.sort();
        LabelsByContext {
            file: "cells.parquet".into(),
            control: "ctrl".into(),
            contexts: contexts
                .iter()
                .map(|c| (c.to_string(), ls.clone()))
                .collect(),
            has_context: contexts.len() > 1 || !contexts[0].is_empty(),
        }
    }

    fn side_set(t: &SplitTable, side: Split) -> BTreeSet<(String, String)> {
        t.sides
            .iter()
            .filter(|&(_, &s)| s == side)
            .map(|(k, _)| k.clone())
            .collect()
    }

    #[test]
    fn unseen_perturbation_is_the_same_in_every_context_and_deterministic() {
        let perts: Vec<String> = (0..20).map(|i| format!("G{i}")).collect();
        let refs: Vec<&str> = perts.iter().map(|s| s.as_str()).collect();
        let l = labels(&["a", "b"], &refs);
        let opts = TaskOptions::default();
        let t = make_split(Task::UnseenPerturbation, &l, &opts).unwrap();
        assert_eq!(t, make_split(Task::UnseenPerturbation, &l, &opts).unwrap());
        let test = side_set(&t, Split::Test);
        assert_eq!(test.len(), 2 * 4);
        for (c, p) in &test {
            let other = if c == "a" { "b" } else { "a" };
            assert_eq!(t.side_of(other, p), Some(Split::Test));
        }
        assert_eq!(side_set(&t, Split::Val).len(), 2 * 2);
        assert_eq!(t.side_of("a", "ctrl"), Some(Split::Train));
        let other_seed = TaskOptions {
            seed: 7,
            ..Default::default()
        };
        assert_ne!(
            t,
            make_split(Task::UnseenPerturbation, &l, &other_seed).unwrap()
        );
    }

    #[test]
    fn unseen_combo_tests_combos_only() {
        let l = labels(&[""], &["A", "B", "C", "A+B", "A+C", "B+C", "C+D", "D"]);
        let t = make_split(Task::UnseenCombo, &l, &TaskOptions::default()).unwrap();
        for ((_, p), s) in &t.sides {
            if !is_combo(p) {
                assert_eq!(*s, Split::Train, "{p}");
            }
        }
        assert_eq!(side_set(&t, Split::Test).len(), 1);
        let e = make_split(
            Task::UnseenCombo,
            &labels(&[""], &["A", "B"]),
            &Default::default(),
        );
        assert!(e.unwrap_err().to_string().contains("combinations"));
    }

    #[test]
    fn unseen_context_holds_out_a_whole_context() {
        let l = labels(&["A172", "T98G", "U87MG"], &["P1", "P2", "P3", "P4", "P5"]);
        let opts = TaskOptions {
            holdout_context: Some("T98G".into()),
            ..Default::default()
        };
        let t = make_split(Task::UnseenContext, &l, &opts).unwrap();
        for ((c, p), s) in &t.sides {
            let want_test = c == "T98G" && p != "ctrl";
            assert_eq!(*s == Split::Test, want_test, "{c} {p} {s:?}");
            if c != "T98G" {
                assert!(matches!(s, Split::Train | Split::Val));
            }
        }
        // Drawn with the seed when not named: one whole context, always the same.
        let drawn = make_split(Task::UnseenContext, &l, &TaskOptions::default()).unwrap();
        let held: BTreeSet<String> = side_set(&drawn, Split::Test)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(held.len(), 1);
        assert_eq!(
            drawn,
            make_split(Task::UnseenContext, &l, &TaskOptions::default()).unwrap()
        );
        let e = make_split(Task::UnseenContext, &labels(&[""], &["P1", "P2"]), &opts);
        assert!(e.unwrap_err().to_string().contains("at least 2 contexts"));
    }

    #[test]
    fn unseen_context_perturbation_hides_test_perturbations_everywhere() {
        let perts: Vec<String> = (0..10).map(|i| format!("P{i}")).collect();
        let refs: Vec<&str> = perts.iter().map(|s| s.as_str()).collect();
        let l = labels(&["x", "y"], &refs);
        let opts = TaskOptions {
            holdout_context: Some("x".into()),
            ..Default::default()
        };
        let t = make_split(Task::UnseenContextPerturbation, &l, &opts).unwrap();
        let test = side_set(&t, Split::Test);
        assert_eq!(test.len(), 2);
        for (c, p) in &test {
            assert_eq!(c, "x");
            assert_eq!(t.side_of("y", p), Some(Split::Excluded));
        }
        for p in &perts {
            let s = t.side_of("x", p).unwrap();
            assert!(matches!(s, Split::Test | Split::Excluded), "{p} {s:?}");
        }
    }

    #[test]
    fn csv_round_trips_through_the_reader() {
        let l = labels(&["a", "b"], &["P1", "P,2", "P3"]);
        let t = make_split(Task::UnseenContext, &l, &TaskOptions::default()).unwrap();
        let back = crate::io::read_split_file("cells.parquet", split_csv(&t).as_bytes()).unwrap();
        assert_eq!(back, t);
    }
}
