#!/usr/bin/env python3
"""Builds schemas/k8s/v1.34.0-strict.json from the kubernetes-validate PyPI package.

Keeps only the kinds listed below and the definitions they reach, drops descriptions (they
do not affect validation), and rewrites references to point inside the one output file.
Rerun after changing KINDS:  python3 schemas/k8s/vendor.py .tools/venv
"""
import glob
import json
import os
import sys

VERSION = "v1.34.0"
KINDS = [
    "configmap-v1", "secret-v1", "service-v1", "serviceaccount-v1", "persistentvolumeclaim-v1",
    "pod-v1", "namespace-v1", "resourcequota-v1", "limitrange-v1",
    "deployment-apps-v1", "statefulset-apps-v1", "daemonset-apps-v1",
    "job-batch-v1", "cronjob-batch-v1",
    "poddisruptionbudget-policy-v1",
    "ingress-networking-v1", "ingressclass-networking-v1", "networkpolicy-networking-v1",
    "horizontalpodautoscaler-autoscaling-v2", "horizontalpodautoscaler-autoscaling-v1",
    "role-rbac-v1", "rolebinding-rbac-v1", "clusterrole-rbac-v1", "clusterrolebinding-rbac-v1",
    "priorityclass-scheduling-v1", "storageclass-storage-v1",
    "customresourcedefinition-apiextensions-v1",
]
PREFIX = "/api/_definitions.json#/$defs/"


def strip(node, refs):
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "description" and isinstance(v, str):
                continue
            if k == "$ref" and isinstance(v, str):
                local = "#/$defs/"
                assert v.startswith(PREFIX) or v.startswith(local), v
                name = v[len(PREFIX):] if v.startswith(PREFIX) else v[len(local):]
                refs.add(name)
                out[k] = "#/$defs/" + name
                continue
            out[k] = strip(v, refs)
        return out
    if isinstance(node, list):
        return [strip(v, refs) for v in node]
    return node


def main():
    venv = sys.argv[1] if len(sys.argv) > 1 else ".tools/venv"
    pkg = glob.glob(os.path.join(venv, "lib/python3*/site-packages/kubernetes_validate"))[0]
    src = os.path.join(pkg, "kubernetes-json-schema", VERSION + "-local-strict")
    defs_all = json.load(open(os.path.join(src, "_definitions.json")))["$defs"]
    kinds, refs = {}, set()
    for k in KINDS:
        schema = json.load(open(os.path.join(src, k + ".json")))
        gvk = schema["x-kubernetes-group-version-kind"][0]
        api = gvk["version"] if not gvk["group"] else gvk["group"] + "/" + gvk["version"]
        kinds[api + " " + gvk["kind"]] = strip(schema, refs)
    defs, todo = {}, list(refs)
    while todo:
        name = todo.pop()
        if name in defs:
            continue
        found = set()
        defs[name] = strip(defs_all[name], found)
        todo.extend(found - defs.keys())
    out = {
        "source": "kubernetes-validate 1.37.0 (PyPI), kubernetes-json-schema/%s-local-strict" % VERSION,
        "kinds": kinds,
        "$defs": defs,
    }
    dest = os.path.join(os.path.dirname(os.path.abspath(__file__)), VERSION + "-strict.json")
    tmp = dest + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, sort_keys=True, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, dest)
    print(dest, len(kinds), "kinds", len(defs), "definitions")


if __name__ == "__main__":
    main()
