//! Helm's dependency processing and value coalescing, rule for rule:
//! 1. aliases: a dependency's subchart takes its alias as name (listed twice → two copies);
//! 2. tags and conditions, read from the coalesced values, drop disabled subcharts;
//! 3. `import-values` copy subchart values into the parent, below the parent's own;
//! 4. user values over chart defaults over subchart defaults, `global` handed down to
//!    every subchart section, and `null` deleting a default key.

use serde_json::{Map, Value};

use super::yaml::kind;
use super::{Values, ValuesError};
use crate::chart::constraint::{parse_lenient_version, Constraint};
use crate::chart::Chart;

type Obj = Map<String, Value>;

const GLOBAL: &str = "global";

/// Deep-merge `over` into `base` as `-f` files do: maps merge, anything else replaces.
pub fn merge_maps(base: &mut Obj, over: Obj) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge_maps(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Process dependencies and coalesce values. Returns the chart with aliases applied and
/// disabled subcharts removed, and the full values tree of the top chart.
pub fn prepare(chart: &Chart, user: &Values) -> Result<(Chart, Values), ValuesError> {
    let user = match user {
        Value::Object(m) => m.clone(),
        Value::Null => Obj::new(),
        other => {
            return Err(ValuesError::NotAMap {
                path: "the user values".into(),
                found: kind(other),
            })
        }
    };
    let mut chart = chart.clone();
    apply_aliases(&mut chart)?;
    let cvals = coalesce(&chart, user.clone(), false, "")?;
    let tags = match cvals.get("tags") {
        Some(Value::Object(t)) => t.clone(),
        _ => Obj::new(),
    };
    apply_conditions(&mut chart, &cvals, &tags, "")?;
    apply_imports(&mut chart)?;
    let values = coalesce(&chart, user, false, "")?;
    Ok((chart, Value::Object(values)))
}

/// Pair each listed dependency with its subchart under `charts/`, renamed to its alias.
/// Subcharts not listed in Chart.yaml stay as they are, as in Helm.
fn apply_aliases(chart: &mut Chart) -> Result<(), ValuesError> {
    let loaded = std::mem::take(&mut chart.subcharts);
    let dep_err = |message: String| ValuesError::Dependency {
        chart: chart.metadata.name.clone(),
        message,
    };
    let mut out: Vec<Chart> = Vec::new();
    for sub in &loaded {
        let listed = chart
            .metadata
            .dependencies
            .iter()
            .any(|d| d.name == sub.metadata.name);
        if !listed {
            out.push(sub.clone());
        }
    }
    for dep in &chart.metadata.dependencies {
        let candidates: Vec<&Chart> = loaded
            .iter()
            .filter(|c| c.metadata.name == dep.name)
            .collect();
        if candidates.is_empty() {
            return Err(dep_err(format!(
                "dependency {:?} is listed in Chart.yaml but missing from charts/ (run `stackpkg dep build`)",
                dep.name
            )));
        }
        let found = if dep.version.trim().is_empty() {
            candidates.first().copied()
        } else {
            let range = Constraint::parse(&dep.version)
                .map_err(|e| dep_err(format!("dependency {:?}: {e}", dep.name)))?;
            candidates.iter().copied().find(|c| {
                parse_lenient_version(&c.metadata.version).is_ok_and(|v| range.matches(&v))
            })
        };
        let Some(found) = found else {
            let have: Vec<&str> = candidates
                .iter()
                .map(|c| c.metadata.version.as_str())
                .collect();
            return Err(dep_err(format!(
                "dependency {:?} needs version {} but charts/ holds {}",
                dep.name,
                dep.version,
                have.join(", ")
            )));
        };
        let mut sub = found.clone();
        sub.metadata.name = dep.effective_name().to_string();
        out.push(sub);
    }
    out.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for pair in out.windows(2) {
        if pair[0].metadata.name == pair[1].metadata.name {
            return Err(dep_err(format!(
                "two subcharts are named {:?}; give one an alias",
                pair[0].metadata.name
            )));
        }
    }
    for sub in &mut out {
        apply_aliases(sub)?;
    }
    chart.subcharts = out;
    Ok(())
}

fn lookup<'a>(root: &'a Obj, dotted: &str) -> Option<&'a Value> {
    let mut parts = dotted.split('.');
    let mut cur = root.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

/// Tags first (enabled unless every tag it names is false), then the first condition path
/// that exists decides. Paths are relative to the top chart, prefixed with the parents.
fn apply_conditions(
    chart: &mut Chart,
    cvals: &Obj,
    tags: &Obj,
    path: &str,
) -> Result<(), ValuesError> {
    let mut disabled = Vec::new();
    for dep in &chart.metadata.dependencies {
        let mut enabled = true;
        let (mut any_true, mut any_false) = (false, false);
        for t in &dep.tags {
            match tags.get(t) {
                Some(Value::Bool(true)) => any_true = true,
                Some(Value::Bool(false)) => any_false = true,
                Some(other) => {
                    return Err(ValuesError::Dependency {
                        chart: chart.metadata.name.clone(),
                        message: format!("tags.{t} must be true or false, not {}", kind(other)),
                    })
                }
                None => {}
            }
        }
        if any_false && !any_true {
            enabled = false;
        }
        if let Some(cond) = &dep.condition {
            for c in cond.split(',').map(str::trim) {
                let full = format!("{path}{c}");
                match lookup(cvals, &full) {
                    Some(Value::Bool(b)) => {
                        enabled = *b;
                        break;
                    }
                    Some(other) => {
                        return Err(ValuesError::Dependency {
                            chart: chart.metadata.name.clone(),
                            message: format!(
                                "condition {full} of dependency {:?} must be true or false, not {}",
                                dep.effective_name(),
                                kind(other)
                            ),
                        })
                    }
                    None => {}
                }
            }
        }
        if !enabled {
            disabled.push(dep.effective_name().to_string());
        }
    }
    chart
        .subcharts
        .retain(|c| !disabled.contains(&c.metadata.name));
    chart
        .metadata
        .dependencies
        .retain(|d| !disabled.iter().any(|n| n == d.effective_name()));
    for sub in &mut chart.subcharts {
        let sub_path = format!("{path}{}.", sub.metadata.name);
        apply_conditions(sub, cvals, tags, &sub_path)?;
    }
    Ok(())
}

/// Nest `data` under a dotted parent path (`.` is the root).
fn path_to_map(parent: &str, data: Obj) -> Obj {
    if parent == "." || parent.is_empty() {
        return data;
    }
    let mut out = data;
    for part in parent.rsplit('.') {
        let mut m = Obj::new();
        m.insert(part.to_string(), Value::Object(out));
        out = m;
    }
    out
}

/// Bottom-up: a subchart's own imports are in its values before its parent reads them.
fn apply_imports(chart: &mut Chart) -> Result<(), ValuesError> {
    for sub in &mut chart.subcharts {
        apply_imports(sub)?;
    }
    if chart
        .metadata
        .dependencies
        .iter()
        .all(|d| d.import_values.is_empty())
    {
        return Ok(());
    }
    let cvals = coalesce(chart, Obj::new(), true, "")?;
    let mut imported = Obj::new();
    for dep in &chart.metadata.dependencies {
        let name = dep.effective_name();
        for iv in &dep.import_values {
            let (child, parent) = match iv {
                Value::String(s) => (format!("exports.{s}"), ".".to_string()),
                Value::Object(m) => (
                    m.get("child")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    m.get("parent")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                ),
                _ => continue,
            };
            let source = format!("{name}.{child}");
            let table = match lookup(&cvals, &source) {
                Some(Value::Object(t)) => t.clone(),
                Some(other) => {
                    return Err(ValuesError::Dependency {
                        chart: chart.metadata.name.clone(),
                        message: format!(
                            "import-values of {name:?}: {source} must be a map, not {}",
                            kind(other)
                        ),
                    })
                }
                None => {
                    return Err(ValuesError::Dependency {
                        chart: chart.metadata.name.clone(),
                        message: format!("import-values of {name:?}: {source} does not exist"),
                    })
                }
            };
            // Earlier imports win over later ones, as in Helm.
            coalesce_tables(&mut imported, &path_to_map(&parent, table), true);
        }
    }
    // The parent's own values take precedence over what it imports.
    let mut values = cvals;
    coalesce_tables(&mut values, &imported, true);
    chart.values = Value::Object(values);
    Ok(())
}

/// Fill `dst` (higher precedence) from `src`. A `null` in `dst` deletes the key unless
/// `merge` is set (then it is kept, to delete a subchart's default further down).
fn coalesce_tables(dst: &mut Obj, src: &Obj, merge: bool) {
    for (k, sv) in src {
        match dst.get_mut(k) {
            None => {
                dst.insert(k.clone(), sv.clone());
            }
            Some(Value::Null) => {
                if !merge {
                    dst.remove(k);
                }
            }
            Some(Value::Object(dv)) => {
                if let Value::Object(s) = sv {
                    coalesce_tables(dv, s, merge);
                }
            }
            // A higher-precedence scalar or list wins, even over a map.
            Some(_) => {}
        }
    }
}

/// One chart level: `v` (user values or the parent's section) over the chart's defaults,
/// then each subchart's section, globals first.
fn coalesce(chart: &Chart, mut v: Obj, merge: bool, prefix: &str) -> Result<Obj, ValuesError> {
    let empty = Obj::new();
    let defaults = chart.values.as_object().unwrap_or(&empty);
    let subchart_names: Vec<&str> = chart.subcharts.iter().map(|c| c.name()).collect();
    for (k, dv) in defaults {
        match v.get_mut(k) {
            None => {
                v.insert(k.clone(), dv.clone());
            }
            Some(Value::Null) => {
                if !merge {
                    v.remove(k);
                }
            }
            Some(Value::Object(uv)) => {
                if let Value::Object(d) = dv {
                    // Overrides for a subchart keep their nulls: they delete the
                    // subchart's own defaults when that section is coalesced.
                    let m = merge || subchart_names.contains(&k.as_str());
                    coalesce_tables(uv, d, m);
                }
            }
            Some(_) => {}
        }
    }
    for sub in &chart.subcharts {
        let name = sub.name();
        let path = format!("{prefix}{name}");
        let mut section = match v.remove(name) {
            None | Some(Value::Null) => Obj::new(),
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(ValuesError::NotAMap {
                    path: format!("subchart {path}"),
                    found: kind(&other),
                })
            }
        };
        coalesce_globals(&mut section, v.get(GLOBAL), &path)?;
        let merged = coalesce(sub, section, merge, &format!("{path}."))?;
        v.insert(name.to_string(), Value::Object(merged));
    }
    Ok(v)
}

/// The parent's `global` wins over the section's own; maps merge key by key.
fn coalesce_globals(
    section: &mut Obj,
    parent: Option<&Value>,
    path: &str,
) -> Result<(), ValuesError> {
    let parent = match parent {
        None | Some(Value::Null) => Obj::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(ValuesError::NotAMap {
                path: "global".into(),
                found: kind(other),
            })
        }
    };
    let mut own = match section.remove(GLOBAL) {
        None | Some(Value::Null) => Obj::new(),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(ValuesError::NotAMap {
                path: format!("{path}.global"),
                found: kind(&other),
            })
        }
    };
    for (k, pv) in parent {
        match (own.get_mut(&k), pv) {
            (Some(Value::Object(ov)), Value::Object(p)) => {
                let mut merged = p;
                coalesce_tables(&mut merged, ov, true);
                *ov = merged;
            }
            (_, pv) => {
                own.insert(k, pv);
            }
        }
    }
    section.insert(GLOBAL.to_string(), Value::Object(own));
    Ok(())
}
