//! The `configmaps` driver: the `secrets` layout (names, labels, chunking, annotations) in
//! ConfigMaps, for clusters where the release tool may not read Secrets. ConfigMaps have no
//! `type`, so heads are told from chunks by their `owner` label only; the gzip record goes
//! in `binaryData.release` (base64, like Secret `data`), since it is not UTF-8 text.

use std::sync::Arc;

use super::secrets::{KubeDriver, Layout};
use crate::kube::Cluster;

pub const CONFIGMAPS: Layout = Layout {
    driver: "configmaps",
    kind: "ConfigMap",
    data_field: "binaryData",
    types: None,
};

/// The `configmaps` driver.
pub fn driver(cluster: Arc<dyn Cluster>) -> KubeDriver {
    KubeDriver::with_layout(cluster, &CONFIGMAPS)
}
