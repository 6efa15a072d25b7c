//! Actions: one function per command, orchestrating the modules below. No printing here;
//! actions return data that `cli` formats.

pub mod chart_ref;
pub mod create;
pub mod dep;
pub mod lint;
pub mod package;
pub mod repo;
pub mod show;
pub mod template;
