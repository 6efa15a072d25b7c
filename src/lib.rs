//! stackpkg: a package manager for Kubernetes made for data stacks.
//!
//! Layering (see docs/architecture.md): `cli` parses and prints, `action`
//! orchestrates, the other modules each own one concern.

pub mod action;
pub mod chart;
pub mod cli;
pub mod engine;
pub mod error;
pub mod kube;
pub mod lifecycle;
pub mod manifest;
pub mod release;
pub mod repo;
pub mod values;

pub use error::{Error, Result};
