//! repo-index/: every chart under charts/ is published at its current version, the index
//! matches the packages, `scripts/repo-index.sh --check` passes on the committed tree and
//! fails, naming the chart, when a chart changed without a rebuild.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (name, version) of every chart folder under charts/ (library charts too, not _tools).
fn charts() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root().join("charts")).unwrap() {
        let meta = e.unwrap().path().join("Chart.yaml");
        if !meta.is_file() {
            continue;
        }
        let m: Value = serde_yaml::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
        out.push((
            m["name"].as_str().unwrap().to_string(),
            m["version"].as_str().unwrap().to_string(),
        ));
    }
    out.sort();
    out
}

fn script(tree: &Path, args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(tree.join("scripts/repo-index.sh"))
        .args(args)
        .env("STACKPKG", env!("CARGO_BIN_EXE_stackpkg"))
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("bash runs")
}

#[test]
fn every_chart_is_published_with_a_matching_digest() {
    let dir = root().join("repo-index");
    let index: Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("index.yaml")).unwrap()).unwrap();
    let all = charts();
    assert!(all.len() >= 18, "{all:?}");
    for (name, version) in &all {
        let entry = index["entries"][name]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["version"] == version.as_str()))
            .unwrap_or_else(|| panic!("{name} {version} is not in repo-index/index.yaml"));
        let file = format!("{name}-{version}.tgz");
        assert_eq!(entry["urls"][0], file.as_str(), "relative URL");
        let bytes = std::fs::read(dir.join(&file)).unwrap();
        assert_eq!(
            entry["digest"].as_str().unwrap(),
            hex::encode(Sha256::digest(&bytes)),
            "{file}"
        );
        assert!(entry["created"].as_str().is_some_and(|c| c.ends_with('Z')));
    }
    assert!(index["entries"]["common"][0]["type"] == "library");
}

#[test]
fn committed_repo_index_is_current() {
    let out = script(&root(), &["--check"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn check_names_the_stale_chart_and_a_rebuild_fixes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path();
    for d in ["charts", "repo-index", "scripts"] {
        copy_dir(&root().join(d), &tree.join(d));
    }
    let values = tree.join("charts/zookeeper/values.yaml");
    let mut text = std::fs::read_to_string(&values).unwrap();
    text.push_str("# changed without a rebuild\n");
    std::fs::write(&values, text).unwrap();

    let out = script(tree, &["--check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("zookeeper: repo-index/zookeeper-"), "{err}");
    assert!(
        !err.contains("cassandra:"),
        "only the changed chart is named: {err}"
    );
    assert!(err.contains("index.yaml"), "{err}");
    // --check writes nothing.
    assert_eq!(
        std::fs::read(tree.join("repo-index/index.yaml")).unwrap(),
        std::fs::read(root().join("repo-index/index.yaml")).unwrap()
    );

    let out = script(tree, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = script(tree, &["--check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Only the changed entry moved: the others kept their `created` dates.
    let old: Value =
        serde_yaml::from_slice(&std::fs::read(root().join("repo-index/index.yaml")).unwrap())
            .unwrap();
    let new: Value =
        serde_yaml::from_slice(&std::fs::read(tree.join("repo-index/index.yaml")).unwrap())
            .unwrap();
    assert_eq!(old["entries"]["cassandra"], new["entries"]["cassandra"]);
    assert_ne!(
        old["entries"]["zookeeper"][0]["digest"],
        new["entries"]["zookeeper"][0]["digest"]
    );
    assert_eq!(
        new["entries"]["zookeeper"][0]["created"],
        "2023-11-14T22:13:20Z"
    );

    let out = script(tree, &["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The documented way in: `repo serve` a copy of repo-index/, `repo add stackpkg <url>`, then
/// search and pull (which checks the digest) as a user does.
#[test]
fn repo_add_stackpkg_serves_every_chart() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("repo-index");
    copy_dir(&root().join("repo-index"), &served);
    let bin = env!("CARGO_BIN_EXE_stackpkg");
    let mut server = Command::new(bin)
        .args(["repo", "serve"])
        .arg(&served)
        .args(["--addr", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .filter(|u| u.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    let run = |args: &[&str]| {
        let out = Command::new(bin)
            .args(args)
            .env("STACKPKG_CONFIG_HOME", tmp.path().join("config"))
            .env("STACKPKG_CACHE_HOME", tmp.path().join("cache"))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The server is stopped before any assertion can fail and leave it running.
    let results = {
        let add = run(&["repo", "add", "stackpkg", &url]);
        let search = run(&["search", "repo", "stackpkg/", "-o", "json"]);
        let pull = run(&[
            "pull",
            "stackpkg/streaming-analytics",
            "-d",
            tmp.path().join("pulled").to_str().unwrap(),
        ]);
        (add, search, pull)
    };
    server.kill().ok();
    server.wait().ok();
    let (add, search, pull) = results;
    assert!(add.0, "repo add: {}", add.2);
    assert!(search.0, "search: {}", search.2);
    let found: Value = serde_json::from_str(&search.1).unwrap();
    let names: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    for (name, _) in charts() {
        assert!(
            names.contains(&format!("stackpkg/{name}").as_str()),
            "{name} not found: {names:?}"
        );
    }
    assert!(pull.0, "pull: {}", pull.2);
    assert!(tmp
        .path()
        .join("pulled/streaming-analytics-0.1.0.tgz")
        .is_file());
}
