//! Repositories over real HTTP on loopback: `repo serve` and a scriptable static server.

mod repo_support;

use std::path::Path;

use base64::Engine;
use repo_support::*;
use stackpkg::repo::http::{ClientOptions, Credentials, HttpClient};
use stackpkg::repo::serve::{spawn, Auth, ServeOptions, ServerHandle};

fn serve(dir: &Path, auth: Option<Auth>) -> ServerHandle {
    spawn(&ServeOptions {
        dir: dir.to_path_buf(),
        addr: "127.0.0.1:0".into(),
        auth,
        allow_overwrite: false,
        max_upload_size: 1 << 20,
        base_url: None,
        tls: None,
    })
    .unwrap()
}

#[test]
fn serve_add_search_pull_round_trip() {
    let env = Env::new();
    let pk = env.path("pk");
    write_package(&pk, "kafka", "1.0.0");
    write_package(&pk, "kafka", "1.1.0");
    write_package(&pk, "zookeeper", "3.0.0");
    let srv = serve(&pk, None);
    let out = env.ok(&["repo", "add", "data", &srv.url()]);
    assert!(out.contains("2 charts, 3 versions"), "{out}");

    let table = env.ok(&["search", "repo", "kafka"]);
    assert!(
        table.contains("data/kafka") && table.contains("1.1.0"),
        "{table}"
    );
    assert!(!table.contains("1.0.0"), "newest only: {table}");
    let all = env.ok(&["search", "repo", "kafka", "--versions", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let ranged = env.ok(&["search", "repo", "--version", "~1.0", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&ranged).unwrap();
    assert_eq!(v[0]["version"], "1.0.0");

    let written = env.ok(&["pull", "data/kafka", "--version", "^1.0", "-d", "out"]);
    assert!(written.trim().ends_with("kafka-1.1.0.tgz"), "{written}");
    assert_eq!(
        std::fs::read(env.path("out/kafka-1.1.0.tgz")).unwrap(),
        std::fs::read(pk.join("kafka-1.1.0.tgz")).unwrap()
    );
    env.ok(&["pull", "data/zookeeper", "--untar", "-d", "out"]);
    assert!(env.path("out/zookeeper/Chart.yaml").is_file());

    let err = env.fails(&["pull", "data/kafka", "--version", ">=5", "-d", "out"]);
    assert!(err.contains("no version of data/kafka matches"), "{err}");
    let err = env.fails(&["pull", "data/nope", "-d", "out"]);
    assert!(err.contains("\"nope\" not found"), "{err}");

    // An unchanged index is not downloaded again (ETag); a changed one is.
    let up = env.ok(&["repo", "update"]);
    assert!(up.contains("unchanged \"data\""), "{up}");
    let newer = write_package(&env.path("new"), "kafka", "1.2.0");
    env.ok(&["push", newer.to_str().unwrap(), "data"]);
    let up = env.ok(&["repo", "update", "data"]);
    assert!(
        up.contains("updated \"data\" (2 charts, 4 versions)"),
        "{up}"
    );
    assert!(env.ok(&["search", "repo", "kafka"]).contains("1.2.0"));

    let list = env.ok(&["repo", "list"]);
    assert!(list.contains("data") && list.contains(&srv.url()));
    env.ok(&["repo", "remove", "data"]);
    assert!(!env.path("cache/repository/data.spidx").exists());
    assert!(!env.path("cache/repository/data.etag").exists());
    let err = env.fails(&["repo", "remove", "data"]);
    assert!(err.contains("no repository named \"data\""), "{err}");
}

#[test]
fn basic_auth_is_required_and_kept_in_a_0600_config() {
    let env = Env::new();
    let pk = env.path("pk");
    write_package(&pk, "kafka", "1.0.0");
    let srv = serve(
        &pk,
        Some(Auth::Basic {
            username: "ci".into(),
            password: "s3cret".into(),
        }),
    );
    let err = env.fails(&["repo", "add", "data", &srv.url()]);
    assert!(err.contains("401"), "{err}");
    assert!(
        !env.path("config/repositories.yaml").exists(),
        "nothing saved on failure"
    );

    let o = env.with_stdin(
        &[
            "repo",
            "add",
            "data",
            &srv.url(),
            "--username",
            "ci",
            "--password-stdin",
        ],
        "wrong\n",
    );
    assert_eq!(o.status.code(), Some(1));

    let o = env.with_stdin(
        &[
            "repo",
            "add",
            "data",
            &srv.url(),
            "--username",
            "ci",
            "--password-stdin",
        ],
        "s3cret\n",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(env.path("config/repositories.yaml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(m & 0o777, 0o600);
    }
    env.ok(&["pull", "data/kafka", "-d", "out"]);
    env.ok(&["repo", "update"]);
    // Re-adding with other settings needs --force-update.
    let err = env.fails(&["repo", "add", "data", &srv.url()]);
    assert!(err.contains("--force-update"), "{err}");
}

#[test]
fn token_auth_push_and_chartmuseum_api() {
    let env = Env::new();
    let pk = env.path("pk");
    std::fs::create_dir_all(&pk).unwrap();
    let srv = serve(&pk, Some(Auth::Token("tok".into())));
    let chart = write_package(&env.path("build"), "spark", "2.0.0");
    let chart = chart.to_str().unwrap();

    let err = env.fails(&["push", chart, &srv.url()]);
    assert!(err.contains("401"), "{err}");
    let o = env.with_stdin(&["push", chart, &srv.url(), "--password-stdin"], "tok");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(pk.join("spark-2.0.0.tgz").is_file());
    let o = env.with_stdin(&["push", chart, &srv.url(), "--password-stdin"], "tok");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("409"));

    let c = HttpClient::new(
        &ClientOptions {
            credentials: Some(Credentials::Bearer("tok".into())),
            ..Default::default()
        },
        &srv.url(),
    )
    .unwrap();
    let get = |p: &str| {
        c.request(reqwest::Method::GET, &format!("{}{p}", srv.url()), None)
            .unwrap()
    };
    let all: serde_json::Value = serde_json::from_slice(&get("/api/charts").body).unwrap();
    assert_eq!(all["spark"][0]["version"], "2.0.0");
    let one: serde_json::Value =
        serde_json::from_slice(&get("/api/charts/spark/2.0.0").body).unwrap();
    assert_eq!(one["name"], "spark");
    assert_eq!(get("/api/charts/spark/9.9.9").status.as_u16(), 404);
    assert_eq!(get("/api/charts/nope").status.as_u16(), 404);
    assert_eq!(get("/health").status.as_u16(), 200);

    // Garbage uploads get 400 with the reason.
    let post = |body: &[u8]| {
        c.request(
            reqwest::Method::POST,
            &format!("{}/api/charts", srv.url()),
            Some((body.to_vec(), "application/gzip".into())),
        )
        .unwrap()
    };
    for (body, reason) in [
        (b"".to_vec(), "empty"),
        (b"not a tarball".to_vec(), "gzip"),
        (package("x", "not-semver", &[]), "semver"),
    ] {
        let r = post(&body);
        assert_eq!(r.status.as_u16(), 400, "{}", r.text());
        assert!(r.text().contains(reason), "{}", r.text());
    }
    let big = vec![0u8; 2 << 20];
    assert_eq!(post(&big).status.as_u16(), 413);

    let del = c
        .request(
            reqwest::Method::DELETE,
            &format!("{}/api/charts/spark/2.0.0", srv.url()),
            None,
        )
        .unwrap();
    assert_eq!(del.status.as_u16(), 200);
    assert!(!pk.join("spark-2.0.0.tgz").exists());
    let idx = std::fs::read_to_string(pk.join("index.yaml")).unwrap();
    assert!(!idx.contains("spark"), "{idx}");
}

#[test]
fn index_has_etag_and_gzip() {
    let env = Env::new();
    let pk = env.path("pk");
    write_package(&pk, "kafka", "1.0.0");
    let srv = serve(&pk, None);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    stackpkg::repo::http::install_crypto_provider();
    rt.block_on(async {
        // A raw client: no automatic decompression, so the encoding is visible.
        let c = reqwest::Client::builder().no_gzip().build().unwrap();
        let url = format!("{}/index.yaml", srv.url());
        let r = c
            .get(&url)
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-encoding"], "gzip");
        let etag = r.headers()["etag"].to_str().unwrap().to_string();
        let gz = r.bytes().await.unwrap();
        let mut text = String::new();
        use std::io::Read;
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.contains("kafka"));
        let r = c
            .get(&url)
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 304);
        let r = c.get(&url).send().await.unwrap();
        assert!(r.headers().get("content-encoding").is_none());
        assert_eq!(r.text().await.unwrap(), text);
    });
}

#[test]
fn hundred_concurrent_uploads_lose_nothing() {
    let env = Env::new();
    let pk = env.path("pk");
    std::fs::create_dir_all(&pk).unwrap();
    let srv = serve(&pk, None);
    let url = srv.url();
    let threads: Vec<_> = (0..100)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let c = HttpClient::new(&ClientOptions::default(), &url).unwrap();
                let body = package(&format!("c{}", i % 10), &format!("1.0.{i}"), &[]);
                c.request(
                    reqwest::Method::POST,
                    &format!("{url}/api/charts"),
                    Some((body, "application/gzip".into())),
                )
                .unwrap()
                .status
                .as_u16()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 201);
    }
    let text = std::fs::read_to_string(pk.join("index.yaml")).unwrap();
    let idx = stackpkg::repo::index::parse(text.as_bytes(), "index.yaml")
        .unwrap()
        .index;
    assert_eq!(idx.entries.len(), 10);
    assert_eq!(idx.entries.values().map(Vec::len).sum::<usize>(), 100);
    env.ok(&["repo", "add", "data", &url]);
    let all = env.ok(&["search", "repo", "--versions", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 100);
}

#[test]
fn bad_indexes_are_refused_and_bad_entries_skipped() {
    let env = Env::new();
    let s = StaticServer::start("127.0.0.1:0");
    for (body, why) in [
        (
            b"<html>not found</html>".to_vec(),
            "invalid repository index",
        ),
        (b"apiVersion: v2\nentries: {}\n".to_vec(), "apiVersion"),
        (vec![0xff, 0xfe, 0x00, 0x01], "UTF-8"),
        (
            b"apiVersion: v1\nentries: [".to_vec(),
            "invalid repository index",
        ),
    ] {
        s.set("/index.yaml", Reply::Bytes(body));
        let err = env.fails(&["repo", "add", "bad", &s.url()]);
        assert!(
            err.contains(why) && err.contains("/index.yaml"),
            "{why}: {err}"
        );
        assert!(!env.path("config/repositories.yaml").exists());
    }
    s.set("/index.yaml", Reply::Status(500));
    let err = env.fails(&["repo", "add", "bad", &s.url()]);
    assert!(err.contains("500"), "{err}");

    let good = package("a", "1.0.0", &[]);
    let mut idx = index_for(&[("a", "1.0.0", &good)]);
    idx.push_str("  b:\n  - name: b\n    version: [1]\n    urls: [b.tgz]\n");
    s.set("/index.yaml", Reply::Bytes(idx.into_bytes()));
    let o = env.run(&["repo", "add", "mixed", &s.url()]);
    assert!(o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.matches("warning: ").count(), 1, "{stderr}");
    assert!(stderr.contains("skipping entry b[0]"), "{stderr}");
}

#[test]
fn digest_mismatch_writes_nothing() {
    let env = Env::new();
    let s = StaticServer::start("127.0.0.1:0");
    let real = package("a", "1.0.0", &[]);
    let other = package("a", "1.0.0", &[("extra.txt", "tampered")]);
    s.set(
        "/index.yaml",
        Reply::Bytes(index_for(&[("a", "1.0.0", &real)]).into_bytes()),
    );
    s.set("/a-1.0.0.tgz", Reply::Bytes(other));
    env.ok(&["repo", "add", "r", &s.url()]);
    let err = env.fails(&["pull", "r/a", "-d", "out"]);
    assert!(err.contains("digest mismatch"), "{err}");
    assert!(!env.path("out/a-1.0.0.tgz").exists());
    let err = env.fails(&["pull", "r/a", "--untar", "-d", "out"]);
    assert!(err.contains("digest mismatch"), "{err}");
    assert!(!env.path("out/a").exists());
    s.set("/a-1.0.0.tgz", Reply::Bytes(real));
    env.ok(&["pull", "r/a", "-d", "out"]);
}

#[test]
fn credentials_are_not_sent_across_a_redirect_to_another_host() {
    let env = Env::new();
    let home = StaticServer::start("127.0.0.1:0");
    let elsewhere = StaticServer::start("127.0.0.2:0");
    let pkg = package("a", "1.0.0", &[]);
    let idx = index_for(&[("a", "1.0.0", &pkg)])
        .replace("[a-1.0.0.tgz]", &format!("[{}/a-1.0.0.tgz]", home.url()));
    home.set("/index.yaml", Reply::Bytes(idx.into_bytes()));
    home.set(
        "/a-1.0.0.tgz",
        Reply::Redirect(format!("{}/cdn/a.tgz", elsewhere.url())),
    );
    elsewhere.set("/cdn/a.tgz", Reply::Bytes(pkg));
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("u:p")
    );
    home.state.lock().unwrap().require_auth = Some(expected.clone());
    let o = env.with_stdin(
        &[
            "repo",
            "add",
            "r",
            &home.url(),
            "--username",
            "u",
            "--password-stdin",
        ],
        "p",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    env.ok(&["pull", "r/a", "-d", "out"]);
    assert!(env.path("out/a-1.0.0.tgz").is_file());
    let home_seen = home.seen();
    assert!(home_seen
        .iter()
        .all(|(_, a)| a.as_deref() == Some(expected.as_str())));
    let away = elsewhere.seen();
    assert_eq!(away.len(), 1);
    assert_eq!(away[0].1, None, "credentials leaked to {}", elsewhere.url());
}

#[test]
fn interrupted_update_keeps_the_previous_cache() {
    let env = Env::new();
    let s = StaticServer::start("127.0.0.1:0");
    let a = package("a", "1.0.0", &[]);
    let first = index_for(&[("a", "1.0.0", &a)]);
    s.set("/index.yaml", Reply::Bytes(first.into_bytes()));
    env.ok(&["repo", "add", "r", &s.url()]);
    let cache = env.path("cache/repository/r.spidx");
    let before = std::fs::read(&cache).unwrap();

    let b = package("b", "2.0.0", &[]);
    let second = index_for(&[("a", "1.0.0", &a), ("b", "2.0.0", &b)]);
    s.set("/index.yaml", Reply::Truncated(second.clone().into_bytes()));
    let err = env.fails(&["repo", "update", "r"]);
    assert!(err.contains("cannot update \"r\""), "{err}");
    assert_eq!(std::fs::read(&cache).unwrap(), before, "cache untouched");
    let found = env.ok(&["search", "repo", "a"]);
    assert!(found.contains("r/a"), "{found}");
    let leftovers: Vec<_> = std::fs::read_dir(cache.parent().unwrap())
        .unwrap()
        .collect();
    assert_eq!(leftovers.len(), 1, "no temp files left");

    s.set("/index.yaml", Reply::Bytes(second.into_bytes()));
    env.ok(&["repo", "update"]);
    assert!(env.ok(&["search", "repo", "b"]).contains("r/b"));
}

#[test]
fn tls_with_a_self_signed_ca() {
    let env = Env::new();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let srv_key = rcgen::KeyPair::generate().unwrap();
    let srv_cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&srv_key, &ca)
        .unwrap();
    std::fs::write(env.path("ca.pem"), ca.pem()).unwrap();
    std::fs::write(env.path("srv.pem"), srv_cert.pem()).unwrap();
    std::fs::write(env.path("srv.key"), srv_key.serialize_pem()).unwrap();

    let pk = env.path("pk");
    write_package(&pk, "kafka", "1.0.0");
    let srv = spawn(&ServeOptions {
        dir: pk,
        addr: "127.0.0.1:0".into(),
        auth: None,
        allow_overwrite: false,
        max_upload_size: 1 << 20,
        base_url: None,
        tls: Some((env.path("srv.pem"), env.path("srv.key"))),
    })
    .unwrap();
    let url = format!("https://{}", srv.addr);
    let err = env.fails(&["repo", "add", "tls", &url]);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let ca_file = env.path("ca.pem");
    env.ok(&[
        "repo",
        "add",
        "tls",
        &url,
        "--ca-file",
        ca_file.to_str().unwrap(),
    ]);
    env.ok(&["pull", "tls/kafka", "-d", "out"]);
    env.ok(&[
        "repo",
        "add",
        "insecure",
        &url,
        "--insecure-skip-tls-verify",
    ]);
    std::fs::write(env.path("junk.pem"), "not a pem").unwrap();
    let err = env.fails(&["repo", "add", "x", &url, "--ca-file", "junk.pem"]);
    assert!(err.contains("junk.pem"), "{err}");
}
