//! A Kubernetes API server simulator for stackpkg's tests. Test-only: never linked into
//! the `stackpkg` binary.
