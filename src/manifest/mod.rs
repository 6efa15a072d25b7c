//! Rendered objects: split documents, identity (group/version/kind, namespace, name),
//! hook metadata and the install order.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("{0}")]
    Invalid(String),
}
