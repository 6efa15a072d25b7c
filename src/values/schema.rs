//! `values.schema.json` checks: the chart's schema against the whole tree, each
//! subchart's schema against its own section, every violation reported with its path.

use super::{Values, ValuesError};
use crate::chart::Chart;

/// Validate `values` (as returned by `prepare`) against the schemas of `chart` and its
/// subcharts. The draft follows `$schema` (7 and 2020-12 among others; 2020-12 when absent).
pub fn validate(chart: &Chart, values: &Values) -> Result<(), ValuesError> {
    let mut violations = Vec::new();
    let mut schemas = Vec::new();
    collect(chart, values, "", &mut violations, &mut schemas)?;
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ValuesError::Schema {
            schema: schemas.join(", "),
            violations,
        })
    }
}

fn collect(
    chart: &Chart,
    values: &Values,
    prefix: &str,
    out: &mut Vec<String>,
    schemas: &mut Vec<String>,
) -> Result<(), ValuesError> {
    if let Some(schema) = &chart.schema {
        let file = chart.display_path("values.schema.json");
        let validator = jsonschema::validator_for(schema).map_err(|e| ValuesError::BadSchema {
            schema: file.clone(),
            message: e.to_string(),
        })?;
        let before = out.len();
        for err in validator.iter_errors(values) {
            let path = format!("{prefix}{}", err.instance_path());
            let path = if path.is_empty() {
                "/".to_string()
            } else {
                path
            };
            out.push(format!("{path}: {err}"));
        }
        // Stable order whatever order the validator walks keywords in.
        out[before..].sort();
        if out.len() > before {
            schemas.push(file);
        }
    }
    for sub in &chart.subcharts {
        let section = values
            .get(sub.name())
            .cloned()
            .unwrap_or_else(|| Values::Object(Default::default()));
        collect(
            sub,
            &section,
            &format!("{prefix}/{}", sub.name()),
            out,
            schemas,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chart_with_schema(schema: &str) -> (tempfile::TempDir, Chart) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Chart.yaml"),
            "apiVersion: v2\nname: app\nversion: 1.0.0\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("values.schema.json"), schema).unwrap();
        let chart = crate::chart::load(dir.path()).unwrap();
        (dir, chart)
    }

    /// Every render checks the schema against its draft's meta-schema (generated at build
    /// time, see docs/performance.md), not only what compiling it would reject: an
    /// annotation of the wrong type is reported although no value is checked with it.
    #[test]
    fn each_schema_is_checked_against_its_meta_schema() {
        for (draft, schema) in [
            (
                "2020-12",
                r#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "title": 5}"#,
            ),
            (
                "7",
                r#"{"$schema": "http://json-schema.org/draft-07/schema#", "title": 5}"#,
            ),
            ("none", r#"{"properties": {"a": {"minLength": -1}}}"#),
            ("none", r#"{"type": "banana"}"#),
        ] {
            let (_dir, chart) = chart_with_schema(schema);
            let err = validate(&chart, &json!({"a": "x"})).unwrap_err();
            let ValuesError::BadSchema { schema: file, .. } = &err else {
                panic!("draft {draft}: expected a bad-schema error for {schema}, got {err}");
            };
            assert!(file.ends_with("values.schema.json"), "{file}");
        }
    }

    #[test]
    fn drafts_7_and_2020_12_report_every_violation() {
        for dialect in [
            "http://json-schema.org/draft-07/schema#",
            "https://json-schema.org/draft/2020-12/schema",
        ] {
            let schema = format!(
                r#"{{"$schema": "{dialect}", "type": "object", "required": ["a"],
                    "properties": {{"a": {{"type": "string"}}, "n": {{"minimum": 1}}}}}}"#
            );
            let (_dir, chart) = chart_with_schema(&schema);
            let err = validate(&chart, &json!({"n": 0})).unwrap_err().to_string();
            assert!(err.contains("2 violations"), "{dialect}: {err}");
            assert!(
                err.contains("/n: 0 is less than the minimum of 1"),
                "{dialect}: {err}"
            );
            assert!(
                err.contains("\"a\" is a required property"),
                "{dialect}: {err}"
            );
        }
    }
}
