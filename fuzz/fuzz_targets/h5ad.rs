//! Any bytes given as an h5ad cells file: calibra answers with a result or an error, never a
//! panic (the h5ad reader, then everything downstream of it).
#![no_main]

use calibra::io::{MemorySource, SharedSource};
use calibra::pipeline::{evaluate, EvaluateOptions, Inputs};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let cells: SharedSource = Arc::new(MemorySource::new("fuzz.h5ad", data.to_vec()));
    let options = EvaluateOptions {
        n_resamples: 10,
        ..EvaluateOptions::default()
    };
    let _ = evaluate(
        Inputs {
            cells,
            predictions: vec![],
            split: None,
        },
        &options,
        &mut |_, _| {},
    );
});
