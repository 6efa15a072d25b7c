//! Chart.yaml model. Field names follow Helm's v2 format so converted charts load as they are.

use std::collections::BTreeMap;

use semver::Version;
use serde::{Deserialize, Serialize};

use super::constraint::Constraint;
use super::ChartError;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartMetadata {
    pub api_version: String,
    pub name: String,
    pub version: String,
    /// Numbers are accepted (`appVersion: 7.0`) since many Helm charts write them unquoted.
    #[serde(
        default,
        deserialize_with = "string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    /// `application` (default) or `library`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub chart_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintainers: Vec<Maintainer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        I(i64),
        F(f64),
    }
    Ok(Option::<Raw>::deserialize(d)?.map(|r| match r {
        Raw::S(s) => s,
        Raw::I(i) => i.to_string(),
        Raw::F(f) => f.to_string(),
    }))
}

impl ChartMetadata {
    pub fn is_library(&self) -> bool {
        self.chart_type.as_deref() == Some("library")
    }

    /// Check every rule of the format; `file` names Chart.yaml in errors.
    pub fn validate(&self, file: &str) -> Result<(), ChartError> {
        let field = |field: &str, message: String| ChartError::Field {
            file: file.to_string(),
            field: field.to_string(),
            message,
        };
        match self.api_version.as_str() {
            "v2" => {}
            "v1" => {
                return Err(field(
                    "apiVersion",
                    "\"v1\" charts (Helm 2) are not supported; set apiVersion: v2 and move requirements.yaml entries to dependencies".into(),
                ))
            }
            "" => return Err(field("apiVersion", "is required (use v2)".into())),
            other => return Err(field("apiVersion", format!("{other:?} is not supported (use v2)"))),
        }
        check_name(&self.name).map_err(|m| field("name", m))?;
        Version::parse(&self.version).map_err(|e| {
            field(
                "version",
                format!(
                    "{:?} is not a semantic version like 1.2.3 ({e})",
                    self.version
                ),
            )
        })?;
        match self.chart_type.as_deref() {
            None | Some("application") | Some("library") => {}
            Some(other) => {
                return Err(field(
                    "type",
                    format!("{other:?} is not one of application, library"),
                ))
            }
        }
        if let Some(kv) = &self.kube_version {
            Constraint::parse(kv).map_err(|e| field("kubeVersion", e.to_string()))?;
        }
        for (i, m) in self.maintainers.iter().enumerate() {
            if m.name.trim().is_empty() {
                return Err(field(
                    &format!("maintainers[{i}].name"),
                    "is required".into(),
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, d) in self.dependencies.iter().enumerate() {
            let at = |f: &str| format!("dependencies[{i}].{f}");
            check_name(&d.name).map_err(|m| field(&at("name"), m))?;
            if !d.version.trim().is_empty() {
                Constraint::parse(&d.version).map_err(|e| field(&at("version"), e.to_string()))?;
            }
            if let Some(alias) = &d.alias {
                if alias.is_empty()
                    || !alias
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(field(
                        &at("alias"),
                        format!("{alias:?} may only hold letters, digits, '-' and '_'"),
                    ));
                }
            }
            if let Some(cond) = &d.condition {
                if cond.split(',').any(|c| c.trim().is_empty()) {
                    return Err(field(
                        &at("condition"),
                        format!("{cond:?} has an empty path"),
                    ));
                }
            }
            for (j, iv) in d.import_values.iter().enumerate() {
                let ok = match iv {
                    serde_json::Value::String(s) => !s.is_empty(),
                    serde_json::Value::Object(m) => {
                        matches!(m.get("child"), Some(serde_json::Value::String(c)) if !c.is_empty())
                            && matches!(m.get("parent"), Some(serde_json::Value::String(p)) if !p.is_empty())
                    }
                    _ => false,
                };
                if !ok {
                    return Err(field(
                        &at(&format!("import-values[{j}]")),
                        "must be a name or a map with string keys child and parent".into(),
                    ));
                }
            }
            if !seen.insert(d.effective_name().to_string()) {
                return Err(field(
                    &at("name"),
                    format!(
                        "{:?} is listed twice; give one of them an alias",
                        d.effective_name()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Chart names end up in object names and values keys: lowercase letters, digits and
/// dashes, starting and ending with a letter or digit, at most 63 characters.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is required".into());
    }
    let b = name.as_bytes();
    let inner_ok = b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    let ends_ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !inner_ok || !ends_ok(b[0]) || !ends_ok(b[b.len() - 1]) || name.len() > 63 {
        return Err(format!(
            "{name:?} must be lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters"
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    pub name: String,
    /// A semver range, e.g. `^1.2.0` or `1.x`.
    #[serde(default)]
    pub version: String,
    /// `https://…`, `oci://…`, `@repo-name`, `file://…`, or empty for a vendored chart.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repository: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Either strings (`child.path`) or `{child: …, parent: …}` maps, as in Helm.
    #[serde(
        default,
        rename = "import-values",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub import_values: Vec<serde_json::Value>,
}

impl Dependency {
    /// The name the subchart is known by in the parent: its alias if set.
    pub fn effective_name(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Maintainer {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}
