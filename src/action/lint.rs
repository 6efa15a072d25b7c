//! `lint`: everything `template` checks, plus recommended Chart.yaml fields, and with
//! `strict` every rendered object validated against the vendored Kubernetes schemas.

use std::fmt;
use std::path::Path;

use crate::action::template::{render_chart, TemplateRequest};
use crate::chart::Chart;
use crate::values::ValueOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
}

#[derive(Debug, Clone, Default)]
pub struct LintReport {
    pub findings: Vec<Finding>,
    /// Objects rendered (0 when rendering failed or the chart is a library).
    pub objects: usize,
}

impl LintReport {
    pub fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }

    /// Errors fail; under `strict` warnings fail too.
    pub fn failed(&self, strict: bool) -> bool {
        self.count(Severity::Error) > 0 || (strict && self.count(Severity::Warning) > 0)
    }

    fn error(&mut self, message: impl Into<String>) {
        self.findings.push(Finding {
            severity: Severity::Error,
            message: message.into(),
        });
    }

    fn warn(&mut self, message: impl Into<String>) {
        self.findings.push(Finding {
            severity: Severity::Warning,
            message: message.into(),
        });
    }
}

/// The release `lint` renders as (Helm's placeholder name, so converted charts lint alike).
pub const LINT_RELEASE: &str = "release-name";

pub fn run(chart_path: &Path, values: &ValueOptions, strict: bool) -> LintReport {
    let mut report = LintReport::default();
    let chart = match crate::chart::load(chart_path) {
        Ok(c) => c,
        Err(e) => {
            report.error(e.to_string());
            return report;
        }
    };
    recommended_fields(&chart, &mut report);
    let user = match values.load() {
        Ok(v) => v,
        Err(e) => {
            report.error(e.to_string());
            return report;
        }
    };
    if chart.metadata.is_library() {
        // Nothing to render, but every macro must still compile.
        let caps = crate::engine::Capabilities::default();
        let opts = crate::engine::RenderOptions::offline(
            crate::engine::ReleaseInfo::install(LINT_RELEASE, "default"),
            caps,
        );
        if let Err(e) = crate::engine::render(&chart, &chart.values, &opts) {
            report.error(e.to_string());
        }
        return report;
    }
    let req = TemplateRequest {
        release_name: LINT_RELEASE.to_string(),
        namespace: "default".to_string(),
        include_crds: true,
        ..Default::default()
    };
    match render_chart(&chart, &user, &req) {
        Err(e) => report.error(e.to_string()),
        Ok(out) => {
            report.objects = out.objects.len();
            // lifecycle.yaml and hook annotations get the checks install would make.
            if let Err(e) =
                crate::lifecycle::spec::from_rendered(&out.lifecycle, &chart.metadata.name)
            {
                report.error(e.to_string());
            }
            if let Err(e) = crate::lifecycle::hooks::split(out.objects.clone(), "default") {
                report.error(e.to_string());
            }
            for o in &out.objects {
                if let Some(problem) = crate::manifest::name_problem(o) {
                    report.warn(problem);
                }
            }
            if strict {
                for o in &out.objects {
                    for v in crate::manifest::k8s_schema::validate(o) {
                        report.error(v);
                    }
                }
            }
        }
    }
    report
}

fn recommended_fields(chart: &Chart, report: &mut LintReport) {
    let file = chart.display_path("Chart.yaml");
    let m = &chart.metadata;
    if m.description.as_deref().is_none_or(|d| d.trim().is_empty()) {
        report.warn(format!("{file}: field description is recommended"));
    }
    if m.icon.as_deref().is_none_or(|d| d.trim().is_empty()) {
        report.warn(format!("{file}: field icon is recommended"));
    }
    if m.maintainers.is_empty() {
        report.warn(format!("{file}: field maintainers is recommended"));
    }
    if !m.is_library() && m.app_version.is_none() {
        report.warn(format!("{file}: field appVersion is recommended"));
    }
    if m.deprecated {
        report.warn(format!("{file}: chart is deprecated"));
    }
    if chart.schema.is_none() {
        report.warn(format!(
            "{}: missing; values are not checked (a values.schema.json is recommended)",
            chart.display_path("values.schema.json")
        ));
    }
    if !m.is_library() && chart.templates.is_empty() {
        report.warn(format!(
            "{}: no templates; the chart renders nothing",
            chart.display_path("templates/")
        ));
    }
}
