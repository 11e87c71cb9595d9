//! Reading a split file (SPEC §12.5): CSV or TSV with a header, columns `perturbation`,
//! optionally `context`, and `split` (`train` / `val` / `test` / `excluded`); an optional `task`
//! column records the `calibra split` task that wrote it. Small (one row per perturbation), so
//! it is read whole.

use super::layout::{CONTEXT_COLUMN_CANDIDATES, PERTURBATION_COLUMN_CANDIDATES};
use crate::design::{Split, SplitTable};
use crate::error::{Error, Location, Result};

/// Column names accepted for the context, besides the cells' context column names.
const CONTEXT_NAMES: [&str; 1] = ["context"];

/// Parses a split file's bytes; `file` is its display name for messages.
pub fn read_split_file(file: &str, bytes: &[u8]) -> Result<SplitTable> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::in_file(
            file,
            format!("not UTF-8 text ({e})"),
            "write the split as CSV: perturbation[,context],split",
        )
    })?;
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.contains('\t') && !first_line.contains(',') {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(file, &e))?
        .iter()
        .map(str::to_string)
        .collect();
    let find = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| header.iter().position(|h| h == n))
    };
    let missing = |what: &str, names: &[&str]| {
        Error::in_file(
            file,
            format!(
                "no {what} column (looked for {}; the header has {})",
                names.join(", "),
                header.join(", ")
            ),
            "write the split as CSV with a header: perturbation[,context],split",
        )
    };
    let label = find(PERTURBATION_COLUMN_CANDIDATES)
        .ok_or_else(|| missing("perturbation", PERTURBATION_COLUMN_CANDIDATES))?;
    let split = find(&["split"]).ok_or_else(|| missing("split", &["split"]))?;
    let context = find(&CONTEXT_NAMES).or_else(|| find(CONTEXT_COLUMN_CANDIDATES));
    let task = find(&["task"]);

    let mut table = SplitTable {
        file: file.to_string(),
        has_context: context.is_some(),
        ..Default::default()
    };
    let mut tasks = std::collections::BTreeSet::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(file, &e))?;
        // Rows are numbered from 0 after the header, as cells are.
        let row = i as u64;
        let at = |c: usize| record.get(c).unwrap_or("");
        let here = |column: &str, message: String, remedy: String| {
            Error::input(
                Location {
                    file: Some(file.into()),
                    column: Some(column.into()),
                    row: Some(row),
                    ..Default::default()
                },
                message,
                remedy,
            )
        };
        let label_text = at(label);
        if label_text.is_empty() {
            return Err(here(
                &header[label],
                "empty perturbation".into(),
                "give every row a perturbation".into(),
            ));
        }
        let side = Split::parse(at(split)).ok_or_else(|| {
            here(
                "split",
                format!("split value '{}' is not a split", at(split)),
                format!("use one of {}", Split::expected()),
            )
        })?;
        let ctx = context.map_or("", at).to_string();
        let key = (ctx, label_text.to_string());
        if let Some(prev) = table.sides.insert(key.clone(), side) {
            if prev != side {
                return Err(here(
                    "split",
                    format!(
                        "perturbation '{}'{} is listed as both {} and {}",
                        key.1,
                        if key.0.is_empty() {
                            String::new()
                        } else {
                            format!(" in context '{}'", key.0)
                        },
                        prev.as_str(),
                        side.as_str()
                    ),
                    "list each perturbation (per context) once".into(),
                ));
            }
        }
        if let Some(t) = task {
            let t = at(t);
            if !t.is_empty() {
                tasks.insert(t.to_string());
            }
        }
    }
    if table.sides.is_empty() {
        return Err(Error::in_file(
            file,
            "the split file has no rows",
            "list each perturbation with its split",
        ));
    }
    if tasks.len() == 1 {
        table.task = tasks.into_iter().next();
    }
    Ok(table)
}

fn csv_error(file: &str, e: &csv::Error) -> Error {
    Error::input(
        Location {
            file: Some(file.into()),
            row: e.position().map(|p| p.line().saturating_sub(2)),
            ..Default::default()
        },
        format!("not a readable CSV: {e}"),
        "write the split as CSV with a header: perturbation[,context],split",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_csv_and_tsv() {
        let t = read_split_file("s.csv", b"perturbation,split\nA,train\nB,test\n").unwrap();
        assert!(!t.has_context);
        assert_eq!(t.side_of("any", "B"), Some(Split::Test));
        let t = read_split_file(
            "s.tsv",
            b"condition\tcell_type\tsplit\ttask\nA\tk562\tval\tunseen-context\n",
        )
        .unwrap();
        assert!(t.has_context);
        assert_eq!(t.side_of("k562", "A"), Some(Split::Val));
        assert_eq!(t.side_of("A172", "A"), None);
        assert_eq!(t.task.as_deref(), Some("unseen-context"));
    }

    #[test]
    fn bad_rows_are_named() {
        let e = read_split_file("s.csv", b"perturbation,split\nA,train\nB,holdout\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 1") && e.contains("holdout"), "{e}");
        let e = read_split_file("s.csv", b"gene_name,fold\nA,1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no perturbation column"), "{e}");
        let e = read_split_file("s.csv", b"perturbation,split\nA,train\nA,test\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("both train and test"), "{e}");
    }
}
