//! Actions: one function per command, orchestrating the modules below. No printing here;
//! actions return data that `cli` formats.

pub mod create;
pub mod history;
pub mod install;
pub mod lint;
pub mod list;
pub mod package;
pub mod show;
pub mod status;
pub mod template;
pub mod uninstall;
pub mod upgrade;
