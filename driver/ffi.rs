// SPDX-License-Identifier: GPL-2.0

//! C functions dcbm calls that `kernel::bindings` does not carry: the
//! dmaengine API (absent from the kernel's Rust bindings) and the static
//! inline helpers wrapped in `dcbm_shim.c`. DMA channels, descriptors and
//! results stay opaque to Rust: only C code looks inside them.

use kernel::bindings;
use kernel::dma::DmaAddress;
use kernel::ffi::{c_char, c_int, c_uint, c_ulong, c_void};

/// `struct dma_chan`, opaque.
#[repr(C)]
pub(crate) struct DmaChan {
    _private: [u8; 0],
}

/// `struct folio`, opaque (only its address and size are used).
#[repr(C)]
pub(crate) struct Folio {
    _private: [u8; 0],
}

/// `dcbm_submit_memcpy()`: the engine gave no descriptor
/// (`DCBM_NO_DESCRIPTOR` in dcbm_shim.h).
pub(crate) const NO_DESCRIPTOR: c_int = 1;

// `bindings::device` has zero-sized members bindgen cannot describe;
// it is only ever passed through by pointer.
#[allow(improper_ctypes)]
unsafe extern "C" {
    // dcbm_shim.c (prototypes in dcbm_shim.h)
    pub(crate) fn dcbm_interface_v6() -> bool;
    pub(crate) fn dcbm_migrator_register(reason_mask: c_ulong) -> c_int;
    pub(crate) fn dcbm_migrator_unregister();
    pub(crate) fn dcbm_reasons_available() -> c_ulong;
    pub(crate) fn dcbm_set_reason_mask(reason_mask: c_ulong) -> c_int;
    pub(crate) fn dcbm_reason_mask_parse(buf: *const c_char, maskp: *mut c_ulong) -> c_int;
    pub(crate) fn dcbm_mark_copied(dst: *mut Folio);
    pub(crate) fn dcbm_lru_folio(entry: *mut bindings::list_head) -> *mut Folio;
    pub(crate) fn dcbm_page_folio(page: *mut bindings::page) -> *mut Folio;
    pub(crate) fn dcbm_folio_size(folio: *mut Folio) -> usize;
    pub(crate) fn dcbm_sg_set_folio_part(
        sg: *mut bindings::scatterlist,
        folio: *mut Folio,
        len: usize,
        offset: usize,
    );
    pub(crate) fn dcbm_max_seg_size(dev: *mut bindings::device) -> c_uint;
    pub(crate) fn dcbm_request_memcpy_chan() -> *mut DmaChan;
    pub(crate) fn dcbm_find_public_memcpy_chan() -> *mut DmaChan;
    pub(crate) fn dcbm_chan_device(chan: *mut DmaChan) -> *mut bindings::device;
    pub(crate) fn dcbm_chan_driver(chan: *mut DmaChan) -> *const c_char;
    pub(crate) fn dcbm_chan_name(chan: *mut DmaChan) -> *const c_char;
    pub(crate) fn dcbm_submit_memcpy(
        chan: *mut DmaChan,
        dst: DmaAddress,
        src: DmaAddress,
        len: usize,
        param: *mut c_void,
    ) -> c_int;
    pub(crate) fn dcbm_issue_pending(chan: *mut DmaChan);
    pub(crate) fn dcbm_chan_can_terminate(chan: *mut DmaChan) -> bool;
    pub(crate) fn dcbm_chan_reports_residue(chan: *mut DmaChan) -> bool;
    pub(crate) fn dcbm_folio_same(a: *mut Folio, b: *mut Folio) -> bool;
    pub(crate) fn dcbm_terminate_async(chan: *mut DmaChan) -> c_int;
    pub(crate) fn dcbm_synchronize(chan: *mut DmaChan);
    pub(crate) fn dcbm_caller_rule_in_kernel() -> bool;
    pub(crate) fn dcbm_offload_nowait() -> bool;
    pub(crate) fn dcbm_health_log_ok() -> bool;
    pub(crate) fn dcbm_nowait_ms() -> c_uint;
    pub(crate) fn dcbm_nowait_gfp() -> bindings::gfp_t;
    pub(crate) fn dcbm_copy_aligned(
        chan: *mut DmaChan,
        dst: DmaAddress,
        src: DmaAddress,
        len: usize,
    ) -> bool;

    // drivers/dma/dmaengine.c
    pub(crate) fn dma_release_channel(chan: *mut DmaChan);
    pub(crate) fn dmaengine_get();
    pub(crate) fn dmaengine_put();
}
