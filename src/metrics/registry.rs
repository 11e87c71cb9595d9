//! The registry: every metric family calibra computes, in output order. A family is registered
//! here with one line; its metrics' specs come from the family itself.

use super::calibrated::Calibrated;
use super::celleval::CellEval;
use super::celleval2::CellEval2;
use super::distributional::{DISTRIBUTIONAL_DEG, DISTRIBUTIONAL_PCA, DISTRIBUTIONAL_RAW};
use super::family::MetricFamily;
use super::perturbench::PerturBench;
use super::spec::MetricSpec;

/// Every registered metric family, in output order.
pub static FAMILIES: [&dyn MetricFamily; 7] = [
    &Calibrated,
    &DISTRIBUTIONAL_RAW,
    &DISTRIBUTIONAL_PCA,
    &DISTRIBUTIONAL_DEG,
    &CellEval,
    &CellEval2,
    &PerturBench,
];

/// Every registered metric's spec, families in [`FAMILIES`] order.
pub fn registered_specs() -> Vec<&'static MetricSpec> {
    FAMILIES.iter().flat_map(|f| f.specs().iter()).collect()
}

/// The spec of a registered metric, by its SPEC name.
pub fn metric_spec(name: &str) -> Option<&'static MetricSpec> {
    registered_specs().into_iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_across_families() {
        let specs = registered_specs();
        for s in &specs {
            assert_eq!(
                specs.iter().filter(|t| t.name == s.name).count(),
                1,
                "{} is declared more than once",
                s.name
            );
        }
    }

    #[test]
    fn every_family_owns_its_specs() {
        for f in FAMILIES.iter() {
            assert!(f.specs().iter().all(|s| s.family == f.name()));
        }
    }
}
