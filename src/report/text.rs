//! The short plain-text summary shown after an evaluation (CLI stdout, browser "copy" text).

use crate::evaluation::Evaluation;

/// The short summary printed after an evaluation.
pub fn human_summary(e: &Evaluation) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for r in &e.contexts {
        let ds = &r.dataset;
        let _ =
            writeln!(
            s,
            "{}{} cells × {} genes; {} perturbations ({:?}), {} evaluated; control '{}' ({} cells)",
            r.context.as_ref().map(|c| format!("[{c}] ")).unwrap_or_default(),
            ds.n_cells,
            ds.n_genes(),
            ds.perturbations().len(),
            ds.kind(),
            ds.evaluated().len(),
            ds.labels[ds.control],
            ds.n_cells_of(ds.control)
        );
        let _ = writeln!(s, "\nDynamic range fraction (drf_interpolated, mean over perturbations; 1 = metric separates signal from null):");
        for row in r
            .calibration
            .summary
            .iter()
            .filter(|x| x.drf_type.as_str() == "drf_interpolated")
        {
            let v = if row.censored {
                "censored (<10 valid perturbations)".to_string()
            } else {
                format!("{:7.3}  (n={})", row.mean_drf, row.n_perturbations)
            };
            let _ = writeln!(s, "  {:<24} {v}", row.metric);
        }
        let judgements = super::verdicts::judge(r);
        for note in &judgements.notes {
            let _ = writeln!(s, "\n  {note}");
        }
        if !r.models.is_empty() {
            let _ = writeln!(
                s,
                "\nVerdict (calibrated metrics: DRF not censored and > 0 on this dataset):"
            );
            for v in &judgements.verdicts {
                let _ = writeln!(s, "  {}", v.text);
            }
            let _ = writeln!(s, "\nModel means per metric (null baseline in brackets; * = better than null, Bonferroni p < {}):", crate::significance::ALPHA);
            let mut header = format!("  {:<24}", "metric");
            for m in &r.models {
                let _ = write!(header, " {:>22}", m.name);
            }
            let _ = writeln!(s, "{header}");
            for spec in r.table.specs.iter() {
                let mut line = format!("  {:<24}", spec.name);
                for m in &r.models {
                    let row = r
                        .stats
                        .iter()
                        .find(|x| x.model == m.name && x.metric == spec.name);
                    let null = r
                        .stats
                        .iter()
                        .find(|x| x.model == spec.null_baseline() && x.metric == spec.name);
                    let cell = match (row, null) {
                        (Some(x), Some(n)) => {
                            let star = if x.beats_null() { "*" } else { " " };
                            format!("{:.3}{star} [{:.3}]", x.mean, n.mean)
                        }
                        _ => "-".into(),
                    };
                    let _ = write!(line, " {cell:>22}");
                }
                let _ = writeln!(s, "{line}");
            }
        }
        s.push('\n');
    }
    for n in &e.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}
