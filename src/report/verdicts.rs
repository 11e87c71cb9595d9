//! Verdicts: per user model, on how many of the metrics that can be trusted on this dataset
//! (DRF, [`crate::calibration::DrfSummaryRow::trusted`]) it beats the null baseline
//! ([`crate::significance::StatsRow::beats_null`]). Computed here once and shipped to the text
//! summary and the page.

use crate::evaluation::ContextResult;
use crate::significance::ALPHA;
use std::collections::BTreeMap;

/// One user model's verdict in one context.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verdict {
    /// The model.
    pub model: String,
    /// Trusted metrics on which it beats the null.
    pub wins: Vec<&'static str>,
    /// How many metrics are trusted on this dataset.
    pub total: usize,
    /// The verdict in one sentence.
    pub text: String,
}

/// Judgements of one context, as the page and the text summary show them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Judgements {
    /// Metrics that can be trusted on this dataset, in table order.
    pub trusted: Vec<&'static str>,
    /// Per model or baseline: the metrics on which it is significantly better than the null.
    pub beats_null: BTreeMap<String, Vec<&'static str>>,
    /// One verdict per user model, in input order.
    pub verdicts: Vec<Verdict>,
    /// Why nothing (or little) can be concluded, in words, with what to do; empty when the
    /// verdicts speak for themselves.
    pub notes: Vec<String>,
}

/// Why a context allows no (or no model) verdict: no predictions, or no metric trusted.
fn notes(r: &ContextResult, trusted: &[&'static str]) -> Vec<String> {
    let mut notes = Vec::new();
    if r.dataset.folds().is_empty() {
        notes.push(
            "Nothing is evaluated here: no perturbation of this context is tested (the split \
             puts them all in train or val, or every fold is −1). Its perturbations are training \
             data for the baselines."
                .to_string(),
        );
        return notes;
    }
    if r.models.is_empty() {
        notes.push(
            "No predictions were given: this shows the baselines and which metrics can be \
             trusted on this dataset (the calibration) only. Add one or more prediction files to \
             judge a model."
                .to_string(),
        );
    }
    if trusted.is_empty() {
        let headline: Vec<_> = r
            .calibration
            .summary
            .iter()
            .filter(|row| row.drf_type == crate::calibration::DrfType::Interpolated)
            .collect();
        let censored = headline.iter().filter(|row| row.censored).count();
        let evaluable = headline
            .iter()
            .map(|row| row.n_valid_interpolated)
            .max()
            .unwrap_or(0);
        notes.push(if censored == headline.len() && censored > 0 {
            format!(
                "No metric can be trusted: every DRF is censored, because at most {evaluable} \
                 perturbation(s) could be evaluated here and the DRF needs at least {} \
                 (SPEC §7). Evaluate a screen with more tested perturbations (each needs cells in \
                 both halves), or pass --preset revision, which does not censor.",
                crate::calibration::MIN_PERTURBATIONS_DRF
            )
        } else {
            "No metric can be trusted: where the DRF is not censored it is ≤ 0 — the technical \
             duplicate is no closer to the truth than the null baseline on this dataset, so no \
             metric here can tell a model's signal from the trivial baseline."
                .to_string()
        });
    }
    notes
}

/// The judgements of one context.
pub fn judge(r: &ContextResult) -> Judgements {
    let trusted = r.calibration.trusted_metrics();
    let mut beats_null: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for row in &r.stats {
        let entry = beats_null.entry(row.model.clone()).or_default();
        if row.beats_null() {
            entry.push(row.metric);
        }
    }
    let verdicts = r
        .models
        .iter()
        .map(|m| {
            let wins: Vec<&'static str> = beats_null
                .get(&m.name)
                .map(|won| {
                    won.iter()
                        .copied()
                        .filter(|w| trusted.contains(w))
                        .collect()
                })
                .unwrap_or_default();
            let text = if trusted.is_empty() {
                format!(
                    "{}: no verdict — no metric can be trusted on this dataset (every DRF is \
                     censored for lack of evaluated perturbations, or ≤ 0)",
                    m.name
                )
            } else {
                format!(
                    "{} beats the null baseline on {}/{} calibrated metrics (Bonferroni p < {ALPHA})",
                    m.name,
                    wins.len(),
                    trusted.len()
                )
            };
            Verdict {
                model: m.name.clone(),
                total: trusted.len(),
                wins,
                text,
            }
        })
        .collect();
    Judgements {
        notes: notes(r, &trusted),
        trusted,
        beats_null,
        verdicts,
    }
}
