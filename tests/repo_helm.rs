//! Interoperability with the real helm binary, both ways: Helm adds, searches and pulls
//! from `stackpkg repo serve`; stackpkg reads an index written by `helm repo index`.

mod repo_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use repo_support::*;
use stackpkg::repo::serve::{spawn, Auth, ServeOptions};

fn helm_bin() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/helm");
    if p.is_file() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "helm not found at {} (run scripts/install-tools.sh)",
            p.display()
        );
    }
    eprintln!(
        "skipping: helm not found at {} (run scripts/install-tools.sh)",
        p.display()
    );
    None
}

struct Helm {
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl Helm {
    fn run(&self, args: &[&str]) -> String {
        let h = self.home.path();
        let o = Command::new(&self.bin)
            .args(args)
            .current_dir(h)
            .env("HELM_CONFIG_HOME", h.join("config"))
            .env("HELM_CACHE_HOME", h.join("cache"))
            .env("HELM_DATA_HOME", h.join("data"))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "helm {args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
}

#[test]
fn helm_adds_searches_and_pulls_from_stackpkg_serve() {
    let Some(bin) = helm_bin() else { return };
    let helm = Helm {
        bin,
        home: tempfile::tempdir().unwrap(),
    };
    let env = Env::new();
    let pk = env.path("pk");
    write_package(&pk, "kafka", "1.0.0");
    write_package(&pk, "kafka", "1.1.0");
    let srv = spawn(&ServeOptions {
        dir: pk.clone(),
        addr: "127.0.0.1:0".into(),
        auth: Some(Auth::Basic {
            username: "u".into(),
            password: "p".into(),
        }),
        allow_overwrite: false,
        max_upload_size: 1 << 20,
        base_url: None,
        tls: None,
    })
    .unwrap();
    // A chart packaged by helm itself is accepted by the upload API.
    let src = env.path("src/zookeeper");
    std::fs::create_dir_all(src.join("templates")).unwrap();
    std::fs::write(
        src.join("Chart.yaml"),
        "apiVersion: v2\nname: zookeeper\nversion: 3.9.1\ndescription: Coordination service\n",
    )
    .unwrap();
    helm.run(&[
        "package",
        src.to_str().unwrap(),
        "-d",
        env.path("built").to_str().unwrap(),
    ]);
    let o = env.with_stdin(
        &[
            "push",
            env.path("built/zookeeper-3.9.1.tgz").to_str().unwrap(),
            &srv.url(),
            "--username",
            "u",
            "--password-stdin",
        ],
        "p",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    helm.run(&[
        "repo",
        "add",
        "data",
        &srv.url(),
        "--username",
        "u",
        "--password",
        "p",
    ]);
    let found = helm.run(&["search", "repo", "data/", "--versions"]);
    assert!(
        found.contains("data/kafka") && found.contains("1.1.0") && found.contains("1.0.0"),
        "{found}"
    );
    assert!(
        found.contains("data/zookeeper") && found.contains("3.9.1"),
        "{found}"
    );
    let out = helm.home.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    helm.run(&[
        "pull",
        "data/kafka",
        "--version",
        "1.0.0",
        "-d",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(out.join("kafka-1.0.0.tgz")).unwrap(),
        std::fs::read(pk.join("kafka-1.0.0.tgz")).unwrap()
    );
    helm.run(&["pull", "data/zookeeper", "-d", out.to_str().unwrap()]);
    assert!(out.join("zookeeper-3.9.1.tgz").is_file());
}

#[test]
fn stackpkg_reads_an_index_written_by_helm() {
    let Some(bin) = helm_bin() else { return };
    let helm = Helm {
        bin,
        home: tempfile::tempdir().unwrap(),
    };
    let env = Env::new();
    let pk = env.path("pk");
    write_package(&pk, "kafka", "1.0.0");
    write_package(&pk, "spark", "3.5.0");
    let s = StaticServer::start("127.0.0.1:0");
    helm.run(&["repo", "index", pk.to_str().unwrap(), "--url", &s.url()]);
    let idx = std::fs::read(pk.join("index.yaml")).unwrap();
    let parsed = stackpkg::repo::index::parse(&idx, "helm index").unwrap();
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(parsed.index.entries.len(), 2);
    for f in ["kafka-1.0.0.tgz", "spark-3.5.0.tgz"] {
        s.set(
            &format!("/{f}"),
            Reply::Bytes(std::fs::read(pk.join(f)).unwrap()),
        );
    }
    s.set("/index.yaml", Reply::Bytes(idx));
    env.ok(&["repo", "add", "h", &s.url()]);
    let found = env.ok(&["search", "repo", "spark"]);
    assert!(
        found.contains("h/spark") && found.contains("3.5.0"),
        "{found}"
    );
    env.ok(&["pull", "h/spark", "-d", "out"]);
    assert_eq!(
        std::fs::read(env.path("out/spark-3.5.0.tgz")).unwrap(),
        std::fs::read(pk.join("spark-3.5.0.tgz")).unwrap()
    );

    // And the other way for `repo index`: helm reads the index stackpkg writes.
    let pk2 = env.path("pk2");
    write_package(&pk2, "flink", "1.18.0");
    env.ok(&["repo", "index", pk2.to_str().unwrap()]);
    let s2 = StaticServer::start("127.0.0.1:0");
    s2.set(
        "/index.yaml",
        Reply::Bytes(std::fs::read(pk2.join("index.yaml")).unwrap()),
    );
    s2.set(
        "/flink-1.18.0.tgz",
        Reply::Bytes(std::fs::read(pk2.join("flink-1.18.0.tgz")).unwrap()),
    );
    helm.run(&["repo", "add", "s", &s2.url()]);
    let found = helm.run(&["search", "repo", "s/flink"]);
    assert!(found.contains("1.18.0"), "{found}");
    let out = helm.home.path().join("out2");
    std::fs::create_dir_all(&out).unwrap();
    helm.run(&["pull", "s/flink", "-d", out.to_str().unwrap()]);
    assert!(out.join("flink-1.18.0.tgz").is_file());
}
