//! The bad-input corpus (tests/corpus/cases.yaml) run through the real binary, and the
//! inputs the fuzzers found (tests/corpus/fuzz/<target>/) replayed through the same library
//! calls the fuzz targets make, so neither needs a fuzzer in CI.
//!
//! Every corpus case runs in a fresh folder holding its input files and private config and
//! cache folders, optionally against a scripted HTTP server, and must end with:
//! the expected exit code (1, or 2 for usage errors), exactly one `Error: ` line on stderr
//! containing every expected substring (which name the file, field or URL), no panic, nothing
//! on stdout, no secret from `absent` anywhere, and the folder byte-for-byte unchanged.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use sha2::Digest;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    area: String,
    /// Corpus paths copied into the case's folder under their base name.
    #[serde(default)]
    files: Vec<String>,
    /// Commands that must succeed first (e.g. `repo add` of a good index).
    #[serde(default)]
    setup: Vec<Vec<String>>,
    args: Vec<String>,
    expect: Vec<String>,
    #[serde(default = "exit_one")]
    exit: i32,
    /// Strings (secrets) that must appear in no output.
    #[serde(default)]
    absent: Vec<String>,
    /// What the case's HTTP server answers, by request path (404 for others).
    #[serde(default)]
    serve: Option<BTreeMap<String, Reply>>,
    #[serde(default)]
    stdin: Option<String>,
    /// `lint` reports its findings as `[ERROR] ...` lines on stdout and ends with one
    /// `Error: lint failed` line: then exactly one finding must be an error and it must
    /// hold every `expect` string.
    #[serde(default)]
    lint: bool,
}

fn exit_one() -> i32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reply {
    #[serde(default = "ok")]
    status: u16,
    /// A corpus file for the body (empty body without one).
    #[serde(default)]
    file: Option<String>,
    /// Replace `{sha256:PATH}` in the body with the digest of corpus file PATH.
    #[serde(default)]
    template: bool,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Content-Length to announce instead of the body's real length.
    #[serde(default)]
    length: Option<u64>,
    /// Send only the first half of the body, then drop the connection.
    #[serde(default)]
    truncate: bool,
}

fn ok() -> u16 {
    200
}

fn load_cases() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus_dir().join("cases.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// A scripted HTTP/1.1 server on loopback: one thread per connection, `Connection: close`.
/// Written on plain sockets so replies can lie about their length or stop half-way.
struct Server {
    addr: SocketAddr,
}

impl Server {
    fn start(routes: BTreeMap<String, Reply>) -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let url = format!("http://{addr}");
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let routes = routes.clone();
                let url = url.clone();
                std::thread::spawn(move || answer(s, &routes, &url));
            }
        });
        Server { addr }
    }
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn answer(mut s: TcpStream, routes: &BTreeMap<String, Reply>, url: &str) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 1 << 16 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&req);
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let reply = routes.get(&path).cloned().unwrap_or(Reply {
        status: 404,
        file: None,
        template: false,
        content_type: None,
        headers: BTreeMap::new(),
        length: None,
        truncate: false,
    });
    let mut body = match &reply.file {
        Some(f) => std::fs::read(corpus_dir().join(f)).unwrap(),
        None => Vec::new(),
    };
    if reply.template {
        body = fill_digests(&String::from_utf8(body).unwrap()).into_bytes();
    }
    let mut out = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status);
    if let Some(ct) = &reply.content_type {
        out.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {}\r\n", v.replace("{url}", url)));
    }
    let len = reply.length.unwrap_or(body.len() as u64);
    out.push_str(&format!("Content-Length: {len}\r\n\r\n"));
    let sent = if reply.truncate {
        &body[..body.len() / 2]
    } else {
        &body[..]
    };
    let _ = s.write_all(out.as_bytes());
    let _ = s.write_all(sent);
    let _ = s.flush();
    let _ = s.shutdown(std::net::Shutdown::Both);
}

/// `{sha256:PATH}` → hex SHA-256 of the corpus file PATH.
fn fill_digests(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("{sha256:") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').unwrap() + i;
        let file = &rest[i + "{sha256:".len()..end];
        let data = std::fs::read(corpus_dir().join(file)).unwrap();
        out.push_str(&hex::encode(sha2::Sha256::digest(&data)));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every file and folder under `root` with its content (links by their target).
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.insert(rel, format!("-> {}", t.display()).into_bytes());
            } else if ft.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(work: &Path, args: &[String], stdin: Option<&str>) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stackpkg"));
    c.args(args)
        .current_dir(work)
        .env("STACKPKG_CONFIG_HOME", work.join("config"))
        .env("STACKPKG_CACHE_HOME", work.join("cache"))
        .env("HOME", work)
        .env_remove("KUBECONFIG")
        .env_remove("STACKPKG_STORAGE")
        .env("RUST_BACKTRACE", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    // No case may hang: kill it after a minute and report that.
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    Run {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs one case; returns what is wrong with it.
fn check(case: &Case) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    for f in &case.files {
        let src = corpus_dir().join(f);
        assert!(src.exists(), "{}: no corpus file {f}", case.name);
        copy_tree(&src, &work.join(src.file_name().unwrap()));
    }
    let server = case.serve.clone().map(Server::start);
    let subst = |a: &String| match &server {
        Some(s) => a.replace("{url}", &s.url()),
        None => a.clone(),
    };
    for step in &case.setup {
        let args: Vec<String> = step.iter().map(subst).collect();
        let r = run(work, &args, None);
        if r.code != Some(0) {
            return vec![format!("setup {args:?} failed: {}", r.stderr.trim())];
        }
    }
    let before = snapshot(work);
    let args: Vec<String> = case.args.iter().map(subst).collect();
    let r = run(work, &args, case.stdin.as_deref());
    let mut bad = Vec::new();
    if r.code != Some(case.exit) {
        bad.push(format!("exit {:?}, want {}", r.code, case.exit));
    }
    if r.stderr.contains("panicked") || r.stderr.contains("backtrace") {
        bad.push("panicked".into());
    }
    let error_lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("Error: ") || l.starts_with("error: "))
        .collect();
    // clap's usage errors span several lines; ours are one line.
    let error_text = if case.exit == 2 {
        r.stderr.clone()
    } else {
        error_lines.first().copied().unwrap_or("").to_string()
    };
    let lint_errors: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("[ERROR] "))
        .collect();
    let error_text = match (case.lint, lint_errors.as_slice()) {
        (false, _) => error_text,
        (true, [one]) => one.to_string(),
        (true, many) => {
            bad.push(format!("{} lint errors, want 1", many.len()));
            String::new()
        }
    };
    if case.lint
        && !error_lines
            .first()
            .is_some_and(|l| l.contains("lint failed"))
    {
        bad.push("no `lint failed` error line".into());
    }
    match error_lines.as_slice() {
        [_] => {
            for want in &case.expect {
                let want = subst(want);
                if !error_text.contains(&want) {
                    bad.push(format!("error line lacks {want:?}"));
                }
            }
        }
        _ => bad.push(format!("{} error lines", error_lines.len())),
    }
    if case.exit == 1 && !case.lint && !r.stdout.is_empty() {
        bad.push(format!("wrote to stdout: {:?}", short(&r.stdout)));
    }
    for secret in &case.absent {
        if r.stderr.contains(secret) || r.stdout.contains(secret) {
            bad.push(format!("output shows the secret {secret:?}"));
        }
    }
    let after = snapshot(work);
    if before != after {
        let changed: Vec<&String> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .collect();
        bad.push(format!("changed files: {changed:?}"));
    }
    if !bad.is_empty() {
        bad.push(format!("stderr: {}", short(&r.stderr)));
    }
    bad
}

fn short(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 600 {
        format!("{}…", s.chars().take(600).collect::<String>())
    } else {
        s.to_string()
    }
}

#[test]
fn corpus_is_large_and_covers_every_area() {
    let cases = load_cases();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let mut names = std::collections::BTreeSet::new();
    let mut areas = BTreeMap::<&str, usize>::new();
    for c in &cases {
        assert!(names.insert(&c.name), "case {} twice", c.name);
        assert!(!c.expect.is_empty(), "{}: expects nothing", c.name);
        *areas.entry(c.area.as_str()).or_default() += 1;
    }
    for area in [
        "charts",
        "values",
        "archives",
        "indexes",
        "kubeconfigs",
        "http",
        "usage",
        "lifecycle",
    ] {
        assert!(areas.get(area).copied().unwrap_or(0) >= 1, "no {area} case");
    }
}

/// `CORPUS=NAME` runs the cases whose name contains NAME.
#[test]
fn every_bad_input_fails_cleanly() {
    let filter = std::env::var("CORPUS").unwrap_or_default();
    let cases: Vec<Case> = load_cases()
        .into_iter()
        .filter(|c| c.name.contains(&filter))
        .collect();
    // Four at a time: each case is a process, some wait on a network error.
    let failures = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let bad = check(case);
                if !bad.is_empty() {
                    failures.lock().unwrap().push(format!(
                        "{} [{}]:\n  {}",
                        case.name,
                        case.area,
                        bad.join("\n  ")
                    ));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases misbehave:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Replays tests/corpus/fuzz/<target>/* (seeds and every input a fuzzer ever crashed on)
/// through the same calls as fuzz/fuzz_targets/<target>.rs, with the same assertions.
#[test]
fn fuzz_regressions_replay() {
    use stackpkg::chart::{load_archive_with_limits, read_archive_metadata, Limits};
    use stackpkg::values::strvals::parse_into;
    use stackpkg::values::{merge_maps, parse_values_text, prepare, SetKind};

    fn gzip_unless_gzip(data: &[u8]) -> Vec<u8> {
        if data.starts_with(&[0x1f, 0x8b]) {
            return data.to_vec();
        }
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    let stack = stackpkg::chart::load_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/charts/stack"),
    )
    .unwrap();
    let mut replayed = BTreeMap::<String, usize>::new();
    for target in [
        "set_parser",
        "values_merge",
        "chart_yaml",
        "repo_index",
        "chart_archive",
        "release_record",
        "lifecycle_yaml",
    ] {
        let dir = corpus_dir().join("fuzz").join(target);
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "no inputs for {target}");
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            let text = std::str::from_utf8(&data).ok();
            match target {
                "set_parser" => {
                    let split = data.split_first();
                    let rest = split.and_then(|(_, r)| std::str::from_utf8(r).ok());
                    if let (Some((&first, _)), Some(t)) = (split, rest) {
                        let kind = [
                            SetKind::Typed,
                            SetKind::String,
                            SetKind::Json,
                            SetKind::File,
                            SetKind::Literal,
                        ][(first % 5) as usize];
                        let mut read_file = |p: &str| -> Result<String, String> {
                            if p.len() % 2 == 0 {
                                Ok(p.to_string())
                            } else {
                                Err(format!("cannot read {p}"))
                            }
                        };
                        let mut base = serde_json::Map::new();
                        for expr in t.split('\n') {
                            let _ = parse_into(expr, kind, &mut base, &mut read_file);
                        }
                    }
                }
                "values_merge" => {
                    if let Some(t) = text {
                        let (a, b) = t.split_once("\n---\n").unwrap_or((t, ""));
                        if let Ok(mut base) = parse_values_text(a, "a.yaml") {
                            if let Ok(over) = parse_values_text(b, "b.yaml") {
                                merge_maps(&mut base, over);
                            }
                            if let Ok((_, v)) = prepare(&stack, &serde_json::Value::Object(base)) {
                                serde_json::to_vec(&v).unwrap();
                            }
                        }
                    }
                }
                "chart_yaml" => {
                    if let Some(t) = text {
                        if let Ok(md) = stackpkg::chart::parse_chart_yaml(t, "fuzz/Chart.yaml") {
                            let _ = stackpkg::chart::constraint::parse_lenient_version(&md.version);
                        }
                    }
                }
                "repo_index" => {
                    let full = stackpkg::repo::index::parse(&data, "fuzz/index.yaml");
                    let light = stackpkg::repo::index::parse_for_cache(&data, "fuzz/index.yaml");
                    assert_eq!(full.is_ok(), light.is_ok(), "{}", input.display());
                    if let Ok(p) = full {
                        let _ = p.index.to_yaml();
                    }
                }
                "chart_archive" => {
                    let bytes = gzip_unless_gzip(&data);
                    let limits = Limits {
                        max_archive: 1 << 20,
                        max_total: 4 << 20,
                        max_file: 1 << 20,
                        max_entries: 500,
                    };
                    let _ = load_archive_with_limits(&bytes, "fuzz.tgz", &limits);
                    let _ = read_archive_metadata(&bytes);
                }
                "release_record" => {
                    use stackpkg::release::codec::{decode, encode};
                    let bytes = gzip_unless_gzip(&data);
                    if let Ok(r) = decode(&bytes, "fuzz-record") {
                        let again = decode(&encode(&r), "re-encoded").unwrap();
                        assert_eq!(
                            serde_json::to_value(&r).unwrap(),
                            serde_json::to_value(&again).unwrap()
                        );
                    }
                }
                "lifecycle_yaml" => {
                    use stackpkg::lifecycle::spec::{parse, shell_words};
                    if let Some(t) = text {
                        match parse("fuzz/lifecycle.yaml", t, "sub/") {
                            Ok(steps) => {
                                for s in &steps {
                                    assert!(s.name.starts_with("sub/"));
                                    let _ = s.target.describe();
                                    if let Some(e) = &s.exec {
                                        let _ = (e.timeout(), shell_words(&e.command));
                                    }
                                    if let Some(g) = &s.gate {
                                        let _ = (g.interval(), g.timeout(), g.describe());
                                    }
                                }
                                serde_json::to_string(&steps).unwrap();
                            }
                            Err(e) => assert!(
                                e.to_string().contains("fuzz/lifecycle.yaml"),
                                "{}: {e}",
                                input.display()
                            ),
                        }
                    }
                }
                _ => unreachable!(),
            }
            *replayed.entry(target.to_string()).or_default() += 1;
        }
    }
    assert_eq!(replayed.len(), 7, "{replayed:?}");
}
