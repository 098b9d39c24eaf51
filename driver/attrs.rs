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
//! two callbacks, which find their knob by the attribute's name. The
//! files are made at compile time from the knob tables (knobs.rs), one
//! directory per table.

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
/// `attr.name` is a `'static` NUL-terminated string naming a knob (the
/// files are made from the knob tables).
#[repr(transparent)]
struct Attr(UnsafeCell<bindings::module_attribute>);

// SAFETY: sysfs only reads the attribute after registration; nothing in
// this module writes it.
unsafe impl Sync for Attr {}

impl Attr {
    const fn new(name: &'static CStr, mode: u16) -> Self {
        // INVARIANT: `name` is static; `files` gives a knob's.
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

/// A NULL-terminated list of attributes, as sysfs takes them.
#[repr(transparent)]
struct AttrList<const N: usize>([*mut bindings::attribute; N]);
// SAFETY: read-only after construction; sysfs only reads it.
unsafe impl<const N: usize> Sync for AttrList<N> {}

/// A file per knob of `table`, in its order.
const fn files<const N: usize>(table: &'static [knobs::Knob; N]) -> [Attr; N] {
    let mut files = [const { Attr::new(c"", 0) }; N];
    let mut i = 0;
    while i < N {
        files[i] = Attr::new(table[i].name, table[i].mode());
        i += 1;
    }
    files
}

/// The list of `files` (`M` is one more than `N`, for the NULL).
const fn list<const N: usize, const M: usize>(files: &'static [Attr; N]) -> AttrList<M> {
    let mut list = [ptr::null_mut(); M];
    let mut i = 0;
    while i < N {
        list[i] = files[i].attr();
        i += 1;
    }
    AttrList(list)
}

static TOP_FILES: [Attr; knobs::TOP_LEN] = files(&knobs::TOP);
static TOP_LIST: AttrList<{ knobs::TOP_LEN + 1 }> = list(&TOP_FILES);
static TIMING_FILES: [Attr; knobs::TIMING_LEN] = files(&knobs::TIMING);
static TIMING_LIST: AttrList<{ knobs::TIMING_LEN + 1 }> = list(&TIMING_FILES);
static ENGINE_FILES: [Attr; knobs::ENGINE_LEN] = files(&knobs::ENGINE);
static ENGINE_LIST: AttrList<{ knobs::ENGINE_LEN + 1 }> = list(&ENGINE_FILES);
static REASONS_FILES: [Attr; knobs::REASONS_LEN] = files(&knobs::REASONS);
static REASONS_LIST: AttrList<{ knobs::REASONS_LEN + 1 }> = list(&REASONS_FILES);

#[repr(transparent)]
struct Group(UnsafeCell<bindings::attribute_group>);
// SAFETY: as for `Attr`.
unsafe impl Sync for Group {}

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

static TOP: Group = group(None, &TOP_LIST);
static TIMING: Group = group(Some(c"timing"), &TIMING_LIST);
static ENGINE: Group = group(Some(c"engine"), &ENGINE_LIST);
static REASONS: Group = group(Some(c"reasons"), &REASONS_LIST);
static GROUPS: [&Group; 4] = [&TOP, &TIMING, &ENGINE, &REASONS];

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
