//! Values: defaults, `-f` files and the `--set` family merged with Helm's rules,
//! and JSON Schema validation.

mod coalesce;
mod schema;
pub mod strvals;
pub mod yaml;

use std::io::Read;
use std::path::PathBuf;

pub use coalesce::{merge_maps, prepare};
pub use schema::validate;
pub use strvals::SetKind;
use thiserror::Error;

/// A values tree. Maps are `BTreeMap`-backed, so key order is sorted and output deterministic.
pub type Values = serde_json::Value;

#[derive(Debug, Error)]
pub enum ValuesError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Content { file: String, message: String },
    /// A `--set` family expression that does not parse; `column` is 1-based.
    #[error("{flag} {expr:?}: {message} (at column {column})")]
    Set {
        flag: &'static str,
        expr: String,
        column: usize,
        message: String,
    },
    /// Every schema violation, each with its JSON path, in one line.
    #[error("values do not match {schema} ({count} violation{s}): {list}", count = violations.len(), s = if violations.len() == 1 { "" } else { "s" }, list = violations.join("; "))]
    Schema {
        schema: String,
        violations: Vec<String>,
    },
    #[error("{schema}: not a usable JSON Schema: {message}")]
    BadSchema { schema: String, message: String },
    /// Chart structure found while preparing values (missing subcharts, bad conditions…).
    #[error("chart {chart}: {message}")]
    Dependency { chart: String, message: String },
    #[error("values for {path} must be a map, not {found}")]
    NotAMap { path: String, found: &'static str },
}

/// Where user values come from, in Helm's precedence (later wins): `-f` files in order,
/// then `--set-json`, `--set`, `--set-string`, `--set-file`, `--set-literal`, each in order.
#[derive(Debug, Clone, Default)]
pub struct ValueOptions {
    /// Paths, or `-` for standard input.
    pub values_files: Vec<PathBuf>,
    pub set: Vec<String>,
    pub set_string: Vec<String>,
    pub set_json: Vec<String>,
    pub set_file: Vec<String>,
    pub set_literal: Vec<String>,
}

impl ValueOptions {
    /// Merge everything into one user values tree (a map). `null`s are kept: they delete
    /// chart defaults later, in `prepare`.
    pub fn load(&self) -> Result<Values, ValuesError> {
        self.load_with_stdin(&mut std::io::stdin())
    }

    /// `load`, with `-f -` reading from `stdin` (tests pass a buffer).
    pub fn load_with_stdin(&self, stdin: &mut dyn Read) -> Result<Values, ValuesError> {
        let mut stdin_used = false;
        let mut base = serde_json::Map::new();
        for path in &self.values_files {
            let (label, text) = if path.as_os_str() == "-" {
                if stdin_used {
                    return Err(ValuesError::Content {
                        file: "<stdin>".into(),
                        message: "'-f -' given more than once".into(),
                    });
                }
                stdin_used = true;
                let mut text = String::new();
                stdin
                    .read_to_string(&mut text)
                    .map_err(|source| ValuesError::Io {
                        file: "<stdin>".into(),
                        source,
                    })?;
                ("<stdin>".to_string(), text)
            } else {
                let label = path.display().to_string();
                let bytes = std::fs::read(path).map_err(|source| ValuesError::Io {
                    file: label.clone(),
                    source,
                })?;
                let text = String::from_utf8(bytes).map_err(|e| ValuesError::Content {
                    file: label.clone(),
                    message: format!("not valid UTF-8 ({e})"),
                })?;
                (label, text)
            };
            let map = parse_values_text(&text, &label)?;
            merge_maps(&mut base, map);
        }
        let groups: [(&Vec<String>, SetKind); 5] = [
            (&self.set_json, SetKind::Json),
            (&self.set, SetKind::Typed),
            (&self.set_string, SetKind::String),
            (&self.set_file, SetKind::File),
            (&self.set_literal, SetKind::Literal),
        ];
        let mut read_file = |p: &str| -> Result<String, String> {
            let bytes = std::fs::read(p).map_err(|e| format!("cannot read {p}: {e}"))?;
            String::from_utf8(bytes).map_err(|_| format!("{p} is not valid UTF-8 text"))
        };
        for (exprs, kind) in groups {
            for expr in exprs {
                strvals::parse_into(expr, kind, &mut base, &mut read_file).map_err(|e| {
                    ValuesError::Set {
                        flag: kind.flag(),
                        expr: expr.clone(),
                        column: e.column,
                        message: e.message,
                    }
                })?;
            }
        }
        Ok(Values::Object(base))
    }
}

/// Parse a values document (a map, or empty); `file` names it in errors.
pub fn parse_values_text(
    text: &str,
    file: &str,
) -> Result<serde_json::Map<String, Values>, ValuesError> {
    yaml::parse_map(text).map_err(|issue| match issue.location {
        Some((line, column)) => ValuesError::Syntax {
            file: file.to_string(),
            line,
            column,
            message: issue.message,
        },
        None => ValuesError::Content {
            file: file.to_string(),
            message: issue.message,
        },
    })
}
