//! `stackpkg repo …`, `search`, `pull`, `push`, `verify`, `keygen`, `sign`

use std::io::Read;
use std::path::PathBuf;

use clap::ValueEnum;

use crate::action::repo as act;
use crate::repo::config::{Paths, RepoEntry};
use crate::repo::http;
use crate::repo::indexgen::IndexOptions;
use crate::repo::ResolveOptions;

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum Output {
    #[default]
    Table,
    Json,
    Yaml,
}

#[derive(Debug, clap::Subcommand)]
pub enum RepoCommand {
    /// Add a chart repository (its index is fetched and cached at once)
    #[command(
        after_help = "Example:\n  stackpkg repo add stackpkg https://charts.example.com --username ci --password-stdin"
    )]
    Add(AddArgs),
    /// List the configured repositories
    #[command(alias = "ls")]
    #[command(after_help = "Example:\n  stackpkg repo list -o json")]
    List {
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
    /// Remove repositories and their caches
    #[command(alias = "rm")]
    #[command(after_help = "Example:\n  stackpkg repo remove stackpkg")]
    Remove {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Refresh the cached indexes of all (or the named) repositories
    #[command(alias = "up")]
    #[command(after_help = "Example:\n  stackpkg repo update stackpkg")]
    Update { names: Vec<String> },
    /// Write DIR/index.yaml for the chart packages in DIR
    #[command(
        after_help = "Example:\n  stackpkg repo index ./packages --url https://charts.example.com"
    )]
    Index {
        dir: PathBuf,
        /// Base URL of the packages (relative URLs otherwise)
        #[arg(long)]
        url: Option<String>,
        /// Merge this existing index into the new one
        #[arg(long)]
        merge: Option<PathBuf>,
    },
    /// Serve a folder of packages as a chart repository with an upload API
    #[command(
        after_help = "Example:\n  stackpkg repo serve ./packages --addr 127.0.0.1:8879 --basic-auth ci:secret"
    )]
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    pub name: String,
    pub url: String,
    #[arg(long)]
    pub username: Option<String>,
    /// Read the password from stdin (a password without --username is sent as a bearer token)
    #[arg(long)]
    pub password_stdin: bool,
    /// Verify the server with this CA bundle (PEM)
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS
    #[arg(long)]
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
    /// Replace a repository of the same name
    #[arg(long)]
    pub force_update: bool,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    pub dir: PathBuf,
    #[arg(long, default_value = "127.0.0.1:8879")]
    pub addr: String,
    /// Require `Authorization: Bearer T` (or a basic-auth password T)
    #[arg(long, conflicts_with = "basic_auth")]
    pub auth_token: Option<String>,
    /// Require HTTP basic auth, given as USER:PASSWORD
    #[arg(long)]
    pub basic_auth: Option<String>,
    /// Let an upload replace an existing version
    #[arg(long)]
    pub allow_overwrite: bool,
    /// Largest accepted upload in bytes
    #[arg(long, default_value_t = 20 * 1024 * 1024)]
    pub max_upload_size: usize,
    /// Absolute base URL written into index entries (relative URLs otherwise)
    #[arg(long)]
    pub url: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum SearchCommand {
    /// Search the cached indexes of the configured repositories
    #[command(disable_version_flag = true)]
    #[command(after_help = "Example:\n  stackpkg search repo kafka --version ^4 --versions")]
    Repo {
        /// Case-insensitive text matched against REPO/CHART, descriptions and keywords
        keyword: Option<String>,
        /// Version range, e.g. ^1.2 or ">=1.0 <2.0"
        #[arg(long)]
        version: Option<String>,
        /// Show every matching version, not only the newest
        #[arg(short = 'l', long)]
        versions: bool,
        /// Include pre-release versions
        #[arg(long)]
        devel: bool,
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  stackpkg pull stackpkg/cassandra --version 1.x --untar -d vendor"
)]
pub struct PullArgs {
    /// REPO/CHART, a .tgz path or an https URL
    pub chart: String,
    /// Version range (newest stable otherwise)
    #[arg(long)]
    pub version: Option<String>,
    #[arg(long)]
    pub devel: bool,
    /// Extract the chart folder instead of saving the .tgz
    #[arg(long)]
    pub untar: bool,
    /// Where to write
    #[arg(short = 'd', long = "destination", default_value = ".")]
    pub destination: PathBuf,
    /// Refuse a package without a valid signature from --keyring
    #[arg(long, requires = "keyring")]
    pub verify: bool,
    /// Public key file(s) for --verify (minisign format)
    #[arg(long)]
    pub keyring: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  stackpkg push cassandra-1.0.0.tgz http://127.0.0.1:8879 --username ci --password-stdin"
)]
pub struct PushArgs {
    /// The packaged chart
    pub chart: PathBuf,
    /// A configured repository name or a repository URL
    pub repo: String,
    #[arg(long)]
    pub username: Option<String>,
    /// Read the password (or, without --username, a bearer token) from stdin
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  stackpkg verify cassandra-1.0.0.tgz --keyring team.pub")]
pub struct VerifyArgs {
    /// The packaged chart; its signature is CHART.minisig
    pub chart: PathBuf,
    /// Public key file(s) (minisign format)
    #[arg(long)]
    pub keyring: PathBuf,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  stackpkg keygen --out team.key")]
pub struct KeygenArgs {
    /// Secret key file to create (mode 0600); the public key goes to FILE.pub
    #[arg(long, default_value = "stackpkg.key")]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  stackpkg sign cassandra-1.0.0.tgz --key team.key")]
pub struct SignArgs {
    /// The packaged chart; the signature is written to CHART.minisig
    pub chart: PathBuf,
    /// Secret key from `stackpkg keygen`
    #[arg(long)]
    pub key: PathBuf,
}

fn read_stdin_secret() -> crate::Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| crate::Error::io("reading the password from stdin", e))?;
    let s = s.trim_end_matches(['\r', '\n']).to_string();
    if s.is_empty() {
        return Err(crate::Error::Usage("empty password on stdin".into()));
    }
    Ok(s)
}

/// Pads columns to the widest cell; the last column is not padded.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let n = cells.len();
        for (i, c) in cells.into_iter().enumerate() {
            if i + 1 == n {
                out.push_str(c);
            } else {
                out.push_str(c);
                out.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

fn print_structured<T: serde::Serialize>(v: &T, output: Output) {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(v).expect("serialisable")),
        _ => print!("{}", serde_yaml::to_string(v).expect("serialisable")),
    }
}

pub fn run_repo(cmd: RepoCommand) -> crate::Result<()> {
    match cmd {
        RepoCommand::Add(a) => {
            let paths = Paths::from_env()?;
            let password = if a.password_stdin {
                Some(read_stdin_secret()?)
            } else {
                None
            };
            let entry = RepoEntry {
                name: a.name,
                url: a.url.trim_end_matches('/').to_string(),
                username: a.username,
                password,
                ca_file: a.ca_file.map(absolute),
                cert_file: a.cert_file.map(absolute),
                key_file: a.key_file.map(absolute),
                insecure_skip_tls_verify: a.insecure_skip_tls_verify,
            };
            let name = entry.name.clone();
            let r = act::add(&paths, entry, a.force_update)?;
            for w in &r.warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "\"{name}\" has been added ({} charts, {} versions)",
                r.charts, r.versions
            );
            Ok(())
        }
        RepoCommand::List { output } => {
            let repos = act::list(&Paths::from_env()?)?;
            match output {
                Output::Table => {
                    if repos.is_empty() {
                        eprintln!("no repositories configured");
                        return Ok(());
                    }
                    let rows: Vec<Vec<String>> = repos
                        .iter()
                        .map(|r| vec![r.name.clone(), http::redact_credentials(&r.url)])
                        .collect();
                    print!("{}", table(&["NAME", "URL"], &rows));
                }
                o => {
                    // Never print credentials.
                    let public: Vec<_> = repos
                        .iter()
                        .map(|r| {
                            serde_json::json!({"name": r.name, "url": http::redact_credentials(&r.url)})
                        })
                        .collect();
                    print_structured(&public, o);
                }
            }
            Ok(())
        }
        RepoCommand::Remove { names } => {
            act::remove(&Paths::from_env()?, &names)?;
            for n in names {
                println!("\"{n}\" has been removed");
            }
            Ok(())
        }
        RepoCommand::Update { names } => {
            let results = act::update(&Paths::from_env()?, &names)?;
            let mut failed = Vec::new();
            for (name, r) in results {
                match r {
                    Ok(r) => {
                        for w in &r.warnings {
                            eprintln!("warning: {w}");
                        }
                        let how = if r.unchanged { "unchanged" } else { "updated" };
                        println!(
                            "{how} \"{name}\" ({} charts, {} versions)",
                            r.charts, r.versions
                        );
                    }
                    Err(e) => {
                        eprintln!("error: cannot update \"{name}\": {e}");
                        failed.push(name);
                    }
                }
            }
            if failed.is_empty() {
                Ok(())
            } else {
                Err(crate::Error::Other(format!(
                    "failed to update: {} (their previous caches are kept)",
                    failed.join(", ")
                )))
            }
        }
        RepoCommand::Index { dir, url, merge } => {
            let r = act::index(&dir, &IndexOptions { url, merge })?;
            for w in &r.warnings {
                eprintln!("warning: {w}");
            }
            println!("wrote {} ({} packages)", r.path.display(), r.packages);
            Ok(())
        }
        RepoCommand::Serve(a) => serve(a),
    }
}

fn absolute(p: PathBuf) -> PathBuf {
    std::path::absolute(&p).unwrap_or(p)
}

pub fn run_search(cmd: SearchCommand) -> crate::Result<()> {
    let SearchCommand::Repo {
        keyword,
        version,
        versions,
        devel,
        output,
    } = cmd;
    let (hits, warnings) = act::search(
        &Paths::from_env()?,
        &act::SearchRequest {
            keyword,
            version,
            versions,
            devel,
        },
    )?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    match output {
        Output::Table => {
            if hits.is_empty() {
                eprintln!("no results found");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = hits
                .iter()
                .map(|h| {
                    let desc = if h.deprecated {
                        format!("DEPRECATED {}", h.description)
                    } else {
                        h.description.clone()
                    };
                    vec![
                        h.name.clone(),
                        h.version.clone(),
                        h.app_version.clone(),
                        desc,
                    ]
                })
                .collect();
            let mut out = table(
                &["NAME", "CHART VERSION", "APP VERSION", "DESCRIPTION"],
                &rows,
            );
            // One write for the whole table: searches can print thousands of rows.
            out.shrink_to_fit();
            use std::io::Write;
            let _ = std::io::stdout().lock().write_all(out.as_bytes());
        }
        o => print_structured(&hits, o),
    }
    Ok(())
}

pub fn pull(a: PullArgs) -> crate::Result<()> {
    let paths = Paths::from_env()?;
    let opts = ResolveOptions {
        version: a.version,
        devel: a.devel,
        verify: a.verify,
        keyring: a.keyring,
    };
    let out = act::pull(&paths, &a.chart, &opts, a.untar, &a.destination)?;
    println!("{}", out.display());
    Ok(())
}

pub fn push(a: PushArgs) -> crate::Result<()> {
    let password = if a.password_stdin {
        Some(read_stdin_secret()?)
    } else {
        None
    };
    let r = act::push(&Paths::from_env()?, &a.chart, &a.repo, a.username, password)?;
    println!("pushed {} to {}", a.chart.display(), r);
    Ok(())
}

pub fn verify(a: VerifyArgs) -> crate::Result<()> {
    let id = act::verify(&a.chart, &a.keyring)?;
    println!("{}: signature OK (key {id})", a.chart.display());
    Ok(())
}

pub fn keygen(a: KeygenArgs) -> crate::Result<()> {
    let mut public = a.out.clone().into_os_string();
    public.push(".pub");
    let public = PathBuf::from(public);
    let id = act::keygen(&a.out, &public)?;
    println!(
        "key {id}: secret key {}, public key {}",
        a.out.display(),
        public.display()
    );
    Ok(())
}

pub fn sign(a: SignArgs) -> crate::Result<()> {
    let out = act::sign_package(&a.chart, &a.key)?;
    println!("{}", out.display());
    Ok(())
}

fn serve(a: ServeArgs) -> crate::Result<()> {
    let auth = match (a.auth_token, a.basic_auth) {
        (Some(t), None) => Some(crate::repo::serve::Auth::Token(t)),
        (None, Some(b)) => {
            let (u, p) = b
                .split_once(':')
                .ok_or_else(|| crate::Error::Usage("--basic-auth must be USER:PASSWORD".into()))?;
            Some(crate::repo::serve::Auth::Basic {
                username: u.to_string(),
                password: p.to_string(),
            })
        }
        _ => None,
    };
    let dir = a.dir.clone();
    let tls_on = a.tls_cert.is_some();
    let tls = match (a.tls_cert, a.tls_key) {
        (Some(c), Some(k)) => Some((c, k)),
        _ => None,
    };
    act::serve(
        crate::repo::serve::ServeOptions {
            dir: a.dir,
            addr: a.addr,
            auth,
            allow_overwrite: a.allow_overwrite,
            max_upload_size: a.max_upload_size,
            base_url: a.url,
            tls,
        },
        |addr, warnings| {
            for w in warnings {
                eprintln!("warning: {w}");
            }
            let scheme = if tls_on { "https" } else { "http" };
            eprintln!("serving {} on {scheme}://{addr}", dir.display());
        },
    )
}

/// Where a chart comes from, for commands that take a chart reference.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ChartSourceArgs {
    /// Version range for REPO/CHART (newest stable otherwise)
    #[arg(long)]
    pub version: Option<String>,
    /// Allow pre-release versions for REPO/CHART
    #[arg(long)]
    pub devel: bool,
    /// Refuse a package without a valid signature from --keyring
    #[arg(long, requires = "keyring")]
    pub verify: bool,
    /// Public key file(s) for --verify (minisign format)
    #[arg(long)]
    pub keyring: Option<PathBuf>,
}

impl ChartSourceArgs {
    pub fn options(&self) -> ResolveOptions {
        ResolveOptions {
            version: self.version.clone(),
            devel: self.devel,
            verify: self.verify,
            keyring: self.keyring.clone(),
        }
    }
}
