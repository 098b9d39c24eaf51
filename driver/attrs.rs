// SPDX-License-Identifier: GPL-2.0

//! The sysfs files under /sys/module/dcbm/, with the C driver's semantics:
//! a bad write returns an errno and leaves the value as it was; a write
//! to a counter resets it.
//!
//! The files live on the module's kobject, whose sysfs operations call
//! each file as a `struct module_attribute` (`module_attr_show()`), so they
//! are module attributes with exactly the callback types bindgen gives for
//! it: a kCFI kernel checks the type of every indirect call. (The C
//! reference driver used `kobj_attribute`s there, which only work while
//! the callee ignores its first two arguments.)

use crate::control;
use crate::reasons;
use crate::stats;
use core::cell::UnsafeCell;
use core::fmt::Write;
use core::ptr;
use kernel::bindings;
use kernel::ffi::{c_char, c_uint};
use kernel::prelude::*;

/// The callback types of `struct module_attribute`, as bindgen gives them
/// (`Attr::new` stores them in its fields, so a mismatch does not compile).
type Show = unsafe extern "C" fn(
    *const bindings::module_attribute,
    *mut bindings::module_kobject,
    *mut c_char,
) -> isize;
type Store = unsafe extern "C" fn(
    *const bindings::module_attribute,
    *mut bindings::module_kobject,
    *const c_char,
    usize,
) -> isize;

/// A `module_attribute` in writable memory, as sysfs and lockdep expect.
#[repr(transparent)]
struct Attr(UnsafeCell<bindings::module_attribute>);

// SAFETY: sysfs only reads the attribute after registration; nothing in
// this module writes it.
unsafe impl Sync for Attr {}

impl Attr {
    const fn new(name: &'static CStr, mode: u16, show: Show, store: Store) -> Self {
        Self(UnsafeCell::new(bindings::module_attribute {
            attr: bindings::attribute {
                // `as_char_ptr()` is not const; the cast is what it does.
                #[allow(clippy::disallowed_methods)]
                name: name.as_ptr().cast(),
                mode,
                // SAFETY: the remaining (lockdep) fields are zero when unused.
                ..unsafe { core::mem::zeroed() }
            },
            show: Some(show),
            store: Some(store),
            setup: None,
            test: None,
            free: None,
        }))
    }

    const fn attr(&'static self) -> *mut bindings::attribute {
        // SAFETY: a projection of a static, no reference is created.
        unsafe { ptr::addr_of_mut!((*self.0.get()).attr) }
    }
}

/// Writes the value and a newline into the buffer of a sysfs show call.
///
/// # Safety
/// `buf` is the PAGE_SIZE buffer sysfs passed to a show callback.
unsafe fn emit(buf: *mut c_char, args: core::fmt::Arguments<'_>) -> isize {
    struct Page {
        buf: *mut u8,
        len: usize,
    }
    impl Write for Page {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            // Values are a few digits; anything near a page is a bug.
            if self.len + s.len() >= bindings::PAGE_SIZE {
                return Err(core::fmt::Error);
            }
            // SAFETY: bounds checked above against the page sysfs gave.
            unsafe { ptr::copy_nonoverlapping(s.as_ptr(), self.buf.add(self.len), s.len()) };
            self.len += s.len();
            Ok(())
        }
    }
    let mut page = Page {
        buf: buf.cast(),
        len: 0,
    };
    match writeln!(page, "{}", args) {
        Ok(()) => page.len as isize,
        Err(_) => EINVAL.to_errno() as isize,
    }
}

fn ret(count: usize, r: Result) -> isize {
    match r {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

// The parsers are the kernel's, so values mean what they mean everywhere
// in sysfs: a base prefix, one trailing newline, nothing else.

fn parse_u64(buf: &CStr) -> Result<u64> {
    let mut v = 0u64;
    // SAFETY: `buf` is NUL-terminated; `v` is a valid out-pointer.
    kernel::error::to_result(unsafe { bindings::kstrtoull(buf.as_char_ptr(), 0, &mut v) })?;
    Ok(v)
}

fn parse_u32(buf: &CStr) -> Result<u32> {
    let mut v: c_uint = 0;
    // SAFETY: `buf` is NUL-terminated; `v` is a valid out-pointer.
    kernel::error::to_result(unsafe { bindings::kstrtouint(buf.as_char_ptr(), 0, &mut v) })?;
    Ok(v)
}

fn parse_bool(buf: &CStr) -> Result<bool> {
    let mut v = false;
    // SAFETY: `buf` is NUL-terminated; `v` is a valid out-pointer.
    kernel::error::to_result(unsafe { bindings::kstrtobool(buf.as_char_ptr(), &mut v) })?;
    Ok(v)
}

/// A tunable file: `show` formats the value; `store` parses `buf` and
/// applies it, or fails with an errno and changes nothing.
macro_rules! knob_attr {
    ($attr:ident, $name:literal, |$buf:ident| show: $show:expr, store: $store:expr) => {
        knob_attr!($attr, $name, 0o644, |$buf| show: $show, store: $store);
    };
    ($attr:ident, $name:literal, $mode:literal, |$buf:ident| show: $show:expr, store: $store:expr) => {
        static $attr: Attr = {
            /// # Safety
            /// Called by sysfs only, with the buffer of a show call.
            unsafe extern "C" fn show(
                _: *const bindings::module_attribute,
                _: *mut bindings::module_kobject,
                buf: *mut c_char,
            ) -> isize {
                // SAFETY: sysfs passes its PAGE_SIZE show buffer.
                unsafe { emit(buf, format_args!("{}", $show)) }
            }
            /// # Safety
            /// Called by sysfs only, with the buffer of a store call.
            unsafe extern "C" fn store(
                _: *const bindings::module_attribute,
                _: *mut bindings::module_kobject,
                raw: *const c_char,
                count: usize,
            ) -> isize {
                // SAFETY: sysfs NUL-terminates the written bytes in a
                // buffer that outlives the call.
                let $buf = unsafe { CStr::from_char_ptr(raw) };
                ret(count, $store)
            }
            Attr::new($name, $mode, show, store)
        };
    };
}

knob_attr!(OFFLOADING, c"offloading", |buf|
    show: u8::from(control::CONTROL.lock().enabled),
    store: parse_bool(buf).and_then(control::set_offloading)
);

knob_attr!(NR_DMA_CHAN, c"nr_dma_chan", |buf|
    show: control::CONTROL.lock().nr_chan,
    store: parse_u32(buf).and_then(control::set_nr_chan)
);

knob_attr!(TIMEOUT_MS, c"timeout_ms", |buf|
    show: control::timeout_ms(),
    store: parse_u32(buf).and_then(control::set_timeout_ms)
);

knob_attr!(MIN_BATCH_BYTES, c"min_batch_bytes", |buf|
    show: control::min_batch_bytes(),
    store: parse_u64(buf).and_then(control::set_min_batch_bytes)
);

knob_attr!(MIN_FOLIO_BYTES, c"min_folio_bytes", |buf|
    show: control::min_folio_bytes(),
    store: parse_u64(buf).and_then(control::set_min_folio_bytes)
);

/// A counter file: reads the value, any write resets it to 0.
macro_rules! counter_attr {
    ($attr:ident, $name:literal, $counter:path) => {
        knob_attr!($attr, $name, |_buf|
            show: $counter.get(),
            store: {
                $counter.reset();
                Ok(())
            }
        );
    };
}

counter_attr!(FOLIOS_MIGRATED, c"folios_migrated", stats::FOLIOS_MIGRATED);
counter_attr!(FOLIOS_FAILURES, c"folios_failures", stats::FOLIOS_FAILURES);
counter_attr!(FOLIOS_DECLINED, c"folios_declined", stats::FOLIOS_DECLINED);
counter_attr!(BYTES_MIGRATED, c"bytes_migrated", stats::BYTES_MIGRATED);
counter_attr!(BATCHES, c"batches", stats::BATCHES);
counter_attr!(SETUP_NS, c"setup_ns", stats::SETUP_NS);
counter_attr!(WAIT_NS, c"wait_ns", stats::WAIT_NS);
counter_attr!(TEARDOWN_NS, c"teardown_ns", stats::TEARDOWN_NS);
counter_attr!(DESCRIPTORS, c"descriptors", stats::DESCRIPTORS);
counter_attr!(POOL_WAITS, c"pool_waits", stats::POOL_WAITS);
counter_attr!(UNEVEN_MAPS, c"uneven_maps", stats::UNEVEN_MAPS);
counter_attr!(MERGED_MAPS, c"merged_maps", stats::MERGED_MAPS);
counter_attr!(BUSY_DECLINES, c"busy_declines", stats::BUSY_DECLINES);
counter_attr!(ABORTED, c"aborted", stats::ABORTED);
counter_attr!(NOWAIT_DECLINES, c"nowait_declines", stats::NOWAIT_DECLINES);
counter_attr!(WAITED_OUT, c"waited_out", stats::WAITED_OUT);

/// The held channels, space separated (read-only: writes fail EPERM).
///
/// # Safety
/// Called by sysfs only, with the buffer of a show call.
unsafe extern "C" fn channels_show(
    _: *const bindings::module_attribute,
    _: *mut bindings::module_kobject,
    buf: *mut c_char,
) -> isize {
    struct Names<'a>(Option<&'a crate::channels::ChannelSet>);
    impl core::fmt::Display for Names<'_> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            for (i, c) in self.0.into_iter().flat_map(|s| s.iter()).enumerate() {
                let sep = if i == 0 { "" } else { " " };
                write!(f, "{}{}", sep, c.name().to_str().unwrap_or("?"))?;
            }
            Ok(())
        }
    }
    let set = control::channels();
    // SAFETY: sysfs passes its PAGE_SIZE show buffer.
    unsafe { emit(buf, format_args!("{}", Names(set.as_deref()))) }
}

/// # Safety
/// Called by sysfs only (the buffer is not read).
unsafe extern "C" fn channels_store(
    _: *const bindings::module_attribute,
    _: *mut bindings::module_kobject,
    _: *const c_char,
    _: usize,
) -> isize {
    EPERM.to_errno() as isize
}

static CHANNELS: Attr = Attr::new(c"channels", 0o444, channels_show, channels_store);

knob_attr!(INTERFACE, c"interface", 0o444, |_buf|
    show: reasons::INTERFACE,
    store: Err(EPERM)
);

knob_attr!(REASONS_AVAILABLE, c"reasons_available", 0o444, |_buf|
    show: reasons::Names(reasons::available()),
    store: Err(EPERM)
);

knob_attr!(REASON_MASK, c"reason_mask", |buf|
    show: reasons::Names(reasons::mask()),
    store: reasons::set_mask(buf)
);

#[repr(transparent)]
struct AttrList<const N: usize>([*mut bindings::attribute; N]);
// SAFETY: read-only after construction; sysfs only reads it.
unsafe impl<const N: usize> Sync for AttrList<N> {}

static ATTRS: AttrList<14> = AttrList([
    OFFLOADING.attr(),
    NR_DMA_CHAN.attr(),
    TIMEOUT_MS.attr(),
    MIN_BATCH_BYTES.attr(),
    MIN_FOLIO_BYTES.attr(),
    FOLIOS_MIGRATED.attr(),
    FOLIOS_FAILURES.attr(),
    FOLIOS_DECLINED.attr(),
    BYTES_MIGRATED.attr(),
    CHANNELS.attr(),
    INTERFACE.attr(),
    REASONS_AVAILABLE.attr(),
    REASON_MASK.attr(),
    ptr::null_mut(),
]);

#[repr(transparent)]
struct Group(UnsafeCell<bindings::attribute_group>);
// SAFETY: as for `Attr`.
unsafe impl Sync for Group {}

/// Where a batch's time goes, under /sys/module/dcbm/timing/.
static TIMING_ATTRS: AttrList<5> = AttrList([
    BATCHES.attr(),
    SETUP_NS.attr(),
    WAIT_NS.attr(),
    TEARDOWN_NS.attr(),
    ptr::null_mut(),
]);

const fn group<const N: usize>(name: Option<&'static CStr>, attrs: &'static AttrList<N>) -> Group {
    Group(UnsafeCell::new(bindings::attribute_group {
        name: match name {
            #[allow(clippy::disallowed_methods)] // as in `Attr::new`
            Some(n) => n.as_ptr().cast(),
            None => ptr::null(),
        },
        __bindgen_anon_2: bindings::attribute_group__bindgen_ty_2 {
            attrs: ptr::addr_of!(attrs.0).cast_mut().cast(),
        },
        // SAFETY: the other fields are optional and zero when unused.
        ..unsafe { core::mem::zeroed() }
    }))
}

/// How batches met the engine, under /sys/module/dcbm/engine/.
static ENGINE_ATTRS: AttrList<9> = AttrList([
    DESCRIPTORS.attr(),
    POOL_WAITS.attr(),
    UNEVEN_MAPS.attr(),
    MERGED_MAPS.attr(),
    BUSY_DECLINES.attr(),
    ABORTED.attr(),
    WAITED_OUT.attr(),
    NOWAIT_DECLINES.attr(),
    ptr::null_mut(),
]);

static GROUP: Group = group(None, &ATTRS);
static TIMING: Group = group(Some(c"timing"), &TIMING_ATTRS);
static ENGINE: Group = group(Some(c"engine"), &ENGINE_ATTRS);
static GROUPS: [&Group; 3] = [&GROUP, &TIMING, &ENGINE];

/// The attribute files, present from creation until drop.
pub(crate) struct Files {
    kobj: *mut bindings::kobject,
}

// SAFETY: the module kobject lives as long as the module.
unsafe impl Send for Files {}
// SAFETY: as above; `Files` has no interior state.
unsafe impl Sync for Files {}

impl Files {
    pub(crate) fn create(module: &'static ThisModule) -> Result<Self> {
        // SAFETY: `module` is this module, whose kobject is registered
        // before init runs and removed after exit.
        let kobj = unsafe { ptr::addr_of_mut!((*module.as_ptr()).mkobj.kobj) };
        for (i, g) in GROUPS.iter().enumerate() {
            // SAFETY: `kobj` is valid; the group is static.
            let rc = unsafe { bindings::sysfs_create_group(kobj, g.0.get()) };
            if rc != 0 {
                for g in &GROUPS[..i] {
                    // SAFETY: created just above.
                    unsafe { bindings::sysfs_remove_group(kobj, g.0.get()) };
                }
                return Err(Error::from_errno(rc));
            }
        }
        Ok(Self { kobj })
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        for g in GROUPS.iter().rev() {
            // SAFETY: created in `create`; waits for running show/store.
            unsafe { bindings::sysfs_remove_group(self.kobj, g.0.get()) };
        }
    }
}
