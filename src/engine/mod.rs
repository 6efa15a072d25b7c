//! The template engine: a minijinja environment with stackpkg's function library,
//! rendering a chart tree (subcharts, globals) into named documents and NOTES.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("{0}")]
    Render(String),
}
