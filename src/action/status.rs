//! `status`: the latest revision of a release (or a given one).

use crate::release::{Driver, Release, ReleaseError};
use crate::Result;

pub async fn status(
    driver: &dyn Driver,
    namespace: &str,
    name: &str,
    revision: Option<u64>,
) -> Result<Release> {
    if let Some(rev) = revision {
        return Ok(driver.get(namespace, name, rev).await?);
    }
    let h = driver.history(namespace, name).await?;
    h.into_iter().next_back().ok_or_else(|| {
        ReleaseError::NotFound {
            name: name.to_string(),
            namespace: namespace.to_string(),
        }
        .into()
    })
}
