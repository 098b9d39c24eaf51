// SPDX-License-Identifier: GPL-2.0

//! DMA memcpy channels, acquired when offloading is enabled and held until
//! it is disabled. A batch in flight holds its own reference to the set it
//! started with, so resizing or disabling never pulls a channel from under
//! it: the channel is released when its last user drops it.

use crate::ffi::{self, DmaChan};
use core::ptr::NonNull;
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;

/// One channel, released on drop.
pub(crate) struct Chan {
    ptr: NonNull<DmaChan>,
    /// A public channel is shared with other clients through
    /// `dmaengine_get()`, which this `Chan` holds a reference to.
    public: bool,
}

// SAFETY: a `dma_chan` may be used from any thread; dmaengine serialises
// access internally.
unsafe impl Send for Chan {}
// SAFETY: as above, all operations on a channel are thread-safe.
unsafe impl Sync for Chan {}

impl Chan {
    /// Requests a private memcpy channel (providers with DMA_PRIVATE, and
    /// public providers that no public client is using).
    fn request_private() -> Option<Self> {
        // SAFETY: no preconditions; returns a channel or an ERR_PTR.
        let ptr = unsafe { ffi::dcbm_request_memcpy_chan() };
        // SAFETY: `ptr` came from the call above.
        if ptr.is_null() || unsafe { bindings::IS_ERR(ptr.cast()) } {
            return None;
        }
        Some(Self {
            ptr: NonNull::new(ptr)?,
            public: false,
        })
    }

    /// Takes a channel of a public provider that other clients already
    /// hold (the C driver's TODO): `dmaengine_get()` keeps it available.
    fn find_public() -> Option<Self> {
        // SAFETY: balanced by `dmaengine_put()` below or in `drop`.
        unsafe { ffi::dmaengine_get() };
        // SAFETY: called with a `dmaengine_get()` reference held.
        match NonNull::new(unsafe { ffi::dcbm_find_public_memcpy_chan() }) {
            Some(ptr) => Some(Self { ptr, public: true }),
            None => {
                // SAFETY: balances the `dmaengine_get()` above.
                unsafe { ffi::dmaengine_put() };
                None
            }
        }
    }

    pub(crate) fn as_ptr(&self) -> *mut DmaChan {
        self.ptr.as_ptr()
    }

    /// The device DMA addresses must be mapped on.
    pub(crate) fn device(&self) -> *mut bindings::device {
        // SAFETY: `self.ptr` is a channel we hold.
        unsafe { ffi::dcbm_chan_device(self.as_ptr()) }
    }

    pub(crate) fn name(&self) -> &CStr {
        // SAFETY: the channel's name lives as long as the channel, which
        // outlives the returned borrow of `self`.
        unsafe { CStr::from_char_ptr(ffi::dcbm_chan_name(self.as_ptr())) }
    }

    pub(crate) fn issue_pending(&self) {
        // SAFETY: `self.ptr` is a channel we hold.
        unsafe { ffi::dcbm_issue_pending(self.as_ptr()) }
    }

    /// Aborts every descriptor of the channel and waits until none of
    /// their callbacks runs any more.
    pub(crate) fn terminate_sync(&self) {
        // SAFETY: `self.ptr` is a channel we hold; we are in process
        // context (offload_copy may sleep).
        unsafe { ffi::dcbm_terminate_sync(self.as_ptr()) }
    }
}

impl Drop for Chan {
    fn drop(&mut self) {
        if self.public {
            // SAFETY: balances the `dmaengine_get()` of `find_public`.
            unsafe { ffi::dmaengine_put() };
        } else {
            // SAFETY: we own this private channel and nothing uses it any
            // more: every batch holds an `Arc` to the `Chan` it uses.
            unsafe { ffi::dma_release_channel(self.as_ptr()) };
        }
    }
}

/// The channels a batch may spread over, grouped by the device their DMA
/// is mapped on (grouped once here, not per batch).
pub(crate) struct ChannelSet {
    by_device: KVec<KVec<Arc<Chan>>>,
}

impl ChannelSet {
    /// Acquires up to `want` channels, keeping those of `prev` so that a
    /// resize neither drops nor re-requests a channel it keeps. Fails with
    /// ENODEV when no memcpy channel is available at all.
    pub(crate) fn acquire(want: usize, prev: Option<&ChannelSet>) -> Result<Arc<Self>> {
        let mut chans = KVec::with_capacity(want, GFP_KERNEL)?;
        let mut public = false;
        if let Some(prev) = prev {
            for c in prev.arcs().take(want) {
                public |= c.public;
                chans.push(c.clone(), GFP_KERNEL)?;
            }
        }
        // A public channel is shared per CPU by dmaengine: there is one.
        while !public && chans.len() < want {
            match Chan::request_private() {
                Some(c) => chans.push(Arc::new(c, GFP_KERNEL)?, GFP_KERNEL)?,
                None => break,
            }
        }
        if chans.is_empty() {
            let c = Chan::find_public().ok_or(ENODEV)?;
            chans.push(Arc::new(c, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let mut by_device: KVec<KVec<Arc<Chan>>> = KVec::new();
        for c in chans.drain_all() {
            match by_device.iter_mut().find(|g| g[0].device() == c.device()) {
                Some(g) => g.push(c, GFP_KERNEL)?,
                None => {
                    let mut g = KVec::new();
                    g.push(c, GFP_KERNEL)?;
                    by_device.push(g, GFP_KERNEL)?;
                }
            }
        }
        Ok(Arc::new(Self { by_device }, GFP_KERNEL)?)
    }

    fn arcs(&self) -> impl Iterator<Item = &Arc<Chan>> {
        self.by_device.iter().flat_map(|g| g.iter())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Chan> {
        self.arcs().map(|c| &**c)
    }

    /// The channels of each engine device; none is empty.
    pub(crate) fn by_device(&self) -> &[KVec<Arc<Chan>>] {
        &self.by_device
    }
}
