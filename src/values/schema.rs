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
