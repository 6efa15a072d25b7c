//! `history`: every stored revision of one release, oldest first.

use crate::release::{Driver, Release, ReleaseError};
use crate::Result;

pub async fn history(driver: &dyn Driver, namespace: &str, name: &str) -> Result<Vec<Release>> {
    let h = driver.history(namespace, name).await?;
    if h.is_empty() {
        return Err(ReleaseError::NotFound {
            name: name.to_string(),
            namespace: namespace.to_string(),
        }
        .into());
    }
    Ok(h)
}
