//! The integration tests of `dcbm-config`: the built binary run against fake
//! sysfs trees (`common`), one module per subject.
//!
//! One test binary rather than one per file: each binary is linked on its
//! own (with the release profile's LTO in a package's `%check`), and the
//! helpers in `common` are compiled once.

mod common;

mod cli;
mod codes;
mod dropins;
mod interrupt;
mod json;
mod lock;
mod manpages;
mod messages;
mod modprobe;
mod notify;
mod output;
mod reasons;
mod safety;
mod switched_off;
mod way_back;
