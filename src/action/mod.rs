//! Actions: one function per command, orchestrating the modules below. No printing here;
//! actions return data that `cli` formats.

pub mod chart_ref;
pub mod create;
pub mod dep;
pub mod diff;
pub mod get;
pub mod history;
pub mod install;
pub mod lifecycle;
pub mod lint;
pub mod list;
pub mod package;
pub mod repo;
pub mod revision;
pub mod rollback;
pub mod show;
pub mod status;
pub mod template;
pub mod uninstall;
pub mod upgrade;
