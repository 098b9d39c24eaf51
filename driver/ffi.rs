// SPDX-License-Identifier: GPL-2.0

//! C functions dcbm calls that `kernel::bindings` does not carry: the
//! dmaengine API (absent from the kernel's Rust bindings) and the static
//! inline helpers wrapped in `dcbm_shim.c`. Their declarations are generated
//! from `dcbm_shim.h` by `gen-ffi` (bindgen) into `ffi_generated.rs`; the
//! types they name are the kernel's bindings, except the two below. DMA
//! channels, descriptors and results stay opaque to Rust: only C code looks
//! inside them.

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

// Generated: bindgen's items are public, re-exported to the crate below.
// `struct device` (kernel bindings) has members bindgen renders as empty
// structs, which the FFI lint flags; it is only ever passed by pointer, as
// the kernel's own bindings pass it.
#[allow(unreachable_pub, improper_ctypes)]
#[path = "ffi_generated.rs"]
mod generated;

pub(crate) use generated::*;

/// `dcbm_submit_memcpy()`: the engine gave no descriptor.
pub(crate) const NO_DESCRIPTOR: kernel::ffi::c_int = DCBM_NO_DESCRIPTOR;
