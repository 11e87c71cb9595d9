//! Shared test helpers: where ../shared is, and the golden-file comparison.
#![allow(dead_code)]

#[cfg(not(target_arch = "wasm32"))]
pub mod celleval2_results;
#[cfg(not(target_arch = "wasm32"))]
pub mod celleval_inputs;
pub mod counts_inputs;
pub mod golden;
pub mod h5ad;
pub mod layouts;
pub mod tables;

#[cfg(not(target_arch = "wasm32"))]
use calibra::pipeline::{evaluate, EvaluateOptions, Inputs};
#[cfg(not(target_arch = "wasm32"))]
use std::collections::BTreeMap;
#[cfg(not(target_arch = "wasm32"))]
use std::path::Path;
use std::path::PathBuf;

/// The shared folder (SPEC, goldens, real data): `$CALIBRA_SHARED`, else `../shared` beside
/// the checkout.
pub fn shared_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("CALIBRA_SHARED") {
        return PathBuf::from(p);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    assert!(
        dir.join("golden").is_dir(),
        "../shared (with golden/) must be beside the checkout, or set CALIBRA_SHARED"
    );
    dir
}

#[cfg(not(target_arch = "wasm32"))]
/// Every output table as text (CSV of all nine tables): equal text = bit-identical numbers.
pub fn outputs(
    cells: &Path,
    predictions: &Path,
    opts: &EvaluateOptions,
) -> BTreeMap<String, String> {
    let inputs = Inputs {
        cells: calibra::io::open_file(cells).unwrap(),
        predictions: vec![calibra::io::open_file(predictions).unwrap()],
        split: None,
    };
    let e = evaluate(inputs, opts, &mut |_, _| {})
        .unwrap_or_else(|err| panic!("{}: {err}", cells.display()));
    e.contexts
        .iter()
        .flat_map(|c| {
            calibra::report::OUTPUTS
                .iter()
                .filter(|o| o.applies_to(c))
                .map(|o| {
                    let table = calibra::report::context_table(c, o.name)
                        .expect("output built")
                        .expect("output exists");
                    (o.name.to_string(), table.to_csv())
                })
        })
        .collect()
}

/// Asserts that `got` holds the same output files as `reference`, each byte for byte;
/// `what` names the variant in the message.
#[cfg(not(target_arch = "wasm32"))]
pub fn assert_same_outputs(
    got: &BTreeMap<String, String>,
    reference: &BTreeMap<String, String>,
    what: &str,
) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        reference.keys().collect::<Vec<_>>()
    );
    for (name, text) in reference {
        assert!(
            got[name] == *text,
            "{what}: {name} differs from the reference"
        );
    }
}
