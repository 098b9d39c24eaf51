// SPDX-License-Identifier: GPL-2.0

//! Every value dcbm shows or takes, by name, with the C driver's
//! semantics: a bad write returns an errno and leaves the value as it was;
//! a write to a counter resets it.
//!
//! A knob has up to two files, one value behind both: the v5 driver's
//! `/sys/module/dcbm/<name>` (attrs.rs) and the v6 driver's module
//! parameter `/sys/module/dcbm/parameters/<name>` (declared in
//! dcbm_shim.c, so also settable from modprobe.d). Both reach
//! [`show`]/[`store`] with the file's name.

use crate::context;
use crate::control;
use crate::health;
use crate::input;
use crate::reasons;
use crate::stats::{self, Counter, ReasonRow};
use crate::verify;
use core::fmt::{self, Write};
use kernel::ffi::{c_char, c_int};
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::str::Formatter;

/// What a knob is.
enum Kind {
    /// Shown by `show`, set by `store` (which validates, then applies).
    Tunable {
        show: fn(&mut Formatter<'_>) -> fmt::Result,
        store: fn(&CStr) -> Result,
    },
    /// A counter: reads its value, any write resets it.
    Counter(&'static Counter),
    /// A migration reason's statistics: read as `name value` lines, any
    /// write resets them.
    Row(&'static ReasonRow),
    /// Read-only (its files are mode 0444).
    Info(fn(&mut Formatter<'_>) -> fmt::Result),
}

pub(crate) struct Knob {
    pub(crate) name: &'static CStr,
    kind: Kind,
}

impl Knob {
    /// The mode of its sysfs file: read-only knobs are 0444.
    pub(crate) const fn mode(&self) -> u16 {
        match self.kind {
            Kind::Info(_) => 0o444,
            Kind::Tunable { .. } | Kind::Counter(_) | Kind::Row(_) => 0o644,
        }
    }
}

macro_rules! tunable {
    ($name:literal, |$f:ident| $show:expr, |$buf:ident| $store:expr) => {
        Knob {
            name: $name,
            kind: Kind::Tunable {
                show: |$f| $show,
                store: |$buf| $store,
            },
        }
    };
}

macro_rules! counter {
    ($name:literal, $counter:path) => {
        Knob {
            name: $name,
            kind: Kind::Counter(&$counter),
        }
    };
}

macro_rules! info {
    ($name:literal, |$f:ident| $show:expr) => {
        Knob {
            name: $name,
            kind: Kind::Info(|$f| $show),
        }
    };
}

/// The statistics row of reason `i` (reasons.rs), named after it.
macro_rules! row {
    ($i:literal) => {
        Knob {
            name: reasons::NAMES[$i],
            kind: Kind::Row(&stats::BY_REASON[$i]),
        }
    };
}

/// Counts the expressions it is given (the length of a knob table).
macro_rules! count {
    () => { 0 };
    ($x:tt $($xs:tt)*) => { 1 + count!($($xs)*) };
}

/// The knob tables: one per directory of files (attrs.rs makes a file of
/// each knob, in order), their lengths counted.
macro_rules! tables {
    ($($(#[$doc:meta])* $id:ident, $len:ident = [$($knob:expr),* $(,)?];)*) => {
        $(
            $(#[$doc])*
            pub(crate) static $id: [Knob; $len] = [$($knob),*];
            pub(crate) const $len: usize = count!($($knob)*);
        )*
    };
}

tables! {
    /// /sys/module/dcbm/: the settings, the folio counters, what dcbm holds
    /// and runs on. On a v6 kernel the settings and folio counters are also
    /// module parameters (dcbm_shim.c).
    TOP, TOP_LEN = [
    tunable!(
        c"offloading",
        |f| write!(f, "{}", u8::from(control::enabled())),
        |buf| kernel::str::kstrtobool(buf).and_then(control::set_offloading)
    ),
    tunable!(
        c"nr_dma_chan",
        |f| write!(f, "{}", control::nr_chan()),
        |buf| input::number(buf).and_then(control::set_nr_chan)
    ),
    tunable!(
        c"timeout_ms",
        |f| write!(f, "{}", control::timeout_ms()),
        |buf| input::number(buf).and_then(control::set_timeout_ms)
    ),
    tunable!(
        c"min_batch_bytes",
        |f| write!(f, "{}", control::min_batch_bytes()),
        |buf| input::number(buf).and_then(control::set_min_batch_bytes)
    ),
    tunable!(
        c"min_folio_bytes",
        |f| write!(f, "{}", control::min_folio_bytes()),
        |buf| input::number(buf).and_then(control::set_min_folio_bytes)
    ),
    tunable!(
        c"min_timeout_ms",
        |f| write!(f, "{}", control::min_timeout_ms()),
        |buf| input::number(buf).and_then(control::set_min_timeout_ms)
    ),
    tunable!(
        c"health_strikes",
        |f| write!(f, "{}", control::health_strikes()),
        |buf| input::number(buf).and_then(control::set_health_strikes)
    ),
    tunable!(c"verify", |f| f.write_str(verify::mode().name()), |buf| {
        verify::Verify::parse(buf).and_then(verify::set_mode)
    }),
    counter!(c"folios_migrated", stats::FOLIOS_MIGRATED),
    counter!(c"folios_failures", stats::FOLIOS_FAILURES),
    counter!(c"folios_declined", stats::FOLIOS_DECLINED),
    counter!(c"bytes_migrated", stats::BYTES_MIGRATED),
    info!(c"channels", |f| write_channels(f)),
    info!(c"interface", |f| f.write_str(reasons::interface())),
    info!(c"caller_rule", |f| f.write_str(context::caller_rule())),
    info!(c"reasons_available", |f| write!(
        f,
        "{}",
        reasons::Names(reasons::available())
    )),
    tunable!(
        c"reason_mask",
        |f| write!(f, "{}", reasons::Names(reasons::mask())),
        |buf| control::set_reason_mask(buf)
    ),
    ];
    /// /sys/module/dcbm/timing/: where a batch's time goes.
    TIMING, TIMING_LEN = [
    counter!(c"batches", stats::BATCHES),
    counter!(c"setup_ns", stats::SETUP_NS),
    counter!(c"wait_ns", stats::WAIT_NS),
    counter!(c"teardown_ns", stats::TEARDOWN_NS),
    counter!(c"submit_wait_ns", stats::SUBMIT_WAIT_NS),
    counter!(c"map_ns", stats::MAP_NS),
    ];
    /// /sys/module/dcbm/engine/: how batches met the engine, its health.
    ENGINE, ENGINE_LEN = [
    counter!(c"descriptors", stats::DESCRIPTORS),
    counter!(c"pool_waits", stats::POOL_WAITS),
    counter!(c"uneven_maps", stats::UNEVEN_MAPS),
    counter!(c"merged_maps", stats::MERGED_MAPS),
    counter!(c"busy_declines", stats::BUSY_DECLINES),
    counter!(c"aborted", stats::ABORTED),
    counter!(c"waited_out", stats::WAITED_OUT),
    counter!(c"nowait_declines", stats::NOWAIT_DECLINES),
    counter!(c"nowait_batches", stats::NOWAIT_BATCHES),
    counter!(c"nowait_max_us", stats::NOWAIT_MAX_US),
    info!(c"health", |f| write_health(f)),
    info!(c"paused", |f| write!(f, "{}", u8::from(health::paused()))),
    counter!(c"channels_out", stats::CHANNELS_OUT),
    counter!(c"health_declines", stats::HEALTH_DECLINES),
    counter!(c"probes", stats::PROBES),
    counter!(c"probe_failures", stats::PROBE_FAILURES),
    counter!(c"verified_batches", stats::VERIFIED_BATCHES),
    counter!(c"verify_mismatches", stats::VERIFY_MISMATCHES),
    counter!(c"memory_declines", stats::MEMORY_DECLINES),
    counter!(c"channels_removed", stats::CHANNELS_REMOVED),
    ];
    /// /sys/module/dcbm/reasons/: what became of each migration reason's
    /// batches (stats.rs), a file per reason and one for batches whose
    /// reason the kernel does not tell.
    REASONS, REASONS_LEN = [
    row!(0), row!(1), row!(2), row!(3), row!(4), row!(5),
    row!(6), row!(7), row!(8), row!(9), row!(10), row!(11),
    ];
}

const _: () = assert!(REASONS_LEN == reasons::ROWS);

/// One line per held channel: its name and health (health.rs). (`show`
/// ends the last line.)
fn write_health(f: &mut Formatter<'_>) -> fmt::Result {
    let set = control::channels();
    for (i, c) in set.iter().flat_map(|s| s.iter()).enumerate() {
        let sep = if i == 0 { "" } else { "\n" };
        write!(f, "{}{} ", sep, c.name().to_str().unwrap_or("?"))?;
        c.health().show(f)?;
    }
    Ok(())
}

/// The held channels, space separated.
fn write_channels(f: &mut Formatter<'_>) -> fmt::Result {
    let set = control::channels();
    for (i, c) in set.iter().flat_map(|s| s.iter()).enumerate() {
        let sep = if i == 0 { "" } else { " " };
        write!(f, "{}{}", sep, c.name().to_str().unwrap_or("?"))?;
    }
    Ok(())
}

fn find(name: &CStr) -> Result<&'static Knob> {
    [&TOP[..], &TIMING[..], &ENGINE[..], &REASONS[..]]
        .into_iter()
        .flatten()
        .find(|k| k.name == name)
        .ok_or(ENOENT)
}

/// Formats knob `name` and a newline into `page`; returns the length.
pub(crate) fn show(name: &CStr, page: &mut [u8]) -> Result<usize> {
    let knob = find(name)?;
    let mut f = Formatter::new(page);
    match knob.kind {
        Kind::Tunable { show, .. } | Kind::Info(show) => show(&mut f),
        Kind::Counter(c) => write!(f, "{}", c.get()),
        Kind::Row(r) => r.show(&mut f),
    }
    .and_then(|()| f.write_str("\n"))
    .map_err(|_| EINVAL)?;
    Ok(f.bytes_written())
}

/// Parses `buf` and applies it to knob `name`, or fails with an errno and
/// changes nothing.
pub(crate) fn store(name: &CStr, buf: &CStr) -> Result {
    match find(name)?.kind {
        Kind::Tunable { store, .. } => store(buf),
        Kind::Counter(c) => {
            c.reset();
            Ok(())
        }
        Kind::Row(r) => {
            r.reset();
            Ok(())
        }
        Kind::Info(_) => Err(EPERM),
    }
}

/// The `get` of dcbm's module parameters (dcbm_shim.c).
///
/// # Safety
/// `name` is NUL-terminated; `buf` is the PAGE_SIZE buffer of a
/// parameter read.
#[no_mangle]
pub(crate) unsafe extern "C" fn dcbm_knob_show(name: *const c_char, buf: *mut c_char) -> c_int {
    // SAFETY: per the contract.
    let (name, page) = unsafe {
        (
            CStr::from_char_ptr(name),
            core::slice::from_raw_parts_mut(buf.cast::<u8>(), PAGE_SIZE),
        )
    };
    match show(name, page) {
        Ok(n) => n as c_int,
        Err(e) => e.to_errno(),
    }
}

/// The `set` of dcbm's module parameters (dcbm_shim.c).
///
/// # Safety
/// `name` and `val` are NUL-terminated.
#[no_mangle]
pub(crate) unsafe extern "C" fn dcbm_knob_store(name: *const c_char, val: *const c_char) -> c_int {
    // SAFETY: per the contract.
    let (name, val) = unsafe { (CStr::from_char_ptr(name), CStr::from_char_ptr(val)) };
    match store(name, val) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
