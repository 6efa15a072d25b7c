//! `stackpkg template`

use std::io::Write;
use std::path::PathBuf;

use crate::action::template::{self as action, TemplateRequest};
use crate::values::ValueOptions;
use crate::Error;

/// The values flags shared by every command that renders (`template`, `lint`, `install`…).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ValuesArgs {
    /// Values file (YAML) or `-` for standard input; repeatable, later files win
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Set values: a.b=c,list[0].x=y (types inferred)
    #[arg(long, value_name = "KEY=VAL")]
    pub set: Vec<String>,
    /// Set values, always as strings
    #[arg(long = "set-string", value_name = "KEY=VAL")]
    pub set_string: Vec<String>,
    /// Set values from JSON: a.b={"x":1}
    #[arg(long = "set-json", value_name = "KEY=JSON")]
    pub set_json: Vec<String>,
    /// Set values from files' contents: key=path
    #[arg(long = "set-file", value_name = "KEY=PATH")]
    pub set_file: Vec<String>,
    /// Set a value to one literal string, commas and all
    #[arg(long = "set-literal", value_name = "KEY=VAL")]
    pub set_literal: Vec<String>,
}

impl ValuesArgs {
    pub fn options(&self) -> ValueOptions {
        ValueOptions {
            values_files: self.values.clone(),
            set: self.set.clone(),
            set_string: self.set_string.clone(),
            set_json: self.set_json.clone(),
            set_file: self.set_file.clone(),
            set_literal: self.set_literal.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

/// A release name as Kubernetes object names allow it (DNS label, at most 53 characters so
/// suffixed names still fit 63).
pub fn parse_release_name(s: &str) -> Result<String, String> {
    dns_label(s, 53, "a release name")
}

/// A namespace name: a DNS label (1-63 lowercase letters, digits and '-').
pub fn parse_namespace(s: &str) -> Result<String, String> {
    dns_label(s, 63, "a namespace")
}

/// RFC 1123 label: 1..=`max` lowercase letters, digits and '-', alphanumeric at both ends.
fn dns_label(s: &str, max: usize, what: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("{what} is 1-{max} lowercase letters, digits and '-', starting and ending with a letter or digit"))
    }
}

fn parse_kube_version(s: &str) -> Result<String, String> {
    crate::engine::KubeVersion::parse(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

fn parse_api_version(s: &str) -> Result<String, String> {
    crate::engine::Capabilities::new(None, &[s.to_string()])
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  stackpkg template demo charts/cassandra -f prod.yaml --set replicas=5
  stackpkg template demo ./mychart -n data --show-only templates/service.yaml
  stackpkg template demo mychart-1.0.0.tgz --kube-version 1.30 -o json | jq '.items[].kind'")]
pub struct Args {
    /// Release name (lowercase letters, digits and '-')
    #[arg(value_parser = parse_release_name)]
    pub name: String,
    /// Chart folder, packaged chart (.tgz), REPO/CHART or https://…/chart.tgz
    pub chart: String,
    #[command(flatten)]
    pub source: super::repo::ChartSourceArgs,
    #[command(flatten)]
    pub values: ValuesArgs,
    /// Namespace of the release
    #[arg(short = 'n', long, default_value = "default", value_parser = parse_namespace)]
    pub namespace: String,
    /// Write each template's objects to DIR/<chart>/templates/<file> instead of stdout
    #[arg(long, value_name = "DIR", conflicts_with = "output")]
    pub output_dir: Option<PathBuf>,
    /// Only print the objects of this template (e.g. templates/service.yaml); repeatable
    #[arg(short = 's', long = "show-only", value_name = "PATH")]
    pub show_only: Vec<String>,
    /// Kubernetes version for capabilities and kubeVersion checks (e.g. 1.30 or v1.30.2)
    #[arg(long, value_name = "V", value_parser = parse_kube_version)]
    pub kube_version: Option<String>,
    /// Extra API versions for capabilities.api_versions (e.g. monitoring.coreos.com/v1); repeatable
    #[arg(short = 'a', long = "api-versions", value_name = "G/V", value_parser = parse_api_version)]
    pub api_versions: Vec<String>,
    /// Also print the CRDs of crds/ folders, before everything else
    #[arg(long)]
    pub include_crds: bool,
    /// Print the rendered NOTES.txt after the objects, as YAML comments (with -o json: on stderr)
    #[arg(long, conflicts_with = "output_dir")]
    pub notes: bool,
    /// Output format: a YAML stream with `# Source:` comments, or a JSON v1 List
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<Format>,
}

pub fn run(args: Args) -> crate::Result<()> {
    let req = TemplateRequest {
        release_name: args.name.clone(),
        namespace: args.namespace.clone(),
        kube_version: args.kube_version.clone(),
        api_versions: args.api_versions.clone(),
        include_crds: args.include_crds,
        show_only: args.show_only.clone(),
    };
    let chart = crate::action::chart_ref::load(&args.chart, &args.source.options())?;
    let out = action::render_chart(&chart, &args.values.options().load()?, &req)?;

    if let Some(dir) = &args.output_dir {
        for p in action::write_output_dir(dir, &out.objects)? {
            println!("wrote {}", p.display());
        }
        return Ok(());
    }
    let mut text = match args.output.unwrap_or(Format::Yaml) {
        Format::Yaml => crate::manifest::to_yaml_stream(&out.objects),
        Format::Json => crate::manifest::to_json_list(&out.objects),
    };
    if let (true, Some(notes)) = (args.notes, &out.notes) {
        if args.output == Some(Format::Json) {
            // A JSON document cannot carry comments: the notes go to the human channel.
            eprintln!("{}", notes.trim_end());
        } else {
            text.push_str(&notes_as_comments(notes));
        }
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        .or_else(|e| {
            // A closed pipe (`| head`) is the reader's choice, not a failure.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                Ok(())
            } else {
                Err(Error::io("cannot write to standard output", e))
            }
        })
}

/// NOTES as a comment-only YAML document, so the stream stays valid for `kubectl apply -f -`.
fn notes_as_comments(notes: &str) -> String {
    let mut out = String::from("---\n# NOTES.txt\n");
    for line in notes.trim_end().lines() {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
