//! Tables across contexts: each small output of every context in one table with a leading
//! `context` column, and the pooled summary (per model and metric: each context's mean and the
//! mean over contexts). The CLI writes them beside the per-context folders; the page shows the
//! pooled summary above its context selector.

use super::table::{Column, Table};
use super::{context_table, OUTPUTS};
use crate::error::Result;
use crate::evaluation::ContextResult;
use std::collections::BTreeMap;

/// The `context` value of the pooled rows.
pub const MEAN_OVER_CONTEXTS: &str = "mean over contexts";

/// The output files that are combined across contexts (the small, per-perturbation ones).
pub fn combined_outputs() -> impl Iterator<Item = &'static str> {
    OUTPUTS.iter().filter(|o| !o.per_gene).map(|o| o.name)
}

/// Output `name` of every context in one table, `context` first; `None` for an unknown name.
pub fn all_contexts_table(contexts: &[ContextResult], name: &str) -> Result<Option<Table>> {
    let mut all: Option<Table> = None;
    for r in contexts {
        let Some(table) = context_table(r, name)? else {
            return Ok(None);
        };
        let context = r.context.clone().unwrap_or_default();
        let mut rows = Table::new().with("context", Column::Str(vec![context; table.n_rows()]));
        rows.columns.extend(table.columns);
        match &mut all {
            None => all = Some(rows),
            Some(a) => a.append(rows),
        }
    }
    Ok(all)
}

/// One context's (name, mean, n) for a model and metric.
type ContextMean = (String, f64, i64);

/// Per model and metric (in the first context's order): each context's mean over its
/// perturbations and `n`, then the mean of the context means that are defined
/// ([`MEAN_OVER_CONTEXTS`], `n` = contexts averaged).
pub fn pooled_summary(contexts: &[ContextResult]) -> Table {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut cells: BTreeMap<(String, String), Vec<ContextMean>> = BTreeMap::new();
    for r in contexts {
        for row in &r.summary {
            let key = (row.model.clone(), row.metric.to_string());
            let entry = cells.entry(key.clone()).or_default();
            if entry.is_empty() {
                order.push(key);
            }
            entry.push((
                r.context.clone().unwrap_or_default(),
                row.mean,
                row.n as i64,
            ));
        }
    }
    let (mut model, mut metric, mut context, mut mean, mut n) =
        (vec![], vec![], vec![], vec![], vec![]);
    for key in order {
        let per_context = &cells[&key];
        let defined: Vec<f64> = per_context
            .iter()
            .map(|c| c.1)
            .filter(|m| !m.is_nan())
            .collect();
        let rows = per_context.iter().cloned().chain(std::iter::once((
            MEAN_OVER_CONTEXTS.to_string(),
            if defined.is_empty() {
                f64::NAN
            } else {
                defined.iter().sum::<f64>() / defined.len() as f64
            },
            defined.len() as i64,
        )));
        for (c, m, k) in rows {
            model.push(key.0.clone());
            metric.push(key.1.clone());
            context.push(c);
            mean.push(m);
            n.push(k);
        }
    }
    Table::new()
        .with("model", Column::Str(model))
        .with("metric", Column::Str(metric))
        .with("context", Column::Str(context))
        .with("mean", Column::F64(mean))
        .with("n", Column::I64(n))
}
