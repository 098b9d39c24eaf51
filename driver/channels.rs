// SPDX-License-Identifier: GPL-2.0

//! DMA memcpy channels, acquired when offloading is enabled and held until
//! it is disabled. A batch in flight holds its own reference to the set it
//! started with, so resizing or disabling never pulls a channel from under
//! it: the channel is released when its last user drops it.
//!
//! A batch leases its channels: a leased channel carries the descriptors of
//! that one batch only, so a batch that must abort its descriptors
//! (terminate the channel) can never abort another batch's. A batch leases
//! at most half of the held channels (at least one), so a batch stuck on a
//! hung engine leaves channels for the others.

use crate::ffi::{self, DmaChan};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use kernel::alloc::Flags;
use kernel::bindings;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::sync::Arc;

/// One channel, released on drop.
///
/// # Invariants
/// `ptr` is a channel this `Chan` holds: requested with
/// `dma_request_chan_by_mask()` (released on drop), or, when `public`, found
/// with `dma_find_channel()` under a `dmaengine_get()` reference that this
/// `Chan` owns (put on drop).
pub(crate) struct Chan {
    ptr: NonNull<DmaChan>,
    /// A public channel is shared with other clients through
    /// `dmaengine_get()`, which this `Chan` holds a reference to.
    public: bool,
    /// Leased by a batch (see [`Lease`]).
    leased: AtomicBool,
    /// The longest copy the provider accepted; it shrinks when the engine
    /// refuses a longer one while idle (idxd's `max_xfer_bytes`, which
    /// dmaengine does not report).
    max_len: AtomicUsize,
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
        let ptr = kernel::error::from_err_ptr(unsafe { ffi::dcbm_request_memcpy_chan() }).ok()?;
        // INVARIANT: a channel we now hold, released on drop.
        Some(Self::new(NonNull::new(ptr)?, false))
    }

    fn new(ptr: NonNull<DmaChan>, public: bool) -> Self {
        // SAFETY: `ptr` is a channel we hold (see callers).
        let max_seg = unsafe { ffi::dcbm_max_seg_size(ffi::dcbm_chan_device(ptr.as_ptr())) };
        let page = PAGE_SIZE;
        Self {
            ptr,
            public,
            leased: AtomicBool::new(false),
            max_len: AtomicUsize::new((max_seg as usize / page).max(1) * page),
        }
    }

    /// Takes a channel of a public provider that other clients already
    /// hold (the C driver's TODO): `dmaengine_get()` keeps it available.
    fn find_public() -> Option<Self> {
        // SAFETY: balanced by `dmaengine_put()` below or in `drop`.
        unsafe { ffi::dmaengine_get() };
        // SAFETY: called with a `dmaengine_get()` reference held.
        match NonNull::new(unsafe { ffi::dcbm_find_public_memcpy_chan() }) {
            // INVARIANT: the `dmaengine_get()` reference moves into `Self`.
            Some(ptr) => Some(Self::new(ptr, true)),
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

    /// Whether [`Chan::terminate_async`] may be used: a private channel
    /// (nobody else's descriptors on it) of a provider that can abort and
    /// synchronize. Public channels are never terminated: other clients'
    /// transactions (async_tx, raid) share them.
    pub(crate) fn can_terminate(&self) -> bool {
        // SAFETY: `self.ptr` is a channel we hold.
        !self.public && unsafe { ffi::dcbm_chan_can_terminate(self.as_ptr()) }
    }

    /// Aborts every descriptor of the channel; after
    /// [`Chan::synchronize`] none of their callbacks runs any more. Only
    /// for a leased channel that [`Chan::can_terminate`].
    pub(crate) fn terminate_async(&self) -> Result {
        // SAFETY: `self.ptr` is a channel we hold.
        kernel::error::to_result(unsafe { ffi::dcbm_terminate_async(self.as_ptr()) })
    }

    /// Waits until no callback of the descriptors aborted by
    /// [`Chan::terminate_async`] runs any more.
    pub(crate) fn synchronize(&self) {
        // SAFETY: `self.ptr` is a channel we hold; we are in process
        // context (offload_copy may sleep).
        unsafe { ffi::dcbm_synchronize(self.as_ptr()) }
    }

    /// Whether the provider can copy `len` bytes between these addresses
    /// (its `copy_align`).
    pub(crate) fn copy_aligned(&self, dst: u64, src: u64, len: usize) -> bool {
        // SAFETY: `self.ptr` is a channel we hold.
        unsafe { ffi::dcbm_copy_aligned(self.as_ptr(), dst, src, len) }
    }

    /// The longest copy to ask of this channel.
    pub(crate) fn max_len(&self) -> usize {
        self.max_len.load(Ordering::Relaxed)
    }

    /// Records that the engine refused longer copies and accepted `len`.
    pub(crate) fn learn_max_len(&self, len: usize) {
        if len < self.max_len.fetch_min(len, Ordering::Relaxed) {
            pr_info!(
                "{}: the engine refuses longer copies; cutting them to {} bytes\n",
                self.name().to_str().unwrap_or("?"),
                len
            );
        }
    }

    fn try_lease(&self) -> bool {
        self.leased
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
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

    /// Leases idle channels for one batch: at most half of the set (at
    /// least one), grouped by device. `None` when every channel is leased.
    pub(crate) fn lease(&self, gfp: Flags) -> Result<Option<Lease>> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let total = self.arcs().count();
        let cap = total.div_ceil(2).max(1);
        // Start at a rotating channel, so that leases spread over all.
        let first = NEXT.fetch_add(1, Ordering::Relaxed);
        // Sized up front: a batch allocates each vector once.
        let mut lease = Lease {
            by_device: KVec::with_capacity(self.by_device.len(), gfp)?,
        };
        let mut taken = 0;
        for k in 0..total {
            if taken == cap {
                break;
            }
            let Some(c) = self.arcs().nth((first + k) % total) else {
                break;
            };
            if !c.try_lease() {
                continue;
            }
            if let Err(e) = lease.add(c.clone(), cap, gfp) {
                c.leased.store(false, Ordering::Release);
                return Err(e);
            }
            taken += 1;
        }
        Ok((taken > 0).then_some(lease))
    }
}

/// Channels leased by one batch, released on drop.
///
/// # Invariants
/// Every channel in `by_device` has `leased` set, by this lease; no group
/// is empty.
pub(crate) struct Lease {
    by_device: KVec<KVec<Arc<Chan>>>,
}

impl Lease {
    /// Adds a channel this batch has just leased, of at most `cap`.
    fn add(&mut self, c: Arc<Chan>, cap: usize, gfp: Flags) -> Result {
        let group = self
            .by_device
            .iter_mut()
            .find(|g| g[0].device() == c.device());
        match group {
            Some(g) => g.push(c, gfp)?,
            None => {
                let mut g = KVec::with_capacity(cap, gfp)?;
                g.push(c, gfp)?;
                // INVARIANT: the new group is not empty.
                self.by_device.push(g, gfp)?;
            }
        }
        Ok(())
    }

    /// Whether every leased channel can be aborted.
    pub(crate) fn all_abortable(&self) -> bool {
        self.by_device
            .iter()
            .flat_map(|g| g.iter())
            .all(|c| c.can_terminate())
    }

    /// The leased channels of each engine device; none is empty.
    pub(crate) fn by_device(&self) -> &[KVec<Arc<Chan>>] {
        &self.by_device
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        for c in self.by_device.iter().flat_map(|g| g.iter()) {
            c.leased.store(false, Ordering::Release);
        }
    }
}
