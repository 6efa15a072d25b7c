//! `template`: load, coalesce and validate values, render, and turn the output into sorted,
//! checked objects. Also the rendering core `lint` and `install` reuse.

use std::path::{Path, PathBuf};

use crate::chart::Chart;
use crate::engine::{self, Capabilities, ReleaseInfo, RenderOptions, RenderedFile};
use crate::manifest::{self, Object};
use crate::values::{ValueOptions, Values};
use crate::{Error, Result};

/// What `template` needs besides the chart and values.
#[derive(Debug, Clone, Default)]
pub struct TemplateRequest {
    pub release_name: String,
    pub namespace: String,
    /// `--kube-version`; the engine's default when absent.
    pub kube_version: Option<String>,
    pub api_versions: Vec<String>,
    pub include_crds: bool,
    /// `--show-only`: template paths relative to the chart (`templates/x.yaml`,
    /// `charts/sub/templates/y.yaml`) or with the chart name in front.
    pub show_only: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct TemplateOutput {
    /// In install order (CRDs first when included).
    pub objects: Vec<Object>,
    pub notes: Option<String>,
    /// Rendered lifecycle.yaml files (see `lifecycle::spec::from_rendered`).
    pub lifecycle: Vec<RenderedFile>,
}

/// Loads the chart at `path` and renders it with the user's values.
pub fn run(
    chart_path: &Path,
    values: &ValueOptions,
    req: &TemplateRequest,
) -> Result<TemplateOutput> {
    let chart = crate::chart::load(chart_path)?;
    let user = values.load()?;
    render_chart(&chart, &user, req)
}

/// Everything after loading: dependencies and values, schema, kubeVersion, render, objects.
pub fn render_chart(chart: &Chart, user: &Values, req: &TemplateRequest) -> Result<TemplateOutput> {
    let release = ReleaseInfo::install(&req.release_name, &req.namespace);
    render_chart_as(chart, user, req, release)
}

/// `render_chart` for a given revision (upgrades render with `is_upgrade` and their number).
pub fn render_chart_as(
    chart: &Chart,
    user: &Values,
    req: &TemplateRequest,
    release: ReleaseInfo,
) -> Result<TemplateOutput> {
    render_chart_with_values(chart, user, req, release).map(|(out, _)| out)
}

/// `render_chart_as` that also returns the coalesced values (releases record them), so
/// they are computed once.
pub fn render_chart_with_values(
    chart: &Chart,
    user: &Values,
    req: &TemplateRequest,
    release: ReleaseInfo,
) -> Result<(TemplateOutput, Values)> {
    let capabilities = Capabilities::new(req.kube_version.as_deref(), &req.api_versions)?;
    check_kube_versions(chart, &capabilities.kube_version.version)?;
    let (chart, values) = crate::values::prepare(chart, user)?;
    crate::values::validate(&chart, &values)?;
    let out = render_prepared_as(&chart, &values, req, capabilities, release)?;
    Ok((out, values))
}

fn check_kube_versions(chart: &Chart, version: &str) -> Result<()> {
    crate::chart::check_kube_version(&chart.metadata, version)?;
    for sub in &chart.subcharts {
        check_kube_versions(sub, version)?;
    }
    Ok(())
}

/// Renders an already prepared chart (values coalesced and validated).
pub fn render_prepared(
    chart: &Chart,
    values: &Values,
    req: &TemplateRequest,
    capabilities: Capabilities,
) -> Result<TemplateOutput> {
    let release = ReleaseInfo::install(&req.release_name, &req.namespace);
    render_prepared_as(chart, values, req, capabilities, release)
}

fn render_prepared_as(
    chart: &Chart,
    values: &Values,
    req: &TemplateRequest,
    capabilities: Capabilities,
    release: ReleaseInfo,
) -> Result<TemplateOutput> {
    if chart.metadata.is_library() {
        return Err(Error::Other(format!(
            "{}: a library chart has no objects to render (it only provides macros to other charts)",
            chart.metadata.name
        )));
    }
    let opts = RenderOptions::offline(release, capabilities);
    let rendered = engine::render(chart, values, &opts)?;

    let mut objects = Vec::new();
    for f in &rendered.templates {
        objects.extend(manifest::parse_file(&f.name, &f.content)?);
    }
    manifest::sort(&mut objects);
    let mut crds = Vec::new();
    for f in &rendered.crds {
        crds.extend(manifest::parse_file(&f.name, &f.content)?);
    }
    // Duplicates count across CRDs and templates: both end up in the same cluster.
    manifest::check_duplicates(crds.iter().chain(&objects), &req.namespace)?;

    if !req.show_only.is_empty() {
        let top = &chart.metadata.name;
        let names = template_names(&rendered.templates, &rendered.crds);
        for want in &req.show_only {
            if !names.iter().any(|n| matches_show_only(n, top, want)) {
                return Err(Error::Usage(format!(
                    "--show-only {want}: no such template in chart {top} (templates: {})",
                    names
                        .iter()
                        .map(|n| n.strip_prefix(&format!("{top}/")).unwrap_or(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let keep = |o: &Object| {
            req.show_only
                .iter()
                .any(|w| matches_show_only(&o.source, top, w))
        };
        objects.retain(keep);
        crds.retain(keep);
    }
    let mut out = if req.include_crds { crds } else { Vec::new() };
    out.extend(objects);
    Ok(TemplateOutput {
        objects: out,
        notes: rendered.notes,
        lifecycle: rendered.lifecycle,
    })
}

fn template_names(templates: &[RenderedFile], crds: &[RenderedFile]) -> Vec<String> {
    templates
        .iter()
        .chain(crds)
        .map(|f| f.name.clone())
        .collect()
}

fn matches_show_only(source: &str, top: &str, want: &str) -> bool {
    let want = want.trim_start_matches("./");
    source == want || source.strip_prefix(top).and_then(|s| s.strip_prefix('/')) == Some(want)
}

/// Writes each source's objects to `dir/<source path>`, every file replaced atomically.
/// Returns the written paths.
pub fn write_output_dir(dir: &Path, objects: &[Object]) -> Result<Vec<PathBuf>> {
    let mut by_source: Vec<(&str, Vec<&Object>)> = Vec::new();
    for o in objects {
        match by_source.iter_mut().find(|(s, _)| *s == o.source) {
            Some((_, v)) => v.push(o),
            None => by_source.push((&o.source, vec![o])),
        }
    }
    let mut written = Vec::new();
    for (source, objs) in by_source {
        if source.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(Error::Other(format!(
                "refusing to write unsafe path {source:?}"
            )));
        }
        let path = dir.join(source);
        let parent = path.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
        let owned: Vec<Object> = objs.into_iter().cloned().collect();
        let text = manifest::to_yaml_stream(&owned);
        let mut tmp = tempfile::NamedTempFile::new_in(parent)
            .map_err(|e| Error::io(format!("cannot write in {}", parent.display()), e))?;
        std::io::Write::write_all(&mut tmp, text.as_bytes())
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        tmp.persist(&path)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e.error))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_only_matching() {
        assert!(matches_show_only(
            "app/templates/a.yaml",
            "app",
            "templates/a.yaml"
        ));
        assert!(matches_show_only(
            "app/templates/a.yaml",
            "app",
            "app/templates/a.yaml"
        ));
        assert!(matches_show_only(
            "app/templates/a.yaml",
            "app",
            "./templates/a.yaml"
        ));
        assert!(matches_show_only(
            "app/charts/db/templates/a.yaml",
            "app",
            "charts/db/templates/a.yaml"
        ));
        assert!(!matches_show_only(
            "app/templates/a.yaml",
            "app",
            "templates/b.yaml"
        ));
        assert!(!matches_show_only("app/templates/a.yaml", "app", "a.yaml"));
    }
}
