//! Index parse (update time) and search (query time) on a large index shaped like the one
//! `bench/gen_index.py` writes: 300 charts × 60 versions, about 20 MB.

use criterion::{criterion_group, criterion_main, Criterion};
use stackpkg::repo::cache::{build, CompactIndex};
use stackpkg::repo::index::parse;
use stackpkg::repo::search::{search, SearchOptions};

const WORDS: &[&str] = &[
    "cassandra",
    "kafka",
    "spark",
    "tensorflow",
    "zookeeper",
    "redis",
    "mongodb",
    "storm",
    "elasticsearch",
    "dask",
    "influxdb",
    "jupyter",
    "flink",
    "hadoop",
    "hive",
    "presto",
];

fn big_index(charts: usize, per: usize) -> String {
    let mut s = String::from("apiVersion: v1\nentries:\n");
    for c in 0..charts {
        let w = WORDS[c % WORDS.len()];
        let name = format!("{w}-{c}");
        s.push_str(&format!("  {name}:\n"));
        for v in 0..per {
            let ver = format!("{}.{}.{}", v / 20, (v / 5) % 4, v % 5);
            s.push_str(&format!(
                "  - annotations:\n      category: Database\n    apiVersion: v2\n    appVersion: \"{ver}\"\n    created: \"2026-01-01T00:00:00Z\"\n    dependencies:\n    - name: zookeeper\n      repository: oci://registry.example.com/charts\n      version: 1.x.x\n    description: {name} is a distributed data system packaged for Kubernetes; this chart deploys a production-ready cluster.\n    digest: {:064x}\n    home: https://example.com/{name}\n    keywords:\n    - {w}\n    - database\n    maintainers:\n    - name: Data Team\n    name: {name}\n    sources:\n    - https://example.com/src/{name}\n    urls:\n    - https://charts.example.com/{name}-{ver}.tgz\n    version: {ver}\n",
                c * 1000 + v
            ));
        }
    }
    s
}

fn benches(c: &mut Criterion) {
    let text = big_index(300, 60);
    let mut g = c.benchmark_group("repo_index");
    g.sample_size(10);
    g.bench_function("parse_20mb_index", |b| {
        b.iter(|| parse(text.as_bytes(), "bench").unwrap())
    });
    let idx = parse(text.as_bytes(), "bench").unwrap().index;
    g.bench_function("build_compact_cache", |b| b.iter(|| build(&idx)));
    let bytes = build(&idx);
    g.bench_function("load_compact_cache", |b| {
        b.iter(|| CompactIndex::from_bytes(bytes.clone()).unwrap())
    });
    let loaded = vec![(
        "data".to_string(),
        CompactIndex::from_bytes(bytes.clone()).unwrap(),
    )];
    let opts = SearchOptions {
        keyword: Some("kafka".into()),
        ..Default::default()
    };
    g.bench_function("search_keyword_newest", |b| {
        b.iter(|| search(&loaded, &opts))
    });
    let all = SearchOptions {
        keyword: Some("database".into()),
        all_versions: true,
        ..Default::default()
    };
    g.bench_function("search_keyword_all_versions", |b| {
        b.iter(|| search(&loaded, &all))
    });
    g.finish();
}

criterion_group!(repo, benches);
criterion_main!(repo);
