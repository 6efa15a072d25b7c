//! `stackpkg show`: a chart's metadata, default values, README, schema and CRDs.

use std::path::Path;

use crate::chart::{self, Chart};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowKind {
    Chart,
    Values,
    Readme,
    Schema,
    Crds,
    All,
}

fn chart_yaml(c: &Chart) -> crate::Result<String> {
    // The file as written (comments and order kept), like `helm show chart`.
    match c.file("Chart.yaml") {
        Some(f) => Ok(String::from_utf8_lossy(&f.data).into_owned()),
        None => serde_yaml::to_string(&c.metadata).map_err(|e| crate::Error::Other(e.to_string())),
    }
}

fn text_of(c: &Chart, path: &str) -> Option<String> {
    c.file(path)
        .map(|f| String::from_utf8_lossy(&f.data).into_owned())
}

fn readme(c: &Chart) -> Option<String> {
    c.files
        .iter()
        .filter(|f| !f.path.contains('/'))
        .find(|f| {
            let lower = f.path.to_ascii_lowercase();
            lower == "readme.md" || lower == "readme" || lower == "readme.txt"
        })
        .map(|f| String::from_utf8_lossy(&f.data).into_owned())
}

fn crds(c: &Chart) -> String {
    let mut out = String::new();
    for f in &c.crds {
        out.push_str("---\n");
        out.push_str(&format!("# Source: {}/{}\n", c.name(), f.path));
        let text = String::from_utf8_lossy(&f.data);
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

fn ensure_newline(mut s: String) -> String {
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// The text `show KIND` prints. A part the chart lacks is an error for that part alone,
/// and silently skipped by `all`.
pub fn show(kind: ShowKind, path: &Path) -> crate::Result<String> {
    let c = chart::load(path)?;
    let missing =
        |what: &str| crate::Error::Other(format!("{}: the chart has no {what}", c.origin));
    Ok(match kind {
        ShowKind::Chart => ensure_newline(chart_yaml(&c)?),
        ShowKind::Values => ensure_newline(text_of(&c, "values.yaml").unwrap_or_default()),
        ShowKind::Readme => ensure_newline(readme(&c).ok_or_else(|| missing("README.md"))?),
        ShowKind::Schema => ensure_newline(
            text_of(&c, "values.schema.json").ok_or_else(|| missing("values.schema.json"))?,
        ),
        ShowKind::Crds => {
            if c.crds.is_empty() {
                return Err(missing("crds/ folder"));
            }
            crds(&c)
        }
        ShowKind::All => {
            let mut parts = vec![ensure_newline(chart_yaml(&c)?)];
            if let Some(v) = text_of(&c, "values.yaml") {
                parts.push(ensure_newline(v));
            }
            if let Some(r) = readme(&c) {
                parts.push(ensure_newline(r));
            }
            let mut out = parts.join("---\n");
            if !c.crds.is_empty() {
                out.push_str(&crds(&c));
            }
            out
        }
    })
}
