//! Loading a chart from a folder (honouring `.stackpkgignore`) or from a `.tgz`, and
//! splitting `charts/` into subcharts.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::archive::{self, Budget, Limits};
use super::{io_err, Chart, ChartError, ChartFile, ChartMetadata, ChartOrigin};
use crate::values::yaml;

/// The ignore files, in order of preference: ours, then Helm's for converted charts.
pub const IGNORE_FILES: [&str; 2] = [".stackpkgignore", ".helmignore"];

/// Load a chart from a folder or a `.tgz` file.
pub fn load(path: &Path) -> Result<Chart, ChartError> {
    let meta = fs::metadata(path).map_err(io_err(path))?;
    if meta.is_dir() {
        return load_dir(path);
    }
    let limits = Limits::default();
    if meta.len() > limits.max_archive {
        return Err(ChartError::TooLarge {
            origin: path.display().to_string(),
            what: format!("package size ({} bytes)", meta.len()),
            limit: limits.max_archive,
        });
    }
    let bytes = fs::read(path).map_err(io_err(path))?;
    load_archive(&bytes, &path.display().to_string())
}

/// Load a chart from the bytes of a `.tgz` (repositories, `charts/*.tgz`).
pub fn load_archive(bytes: &[u8], origin: &str) -> Result<Chart, ChartError> {
    archive::load_archive_with_limits(bytes, origin, &Limits::default())
}

/// Load a chart folder.
pub fn load_dir(dir: &Path) -> Result<Chart, ChartError> {
    Ok(load_dir_with_files(dir)?.0)
}

/// The chart plus every file of the folder (subcharts included), for packaging.
pub(crate) fn load_dir_with_files(dir: &Path) -> Result<(Chart, Vec<ChartFile>), ChartError> {
    let limits = Limits::default();
    let mut budget = Budget::new(&limits);
    let files = read_dir_files(dir, &limits, &mut budget)?;
    let origin = ChartOrigin(dir.display().to_string().trim_end_matches('/').to_string());
    let chart = from_files(files.clone(), origin, &limits, &mut budget, 0)?;
    Ok((chart, files))
}

fn ignore_matcher(root: &Path) -> Result<Option<Gitignore>, ChartError> {
    for name in IGNORE_FILES {
        let file = root.join(name);
        if !file.is_file() {
            continue;
        }
        let mut builder = GitignoreBuilder::new(root);
        if let Some(err) = builder.add(&file) {
            return Err(ChartError::Content {
                file: file.display().to_string(),
                message: err.to_string(),
            });
        }
        let gi = builder.build().map_err(|e| ChartError::Content {
            file: file.display().to_string(),
            message: e.to_string(),
        })?;
        return Ok(Some(gi));
    }
    Ok(None)
}

/// Every non-ignored file under `root`, sorted, with `/`-separated relative paths.
/// Symlinks are followed when they stay inside the chart; leaving it is an error.
pub(crate) fn read_dir_files(
    root: &Path,
    limits: &Limits,
    budget: &mut Budget,
) -> Result<Vec<ChartFile>, ChartError> {
    let canon_root = root.canonicalize().map_err(io_err(root))?;
    let ignore = ignore_matcher(root)?;
    let mut out = Vec::new();
    let mut visited: BTreeSet<PathBuf> = BTreeSet::new();
    visited.insert(canon_root.clone());
    walk(
        root,
        "",
        &canon_root,
        ignore.as_ref(),
        limits,
        budget,
        &mut visited,
        &mut out,
    )?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn walk(
    dir: &Path,
    rel_dir: &str,
    canon_root: &Path,
    ignore: Option<&Gitignore>,
    limits: &Limits,
    budget: &mut Budget,
    visited: &mut BTreeSet<PathBuf>,
    out: &mut Vec<ChartFile>,
) -> Result<(), ChartError> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .collect::<Result<_, _>>()
        .map_err(io_err(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_str().ok_or_else(|| ChartError::Content {
            file: path.display().to_string(),
            message: "file name is not valid UTF-8".into(),
        })?;
        let rel = if rel_dir.is_empty() {
            name.to_string()
        } else {
            format!("{rel_dir}/{name}")
        };
        let lmeta = fs::symlink_metadata(&path).map_err(io_err(&path))?;
        let meta = if lmeta.file_type().is_symlink() {
            let target = fs::canonicalize(&path).map_err(|_| ChartError::Content {
                file: path.display().to_string(),
                message: match fs::read_link(&path) {
                    Ok(t) => format!("broken symlink to {}", t.display()),
                    Err(_) => "unreadable symlink".into(),
                },
            })?;
            if !target.starts_with(canon_root) {
                return Err(ChartError::SymlinkEscape {
                    path: path.display().to_string(),
                    target: target.display().to_string(),
                });
            }
            fs::metadata(&path).map_err(io_err(&path))?
        } else {
            lmeta
        };
        let is_dir = meta.is_dir();
        if let Some(gi) = ignore {
            if gi.matched(&rel, is_dir).is_ignore() {
                continue;
            }
        }
        if is_dir {
            let canon = fs::canonicalize(&path).map_err(io_err(&path))?;
            if !visited.insert(canon) {
                return Err(ChartError::Content {
                    file: path.display().to_string(),
                    message: "symlinked folder loops back into the chart".into(),
                });
            }
            walk(
                &path, &rel, canon_root, ignore, limits, budget, visited, out,
            )?;
        } else if meta.is_file() {
            let display = path.display().to_string();
            if meta.len() > limits.max_file {
                return Err(ChartError::TooLarge {
                    origin: display,
                    what: format!("file size ({} bytes)", meta.len()),
                    limit: limits.max_file,
                });
            }
            budget.take(meta.len(), &display)?;
            let data = fs::read(&path).map_err(io_err(&path))?;
            out.push(ChartFile { path: rel, data });
        } else {
            return Err(ChartError::Content {
                file: path.display().to_string(),
                message: "not a regular file or folder".into(),
            });
        }
    }
    Ok(())
}

fn utf8<'a>(file: &'a ChartFile, origin: &ChartOrigin) -> Result<&'a str, ChartError> {
    std::str::from_utf8(&file.data).map_err(|e| ChartError::Content {
        file: origin.join(&file.path),
        message: format!("not valid UTF-8 ({e})"),
    })
}

/// Parse and validate Chart.yaml text. `file` names it in errors.
pub fn parse_chart_yaml(text: &str, file: &str) -> Result<ChartMetadata, ChartError> {
    if text.trim().is_empty() {
        return Err(ChartError::Content {
            file: file.to_string(),
            message: "is empty".into(),
        });
    }
    // Syntax first, so errors carry a position, then the shape.
    let raw: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| yaml_err(&e, file))?;
    if !raw.is_mapping() {
        return Err(ChartError::Content {
            file: file.to_string(),
            message: "must be a map of fields".into(),
        });
    }
    let meta: ChartMetadata = serde_yaml::from_str(text).map_err(|e| yaml_err(&e, file))?;
    meta.validate(file)?;
    Ok(meta)
}

fn yaml_err(e: &serde_yaml::Error, file: &str) -> ChartError {
    let message = yaml::strip_location(&e.to_string());
    // "missing field `x`" or "deps[0]: missing field `x`" → field deps[0].x.
    if let Some(i) = message.find("missing field `") {
        let parent = message[..i].trim_end_matches(": ");
        let name = message[i + "missing field `".len()..].trim_end_matches('`');
        let field = if parent.is_empty() {
            name.to_string()
        } else {
            format!("{parent}.{name}")
        };
        return ChartError::Field {
            file: file.to_string(),
            field,
            message: "is required".into(),
        };
    }
    match e.location() {
        Some(loc) => ChartError::Syntax {
            file: file.to_string(),
            line: loc.line(),
            column: loc.column(),
            message,
        },
        None => ChartError::Content {
            file: file.to_string(),
            message,
        },
    }
}

/// Maximum depth of `charts/` nesting, so a crafted archive cannot recurse forever.
const MAX_DEPTH: usize = 16;

/// Build a chart from its files (paths relative to the chart root).
pub(crate) fn from_files(
    files: Vec<ChartFile>,
    origin: ChartOrigin,
    limits: &Limits,
    budget: &mut Budget,
    depth: usize,
) -> Result<Chart, ChartError> {
    if depth > MAX_DEPTH {
        return Err(ChartError::Content {
            file: origin.to_string(),
            message: format!("subcharts nested deeper than {MAX_DEPTH} levels"),
        });
    }
    let chart_yaml = files
        .iter()
        .find(|f| f.path == "Chart.yaml")
        .ok_or_else(|| ChartError::MissingChartYaml(origin.to_string()))?;
    let metadata = parse_chart_yaml(utf8(chart_yaml, &origin)?, &origin.join("Chart.yaml"))?;

    let values = match files.iter().find(|f| f.path == "values.yaml") {
        Some(f) => {
            let file = origin.join(&f.path);
            let map = yaml::parse_map(utf8(f, &origin)?).map_err(|issue| match issue.location {
                Some((line, column)) => ChartError::Syntax {
                    file,
                    line,
                    column,
                    message: issue.message,
                },
                None => ChartError::Content {
                    file,
                    message: issue.message,
                },
            })?;
            serde_json::Value::Object(map)
        }
        None => serde_json::Value::Object(Default::default()),
    };

    let schema = match files.iter().find(|f| f.path == "values.schema.json") {
        Some(f) => {
            let v: serde_json::Value =
                serde_json::from_slice(&f.data).map_err(|e| ChartError::Syntax {
                    file: origin.join(&f.path),
                    line: e.line(),
                    column: e.column(),
                    message: yaml::strip_location(&e.to_string()),
                })?;
            if !v.is_object() && !v.is_boolean() {
                return Err(ChartError::Content {
                    file: origin.join(&f.path),
                    message: "a JSON Schema must be an object or a boolean".into(),
                });
            }
            Some(v)
        }
        None => None,
    };

    // Split off subcharts: `charts/NAME/**` folders and `charts/NAME.tgz` archives.
    let mut own = Vec::new();
    let mut folders: BTreeMap<String, Vec<ChartFile>> = BTreeMap::new();
    let mut archives = Vec::new();
    for f in files {
        if let Some(rest) = f.path.strip_prefix("charts/") {
            if let Some((sub, inner)) = rest.split_once('/') {
                folders.entry(sub.to_string()).or_default().push(ChartFile {
                    path: inner.to_string(),
                    data: f.data,
                });
                continue;
            }
            if rest.ends_with(".tgz") {
                archives.push(f);
                continue;
            }
        }
        own.push(f);
    }
    let mut subcharts = Vec::new();
    for (name, sub_files) in folders {
        let sub_origin = ChartOrigin(origin.join(&format!("charts/{name}")));
        subcharts.push(from_files(
            sub_files,
            sub_origin,
            limits,
            budget,
            depth + 1,
        )?);
    }
    for f in archives {
        let sub_origin = origin.join(&f.path);
        subcharts.push(archive::load_nested(
            &f.data,
            &sub_origin,
            limits,
            budget,
            depth + 1,
        )?);
    }
    subcharts.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));

    let pick = |prefix: &str| -> Vec<ChartFile> {
        own.iter()
            .filter(|f| f.path.starts_with(prefix))
            .cloned()
            .collect()
    };
    let templates = pick("templates/");
    let crds = pick("crds/");
    let lifecycle = own.iter().find(|f| f.path == "lifecycle.yaml").cloned();
    own.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Chart {
        metadata,
        values,
        schema,
        templates,
        crds,
        lifecycle,
        files: own,
        subcharts,
        origin,
    })
}
