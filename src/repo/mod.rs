//! Chart repositories: the index format, repositories config and cache, the HTTP client,
//! search, pull, index generation and hosting.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RepoError {
    #[error("{0}")]
    Invalid(String),
}
