// SPDX-License-Identifier: GPL-2.0

//! The sysfs files under /sys/module/dcbm/ (the v5 driver's layout):
//! module attributes over the knobs of knobs.rs.
//!
//! The files live on the module's kobject, whose sysfs operations call
//! each file as a `struct module_attribute` (`module_attr_show()`), so they
//! are module attributes with exactly the callback types bindgen gives for
//! it: a kCFI kernel checks the type of every indirect call. (The C
//! reference driver used `kobj_attribute`s there, which only work while
//! the callee ignores its first two arguments.) Every file has the same
//! two callbacks, which find their knob by the attribute's name.

use crate::knobs;
use core::cell::UnsafeCell;
use core::ptr;
use kernel::bindings;
use kernel::ffi::c_char;
use kernel::page::PAGE_SIZE;
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
///
/// # Invariants
/// `attr.name` is a `'static` NUL-terminated string naming a knob.
#[repr(transparent)]
struct Attr(UnsafeCell<bindings::module_attribute>);

// SAFETY: sysfs only reads the attribute after registration; nothing in
// this module writes it.
unsafe impl Sync for Attr {}

impl Attr {
    const fn new(name: &'static CStr, mode: u16) -> Self {
        // INVARIANT: `name` is static; `Files::create` checks it names a knob.
        Self(UnsafeCell::new(bindings::module_attribute {
            attr: bindings::attribute {
                // `as_char_ptr()` is not const; the cast is what it does.
                #[allow(clippy::disallowed_methods)]
                name: name.as_ptr().cast(),
                mode,
                // SAFETY: the remaining (lockdep) fields are zero when unused.
                ..unsafe { core::mem::zeroed() }
            },
            show: Some(show as Show),
            store: Some(store as Store),
            setup: None,
            test: None,
            free: None,
        }))
    }

    const fn attr(&'static self) -> *mut bindings::attribute {
        // SAFETY: a projection of a static, no reference is created.
        unsafe { ptr::addr_of_mut!((*self.0.get()).attr) }
    }

    fn name(&self) -> &'static CStr {
        // SAFETY: the type invariant.
        unsafe { CStr::from_char_ptr((*self.0.get()).attr.name) }
    }
}

/// The name of the file sysfs calls us for.
///
/// # Safety
/// `attr` is one of this module's [`Attr`]s.
unsafe fn name_of(attr: *const bindings::module_attribute) -> &'static CStr {
    // SAFETY: `Attr` is a transparent wrapper of the attribute.
    unsafe { (*attr.cast::<Attr>()).name() }
}

/// # Safety
/// Called by sysfs only, for one of our attributes, with its PAGE_SIZE
/// show buffer.
unsafe extern "C" fn show(
    attr: *const bindings::module_attribute,
    _: *mut bindings::module_kobject,
    buf: *mut c_char,
) -> isize {
    // SAFETY: per the contract.
    let (name, page) = unsafe {
        (
            name_of(attr),
            core::slice::from_raw_parts_mut(buf.cast::<u8>(), PAGE_SIZE),
        )
    };
    match knobs::show(name, page) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
/// Called by sysfs only, for one of our attributes, with the written
/// bytes NUL-terminated in a buffer that outlives the call.
unsafe extern "C" fn store(
    attr: *const bindings::module_attribute,
    _: *mut bindings::module_kobject,
    raw: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: per the contract.
    let (name, buf) = unsafe { (name_of(attr), CStr::from_char_ptr(raw)) };
    match knobs::store(name, buf) {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

macro_rules! attrs {
    ($($id:ident = $name:literal $(, $mode:literal)?;)*) => {
        $(static $id: Attr = Attr::new($name, attrs!(@mode $($mode)?));)*
    };
    (@mode) => { 0o644 };
    (@mode $mode:literal) => { $mode };
}

attrs! {
    OFFLOADING = c"offloading";
    NR_DMA_CHAN = c"nr_dma_chan";
    TIMEOUT_MS = c"timeout_ms";
    MIN_BATCH_BYTES = c"min_batch_bytes";
    MIN_FOLIO_BYTES = c"min_folio_bytes";
    MIN_TIMEOUT_MS = c"min_timeout_ms";
    HEALTH_STRIKES = c"health_strikes";
    VERIFY = c"verify";
    VERIFIED_BATCHES = c"verified_batches";
    VERIFY_MISMATCHES = c"verify_mismatches";
    FOLIOS_MIGRATED = c"folios_migrated";
    FOLIOS_FAILURES = c"folios_failures";
    FOLIOS_DECLINED = c"folios_declined";
    BYTES_MIGRATED = c"bytes_migrated";
    CHANNELS = c"channels", 0o444;
    INTERFACE = c"interface", 0o444;
    CALLER_RULE = c"caller_rule", 0o444;
    REASONS_AVAILABLE = c"reasons_available", 0o444;
    REASON_MASK = c"reason_mask";
    BATCHES = c"batches";
    SETUP_NS = c"setup_ns";
    WAIT_NS = c"wait_ns";
    TEARDOWN_NS = c"teardown_ns";
    SUBMIT_WAIT_NS = c"submit_wait_ns";
    DESCRIPTORS = c"descriptors";
    POOL_WAITS = c"pool_waits";
    UNEVEN_MAPS = c"uneven_maps";
    MERGED_MAPS = c"merged_maps";
    BUSY_DECLINES = c"busy_declines";
    ABORTED = c"aborted";
    NOWAIT_DECLINES = c"nowait_declines";
    WAITED_OUT = c"waited_out";
    NOWAIT_BATCHES = c"nowait_batches";
    NOWAIT_MAX_US = c"nowait_max_us";
    HEALTH = c"health", 0o444;
    PAUSED = c"paused", 0o444;
    CHANNELS_OUT = c"channels_out";
    HEALTH_DECLINES = c"health_declines";
    PROBES = c"probes";
    PROBE_FAILURES = c"probe_failures";
}

#[repr(transparent)]
struct AttrList<const N: usize>([*mut bindings::attribute; N]);
// SAFETY: read-only after construction; sysfs only reads it.
unsafe impl<const N: usize> Sync for AttrList<N> {}

static ATTRS: AttrList<18> = AttrList([
    OFFLOADING.attr(),
    NR_DMA_CHAN.attr(),
    TIMEOUT_MS.attr(),
    MIN_BATCH_BYTES.attr(),
    MIN_FOLIO_BYTES.attr(),
    MIN_TIMEOUT_MS.attr(),
    HEALTH_STRIKES.attr(),
    VERIFY.attr(),
    FOLIOS_MIGRATED.attr(),
    FOLIOS_FAILURES.attr(),
    FOLIOS_DECLINED.attr(),
    BYTES_MIGRATED.attr(),
    CHANNELS.attr(),
    INTERFACE.attr(),
    CALLER_RULE.attr(),
    REASONS_AVAILABLE.attr(),
    REASON_MASK.attr(),
    ptr::null_mut(),
]);

#[repr(transparent)]
struct Group(UnsafeCell<bindings::attribute_group>);
// SAFETY: as for `Attr`.
unsafe impl Sync for Group {}

/// Where a batch's time goes, under /sys/module/dcbm/timing/.
static TIMING_ATTRS: AttrList<6> = AttrList([
    BATCHES.attr(),
    SETUP_NS.attr(),
    WAIT_NS.attr(),
    TEARDOWN_NS.attr(),
    SUBMIT_WAIT_NS.attr(),
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
static ENGINE_ATTRS: AttrList<19> = AttrList([
    DESCRIPTORS.attr(),
    POOL_WAITS.attr(),
    UNEVEN_MAPS.attr(),
    MERGED_MAPS.attr(),
    BUSY_DECLINES.attr(),
    ABORTED.attr(),
    WAITED_OUT.attr(),
    NOWAIT_DECLINES.attr(),
    NOWAIT_BATCHES.attr(),
    NOWAIT_MAX_US.attr(),
    HEALTH.attr(),
    PAUSED.attr(),
    CHANNELS_OUT.attr(),
    HEALTH_DECLINES.attr(),
    PROBES.attr(),
    PROBE_FAILURES.attr(),
    VERIFIED_BATCHES.attr(),
    VERIFY_MISMATCHES.attr(),
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
        // A file whose name is not a knob would fail every access.
        for list in [&ATTRS.0[..], &TIMING_ATTRS.0[..], &ENGINE_ATTRS.0[..]] {
            for &a in list.iter().take_while(|a| !a.is_null()) {
                // SAFETY: `a` is the `attr` of one of our static `Attr`s.
                let name = unsafe { CStr::from_char_ptr((*a).name) };
                if !knobs::exists(name) {
                    pr_err!("no knob for file {:?}\n", name);
                    return Err(EINVAL);
                }
            }
        }
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
