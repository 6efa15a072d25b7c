//! The `files` context object: read access to a chart's non-template files.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use minijinja::value::{Object, Value};
use minijinja::{Error, ErrorKind, State};

use crate::chart::Chart;

#[derive(Debug)]
pub(crate) struct Files {
    files: BTreeMap<String, Vec<u8>>,
}

impl Files {
    /// Everything outside `templates/` and `charts/` (those have their own meaning).
    pub(crate) fn of(chart: &Chart) -> Files {
        let files = chart
            .files
            .iter()
            .filter(|f| !f.path.starts_with("templates/") && !f.path.starts_with("charts/"))
            .map(|f| (f.path.clone(), f.data.clone()))
            .collect();
        Files { files }
    }

    fn text(&self, path: &str) -> Result<String, Error> {
        let data = self.files.get(path).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("files.get: the chart has no file {path:?}"),
            )
        })?;
        String::from_utf8(data.clone()).map_err(|_| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("files.get: {path:?} is not UTF-8 text"),
            )
        })
    }

    fn matching(&self, pattern: &str) -> Result<Vec<&str>, Error> {
        let glob = globset::Glob::new(pattern)
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("files.glob: bad pattern {pattern:?}: {e}"),
                )
            })?
            .compile_matcher();
        Ok(self
            .files
            .keys()
            .filter(|p| glob.is_match(p.as_str()))
            .map(String::as_str)
            .collect())
    }
}

fn one_string(method: &str, args: &[Value]) -> Result<String, Error> {
    let (s,): (String,) = minijinja::value::from_args(args).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("files.{method} takes one string argument: {e}"),
        )
    })?;
    Ok(s)
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl Object for Files {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let arg = one_string(method, args)?;
        match method {
            "get" => Ok(Value::from(self.text(&arg)?)),
            "exists" => Ok(Value::from(self.files.contains_key(&arg))),
            "lines" => Ok(Value::from(
                self.text(&arg)?
                    .lines()
                    .map(Value::from)
                    .collect::<Vec<_>>(),
            )),
            "glob" => {
                let mut out = BTreeMap::new();
                for p in self.matching(&arg)? {
                    out.insert(p.to_string(), self.text(p)?);
                }
                Ok(super::jv(&out))
            }
            "as_config" => {
                let mut out = BTreeMap::new();
                for p in self.matching(&arg)? {
                    out.insert(basename(p).to_string(), self.text(p)?);
                }
                Ok(super::jv(&out))
            }
            "as_secrets" => {
                let mut out = BTreeMap::new();
                for p in self.matching(&arg)? {
                    out.insert(
                        basename(p).to_string(),
                        base64::engine::general_purpose::STANDARD.encode(&self.files[p]),
                    );
                }
                Ok(super::jv(&out))
            }
            other => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!(
                    "files has no method {other:?} (get, exists, lines, glob, as_config, as_secrets)"
                ),
            )),
        }
    }
}
