//! Actions: one function per command, orchestrating the modules below. No printing here;
//! actions return data that `cli` formats.

pub mod create;
pub mod lint;
pub mod package;
pub mod show;
pub mod template;
