#!/usr/bin/env python3
"""Writes the bad-input corpus files next to this script (charts/, values/, archives/,
kubeconfigs/, http/, config/). The files are committed; this script documents how each was
made and re-creates them: `python3 tests/corpus/generate.py`. Expected errors are in
cases.yaml; tests/corpus.rs runs them through the real binary."""
import gzip
import io
import os
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))


def w(path, text):
    path = os.path.join(HERE, path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = text if isinstance(text, bytes) else text.encode()
    with open(path, "wb") as f:
        f.write(data)


GOOD_CHART = "apiVersion: v2\nname: demo\nversion: 1.0.0\ndescription: corpus chart\n"
CM = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-cm\n"
    'data:\n  replicas: "{{ values.replicas }}"\n'
)

# A valid chart: the values, kubeconfig and HTTP cases use it.
w("charts/good/Chart.yaml", GOOD_CHART)
w("charts/good/values.yaml", "replicas: 1\nname: demo\n")
w(
    "charts/good/values.schema.json",
    '{"type":"object","properties":{"replicas":{"type":"integer","minimum":1}}}\n',
)
w("charts/good/templates/cm.yaml", CM)


def chart(name, chart_yaml=GOOD_CHART, files=None):
    if chart_yaml is not None:
        w(f"charts/{name}/Chart.yaml", chart_yaml)
    for p, t in (files or {}).items():
        w(f"charts/{name}/{p}", t)


chart("no-chart-yaml", None, {"values.yaml": "a: 1\n"})
chart("empty-chart-yaml", "\n  \n")
chart("chart-yaml-syntax", "apiVersion: v2\nname: demo\nversion: [1.0.0\n")
chart("chart-yaml-list", "- apiVersion: v2\n- name: demo\n")
chart("missing-name", "apiVersion: v2\nversion: 1.0.0\n")
chart("missing-version", "apiVersion: v2\nname: demo\n")
chart("bad-semver", "apiVersion: v2\nname: demo\nversion: one.two\n")
chart("bad-name", "apiVersion: v2\nname: Demo Chart\nversion: 1.0.0\n")
chart("api-v3", "apiVersion: v3\nname: demo\nversion: 1.0.0\n")
chart("bad-type", "apiVersion: v2\nname: demo\nversion: 1.0.0\ntype: plugin\n")
chart("kube-version-syntax", "apiVersion: v2\nname: demo\nversion: 1.0.0\nkubeVersion: '>=1.x.y.z'\n")
chart("kube-version-unmet", "apiVersion: v2\nname: demo\nversion: 1.0.0\nkubeVersion: '>=9.0.0'\n")
chart("name-is-a-map", "apiVersion: v2\nname: {a: 1}\nversion: 1.0.0\n")
chart("chart-yaml-not-utf8", b"apiVersion: v2\nname: demo\nversion: 1.0.0\ndescription: \xff\xfe\n")
chart("dep-missing", GOOD_CHART + "dependencies:\n  - name: redis\n    version: ^1.0.0\n")
chart(
    "dep-bad-range",
    GOOD_CHART + "dependencies:\n  - name: redis\n    version: '>>1'\n",
    {"charts/redis/Chart.yaml": "apiVersion: v2\nname: redis\nversion: 1.0.0\n"},
)
chart("dep-no-name", GOOD_CHART + "dependencies:\n  - version: ^1.0.0\n")
chart("values-syntax", files={"values.yaml": "a: 1\nb: [1, 2\nc: 3\n"})
chart("values-list", files={"values.yaml": "- a\n- b\n"})
chart("values-duplicate-key", files={"values.yaml": "a: 1\na: 2\n"})
chart(
    "schema-syntax",
    files={"values.yaml": "a: 1\n", "values.schema.json": '{"type": "object",\n "properties": {\n'},
)
chart("schema-not-a-schema", files={"values.yaml": "a: 1\n", "values.schema.json": '{"type": 12}\n'})
chart(
    "schema-violation",
    files={
        "values.yaml": "replicas: many\n",
        "values.schema.json": '{"type":"object","properties":{"replicas":{"type":"integer"}}}\n',
    },
)
chart(
    "template-syntax",
    files={"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\n{% if values.x %}\nmetadata: {}\n"},
)
chart(
    "template-unknown-function",
    files={"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ no_such_function(1) }}\n"},
)
chart(
    "template-bad-yaml-output",
    files={"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: [\n"},
)
chart("template-no-kind", files={"templates/cm.yaml": "apiVersion: v1\nmetadata:\n  name: x\n"})
chart(
    "template-not-utf8",
    files={"templates/cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \xc3\x28\n"},
)
chart("template-fail-call", files={"templates/cm.yaml": "{{ fail('replicas must be set') }}\n"})
chart(
    "template-files-escape",
    files={
        "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
        "data:\n  p: {{ files.get('../../../../etc/passwd') | tojson }}\n"
    },
)
chart("template-include-escape", files={"templates/cm.yaml": "{% include '../../../../etc/hostname' %}\n"})
chart(
    "template-infinite-recursion",
    files={"templates/cm.yaml": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}\n"},
)
chart(
    "template-endless-loop",
    files={"templates/cm.yaml": "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}\n"},
)
chart(
    "duplicate-objects",
    files={
        "templates/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n",
        "templates/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n",
    },
)
chart("subchart-broken", files={"charts/sub/Chart.yaml": "apiVersion: v2\nname: sub\nversion: not-semver\n"})
chart(
    "subchart-values-syntax",
    files={
        "charts/sub/Chart.yaml": "apiVersion: v2\nname: sub\nversion: 1.0.0\n",
        "charts/sub/values.yaml": "x: {\n",
    },
)
chart("crd-not-yaml", files={"crds/c.yaml": "kind: [\n"})

# Values files given with -f.
w("values/syntax.yaml", "replicas: 2\nimage:\n  tag: [x\n")
w("values/scalar.yaml", "just a string\n")
w("values/list.yaml", "- 1\n- 2\n")
w("values/not-utf8.yaml", b"a: \xff\xfe\n")
w("values/schema-type.yaml", "replicas: three\n")
w("values/schema-minimum.yaml", "replicas: 0\n")
w("values/tab-indent.yaml", "a:\n\tb: 1\n")
w(
    "values/anchor-bomb.yaml",
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi")
    ),
)
w("values/unknown-anchor.yaml", "a: *nope\n")
w("values/set-file.txt", "file content\n")


# Archives: tar entries written header by header so unsafe ones can be made.
def tgz(name, entries, raw=None):
    if raw is not None:
        w(f"archives/{name}", raw)
        return
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for e in entries:
            path, kind = e[0], e[1]
            data = e[2] if len(e) > 2 else b""
            ti = tarfile.TarInfo(path)
            ti.mtime = 0
            ti.mode = 0o644
            if kind == "file":
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
                continue
            ti.type = {
                "dir": tarfile.DIRTYPE,
                "sym": tarfile.SYMTYPE,
                "hard": tarfile.LNKTYPE,
                "fifo": tarfile.FIFOTYPE,
                "chr": tarfile.CHRTYPE,
            }[kind]
            if kind in ("sym", "hard"):
                ti.linkname = data.decode()
            t.addfile(ti)
    w(f"archives/{name}", gzip.compress(buf.getvalue(), mtime=0))


CY = GOOD_CHART.encode()
good_tar = [
    ("demo/Chart.yaml", "file", CY),
    ("demo/values.yaml", "file", b"replicas: 1\n"),
    ("demo/templates/cm.yaml", "file", CM.encode()),
]
tgz("empty.tgz", None, b"")
tgz("not-gzip.tgz", None, b"this is not a gzip stream\n")
tgz("html.tgz", None, b"<!doctype html><html><body>404 Not Found</body></html>\n")
tgz("gzip-not-tar.tgz", None, gzip.compress(b"plain text inside gzip, not a tar stream\n" * 20, mtime=0))
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
    for p, _, d in good_tar:
        ti = tarfile.TarInfo(p)
        ti.size = len(d)
        t.addfile(ti, io.BytesIO(d))
whole = gzip.compress(buf.getvalue(), mtime=0)
tgz("truncated.tgz", None, whole[: len(whole) // 2])
tgz("bad-crc.tgz", None, whole[:-8] + bytes(b ^ 0xFF for b in whole[-8:-4]) + whole[-4:])
tgz("traversal.tgz", [("demo/Chart.yaml", "file", CY), ("demo/../../evil.sh", "file", b"x")])
tgz("absolute.tgz", [("/tmp/demo/Chart.yaml", "file", CY)])
tgz("symlink.tgz", [("demo/Chart.yaml", "file", CY), ("demo/templates/passwd", "sym", b"/etc/passwd")])
tgz("hardlink.tgz", [("demo/Chart.yaml", "file", CY), ("demo/h", "hard", b"/etc/shadow")])
tgz("fifo.tgz", [("demo/Chart.yaml", "file", CY), ("demo/pipe", "fifo")])
tgz("device.tgz", [("demo/Chart.yaml", "file", CY), ("demo/tty", "chr")])
tgz("two-top-folders.tgz", [("demo/Chart.yaml", "file", CY), ("other/x.yaml", "file", b"a: 1\n")])
tgz("no-chart-yaml.tgz", [("demo/values.yaml", "file", b"a: 1\n")])
tgz("duplicate-entry.tgz", [("demo/Chart.yaml", "file", CY), ("demo/Chart.yaml", "file", CY)])
tgz("file-bomb.tgz", [("demo/Chart.yaml", "file", CY), ("demo/zeros", "file", bytes(6 << 20))])
tgz("bad-chart-yaml.tgz", [("demo/Chart.yaml", "file", b"apiVersion: v2\nname: demo\n")])
tgz(
    "nested-bad.tgz",
    [
        ("demo/Chart.yaml", "file", CY),
        ("demo/charts/sub-1.0.0.tgz", "file", b"not a gzip stream"),
    ],
)
tgz("too-many-entries.tgz", [("demo/Chart.yaml", "file", CY)] + [(f"demo/f/{i}", "file", b"") for i in range(10001)])

# Kubeconfigs for the release commands.
KC_OK_HEAD = "apiVersion: v1\nkind: Config\n"
w("kubeconfigs/syntax.yaml", "apiVersion: v1\nclusters: [\n")
w("kubeconfigs/not-a-map.yaml", "- a\n- b\n")
w(
    "kubeconfigs/no-current-context.yaml",
    KC_OK_HEAD + "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\ncontexts: []\nusers: []\n",
)
w(
    "kubeconfigs/missing-cluster.yaml",
    KC_OK_HEAD
    + "current-context: x\ncontexts:\n- name: x\n  context: {cluster: gone, user: u}\n"
    + "clusters: []\nusers:\n- name: u\n  user: {token: corpus-secret-token-4711}\n",
)
w(
    "kubeconfigs/bad-ca-data.yaml",
    KC_OK_HEAD
    + "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
    + "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1', certificate-authority-data: '%%%not base64%%%'}\n"
    + "users:\n- name: u\n  user: {token: corpus-secret-token-4711}\n",
)
w(
    "kubeconfigs/bad-client-key.yaml",
    KC_OK_HEAD
    + "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
    + "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
    + "users:\n- name: u\n  user:\n"
    + "    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmdhcmJhZ2UKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=\n"
    + "    client-key-data: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCmNvcnB1cy1zZWNyZXQta2V5LTQ3MTEKLS0tLS1FTkQgUFJJVkFURSBLRVktLS0tLQo=\n",
)
w(
    "kubeconfigs/missing-key-file.yaml",
    KC_OK_HEAD
    + "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
    + "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
    + "users:\n- name: u\n  user: {client-certificate: /nonexistent/corpus.crt, client-key: /nonexistent/corpus.key}\n",
)
w(
    "kubeconfigs/bad-server-url.yaml",
    KC_OK_HEAD
    + "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
    + "clusters:\n- name: c\n  cluster: {server: 'ht!tp://exa mple'}\n"
    + "users:\n- name: u\n  user: {token: corpus-secret-token-4711}\n",
)
w(
    "kubeconfigs/unreachable.yaml",
    KC_OK_HEAD
    + "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u, namespace: data}\n"
    + "clusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:9'}\n"
    + "users:\n- name: u\n  user: {token: corpus-secret-token-4711}\n",
)

# Bodies a repository server answers with (see `serve:` in cases.yaml).
w("http/html.html", "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>login</body></html>\n")
w("http/index-v2.yaml", "apiVersion: v2\nentries: {}\n")
w("http/index-not-utf8.yaml", b"apiVersion: v1\nentries:\n  \xff\xfe: []\n")
w("http/index-truncated.yaml", "apiVersion: v1\nentries:\n  demo:\n  - name: demo\n    version: 1.0.0\n    urls: [demo-1.0.0.tgz\n")
w("http/index-json-garbage.json", '{"apiVersion": "v1", "entries": {"demo": [{"name": "demo",')
w("http/index-entries-list.yaml", "apiVersion: v1\nentries:\n- demo\n")
w("http/index-scalar.yaml", "hello\n")
w("http/empty.yaml", "")
w(
    "http/index-anchor-bomb.yaml",
    "apiVersion: v1\na: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi")
    )
    + "entries:\n  demo: *i\n",
)
w("http/index-gzip-truncated.yaml.gz", gzip.compress(b"apiVersion: v1\nentries: {}\n" * 200, mtime=0)[:60])
w("http/index-binary.bin", bytes(range(256)) * 4)
w("http/demo-1.0.0.tgz", whole)
IDX = (
    "apiVersion: v1\nentries:\n  demo:\n  - name: demo\n    version: 1.0.0\n    apiVersion: v2\n"
    "    urls: [demo-1.0.0.tgz]\n"
)
w("http/index-good.yaml", IDX + "    digest: {sha256:http/demo-1.0.0.tgz}\n")
w("http/index-bad-digest.yaml", IDX + "    digest: " + "0" * 64 + "\n")
w("http/index-no-digest.yaml", IDX)
w("http/index-traversal.yaml", IDX + "    digest: {sha256:archives/traversal.tgz}\n")
w("http/index-html-package.yaml", IDX + "    digest: {sha256:http/html.html}\n")
w(
    "http/index-evil-url.yaml",
    IDX.replace("demo-1.0.0.tgz", "file:///etc/passwd") + "    digest: " + "0" * 64 + "\n",
)

# A repositories.yaml that is not one.
w("config/repositories.yaml", "repositories: {oops\n")

# lifecycle.yaml: one broken rule each, checked by `stackpkg lint` (install checks the same
# before its first write, but needs a cluster first). Charts under lifecycle/.
STS = "target: {kind: StatefulSet, name: demo-db}"
EXEC = "exec: {command: [nodetool, drain]}"


def lifecycle(name, steps):
    w(f"lifecycle/{name}/Chart.yaml", GOOD_CHART)
    w(f"lifecycle/{name}/templates/cm.yaml", CM.replace("{{ values.replicas }}", "1"))
    w(f"lifecycle/{name}/lifecycle.yaml", "steps:\n" + steps)


lifecycle("bad-duration", f"  - name: drain\n    on: [pre-delete]\n    {STS}\n    exec: {{command: [a], timeout: soon}}\n")
lifecycle("zero-interval", f"  - name: wait\n    on: [post-install]\n    {STS}\n    {EXEC}\n    gate: {{exec: {{command: [ok]}}, interval: 0s}}\n")
lifecycle("duplicate-name", f"  - name: drain\n    on: [pre-delete]\n    {STS}\n    {EXEC}\n  - name: drain\n    on: [pre-upgrade]\n    {STS}\n    {EXEC}\n")
lifecycle("unknown-event", f"  - name: drain\n    on: [pre-lunch]\n    {STS}\n    {EXEC}\n")
lifecycle("missing-exec", f"  - name: drain\n    on: [pre-delete]\n    {STS}\n")
lifecycle("removed-not-scale-down", "  - name: drain\n    on: [pre-delete]\n    target: {kind: StatefulSet, name: demo-db, pods: removed}\n    " + EXEC + "\n")
lifecycle("scale-down-deployment", "  - name: decommission\n    on: [pre-scale-down]\n    target: {kind: Deployment, name: demo-web, pods: removed}\n    " + EXEC + "\n")
lifecycle("rollout-parallel", "  - name: roll\n    on: [rollout]\n    target: {kind: StatefulSet, name: demo-db, order: parallel}\n")
lifecycle("parallelism-ordinal", "  - name: drain\n    on: [pre-delete]\n    target: {kind: StatefulSet, name: demo-db, parallelism: 2}\n    " + EXEC + "\n")
lifecycle("exec-typo", f"  - name: drain\n    on: [pre-delete]\n    {STS}\n    exec: {{comand: [nodetool, drain]}}\n")
lifecycle("http-port-range", f"  - name: health\n    on: [post-upgrade]\n    {STS}\n    {EXEC}\n    gate: {{http: {{port: 70000, path: /health}}}}\n")
lifecycle("exit-code-string", f"  - name: drain\n    on: [pre-delete]\n    {STS}\n    exec: {{command: [a], accept-exit-codes: [zero]}}\n")
