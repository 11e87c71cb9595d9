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
        trusted,
        beats_null,
        verdicts,
    }
}
