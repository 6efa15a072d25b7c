//! Values: defaults, `-f` files and the `--set` family merged with Helm's rules,
//! and JSON Schema validation.

use thiserror::Error;

/// A values tree. Maps are `BTreeMap`-backed, so key order is sorted and output deterministic.
pub type Values = serde_json::Value;

#[derive(Debug, Error)]
pub enum ValuesError {
    #[error("{0}")]
    Invalid(String),
}
