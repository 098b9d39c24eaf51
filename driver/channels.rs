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
//!
//! Only channels in the pool are leased (health.rs): a channel in trouble
//! is taken out of it by the batch that met the trouble, with the rest of
//! its device when the trouble repeats there, until a probe brings it
//! back (prober.rs).
//!
//! A held channel whose provider goes away (unbind, PCI removal, an idxd
//! work queue disabled) is let go before the provider frees it
//! (removal.rs): it is leased for good, so nothing uses it again, and
//! released; its name and device are kept here, so that what still holds
//! the `Chan` never reads the freed channel.

use crate::ffi::{self, DmaChan};
use crate::health::{Cause, Health, Pace};
use crate::prober;
use crate::providers::{self, Behaviour};
use crate::segments::{lanes_for, MAX_LANES};
use crate::stats;
use crate::workspace::Workspace;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use kernel::bindings;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::sync::Arc;

/// One channel, released on drop or when its provider goes away.
///
/// # Invariants
/// While `held` is true, `ptr` is a channel this `Chan` holds: requested
/// with `dma_request_chan_by_mask()` (released by [`Chan::release`]), or,
/// when `public`, found with `dma_find_channel()` under a
/// `dmaengine_get()` reference that this `Chan` owns (put there). `held`
/// turns false only in [`Chan::release`], and only while the caller holds
/// the lease for good ([`Chan::retire`]) or owns the last reference
/// (drop): `ptr` is dereferenced only by a lease holder or while `held`.
/// `name` and `dev` are copies taken while it was held.
/// `workspace` is null or a `KBox<Workspace>` leaked to it, which it owns.
pub(crate) struct Chan {
    ptr: NonNull<DmaChan>,
    held: AtomicBool,
    /// A public channel is shared with other clients through
    /// `dmaengine_get()`, which this `Chan` holds a reference to.
    public: bool,
    /// Leased by a batch (see [`Lease`]); for good once retired.
    leased: AtomicBool,
    /// Its provider's removal is watched (removal.rs): a devres action
    /// on the channel's device holds a reference to this `Chan`.
    pub(crate) watched: AtomicBool,
    /// The channel's name (`dma0chan3`), NUL-terminated.
    name: [u8; NAME_LEN],
    /// The device DMA addresses are mapped on; compared, and handed to
    /// the DMA API by a lease holder only.
    dev: *mut bindings::device,
    /// The longest copy to ask of the engine: no limit until it refuses
    /// one while idle (idxd's `max_xfer_bytes`, which dmaengine does not
    /// report). Not the mapping limit, `dma_get_max_seg_size()`: the PCI
    /// core sets 64 KiB for every device and ptdma, idxd and ioat keep it,
    /// which would cut a THP into 32 descriptors.
    max_len: AtomicUsize,
    /// The length the last copy that had to be cut was accepted at: a
    /// limit is learned only when the next cut copy lands on the same
    /// length (ptdma's GFP_NOWAIT descriptor allocation can refuse while
    /// idle for no lasting reason).
    cut_to: AtomicUsize,
    /// Batches that went through whole since the limit was last cut; after
    /// [`RECOVER_AFTER`] the limit doubles again.
    since_cut: AtomicU32,
    /// The provider reports a residue (else only the result counts).
    reports_residue: bool,
    /// What its provider's driver is known to do (providers.rs).
    behaviour: Behaviour,
    health: Health,
    /// The batch workspace of the channel (workspace.rs): taken by the
    /// holder of the channel's lease, given back before the lease ends.
    workspace: AtomicPtr<Workspace>,
}

/// Room for a channel's name: "dma" + two numbers and "chan".
const NAME_LEN: usize = 32;

/// No copy limit known.
const NO_LIMIT: usize = usize::MAX / PAGE_SIZE * PAGE_SIZE;
/// Whole batches after which a learned copy limit is tried doubled: a
/// limit learned from refusals that were not the engine's heals.
const RECOVER_AFTER: u32 = 64;

// SAFETY: a `Chan` owns its channel reference, which any thread may drop;
// `dev` is only compared or handed to the DMA API, from any thread.
unsafe impl Send for Chan {}
// SAFETY: what two threads may do to one `Chan` at once is safe: read its
// atomics, and call the dmaengine operations that providers lock inside
// (`issue_pending`, terminate and synchronize, the getters). Preparing and
// submitting descriptors, which a provider serialises only per channel, is
// done only by the holder of the channel's lease (`leased`: one batch or
// one probe at a time; `Lease`, `ChannelSet::lease_one`). So is the use of
// the workspace, which moves between the `Chan` and that holder by an
// atomic swap; idle, it holds no channel, and any thread may free it.
unsafe impl Sync for Chan {}

impl Chan {
    /// Requests a private memcpy channel (providers with DMA_PRIVATE, and
    /// public providers that no public client is using).
    fn request_private() -> Option<Self> {
        // SAFETY: no preconditions; returns a channel or an ERR_PTR.
        let ptr = kernel::error::from_err_ptr(unsafe { ffi::dcbm_request_memcpy_chan() }).ok()?;
        // SAFETY: a private channel we now hold, handed over.
        // INVARIANT: released on drop.
        Some(unsafe { Self::new(NonNull::new(ptr)?, false) })
    }

    /// # Safety
    /// `ptr` is a channel the caller holds and hands over: requested with
    /// `dma_request_chan_by_mask()` (`public` false), or found under a
    /// `dmaengine_get()` reference that moves into the result (`public`).
    unsafe fn new(ptr: NonNull<DmaChan>, public: bool) -> Self {
        let mut name = [0u8; NAME_LEN];
        // SAFETY: `ptr` is a channel we hold; its name is a C string that
        // lives as long as it.
        let full = unsafe { CStr::from_char_ptr(ffi::dcbm_chan_name(ptr.as_ptr())) }.to_bytes();
        let n = full.len().min(NAME_LEN - 1);
        name[..n].copy_from_slice(&full[..n]);
        Self {
            ptr,
            held: AtomicBool::new(true),
            public,
            leased: AtomicBool::new(false),
            watched: AtomicBool::new(false),
            name,
            // SAFETY: `ptr` is a channel we hold.
            dev: unsafe { ffi::dcbm_chan_device(ptr.as_ptr()) },
            max_len: AtomicUsize::new(NO_LIMIT),
            cut_to: AtomicUsize::new(0),
            since_cut: AtomicU32::new(0),
            // SAFETY: `ptr` is a channel we hold (the function's contract).
            reports_residue: unsafe { ffi::dcbm_chan_reports_residue(ptr.as_ptr()) },
            // SAFETY: as above; the name is a static string of the driver.
            behaviour: providers::lookup(unsafe {
                CStr::from_char_ptr(ffi::dcbm_chan_driver(ptr.as_ptr())).to_bytes()
            }),
            health: Health::new(),
            workspace: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// A channel just acquired, with a workspace for the batches that
    /// will lease it: they allocate nothing (workspace.rs). Dropped
    /// (released) when there is no memory for it.
    fn equipped(c: Self) -> Result<Arc<Self>> {
        let c = Arc::new(c, GFP_KERNEL)?;
        c.give_workspace(Workspace::for_batches()?);
        Ok(c)
    }

    /// Takes the channel's workspace (for the holder of its lease).
    pub(crate) fn take_workspace(&self) -> Option<KBox<Workspace>> {
        let p = self.workspace.swap(core::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: a non-null pointer is a leaked `KBox` the `Chan` owned
        // (the type invariant), swapped out: ownership moves to the caller.
        (!p.is_null()).then(|| unsafe { KBox::from_raw(p) })
    }

    /// Gives the channel `ws` as its workspace (freeing one it had).
    pub(crate) fn give_workspace(&self, ws: KBox<Workspace>) {
        // INVARIANT: a leaked `KBox`, owned by the `Chan` from here.
        let old = self.workspace.swap(KBox::into_raw(ws), Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: a leaked `KBox` the `Chan` owned, swapped out.
            drop(unsafe { KBox::from_raw(old) });
        }
    }

    /// Takes a channel of a public provider that other clients already
    /// hold (the C driver's TODO): `dmaengine_get()` keeps it available.
    fn find_public() -> Option<Self> {
        // SAFETY: balanced by `dmaengine_put()` below or in `drop`.
        unsafe { ffi::dmaengine_get() };
        // SAFETY: called with a `dmaengine_get()` reference held.
        match NonNull::new(unsafe { ffi::dcbm_find_public_memcpy_chan() }) {
            // SAFETY: a public channel, found under the `dmaengine_get()`
            // reference above.
            // INVARIANT: the reference moves into `Self`.
            Some(ptr) => Some(unsafe { Self::new(ptr, true) }),
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

    /// The device DMA addresses must be mapped on (for a lease holder:
    /// see the type's invariants).
    pub(crate) fn device(&self) -> *mut bindings::device {
        self.dev
    }

    pub(crate) fn name(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.name).unwrap_or(c"?")
    }

    pub(crate) fn issue_pending(&self) {
        // SAFETY: `self.ptr` is a channel we hold.
        unsafe { ffi::dcbm_issue_pending(self.as_ptr()) }
    }

    /// Whether a descriptor submitted without an interrupt is still called
    /// back (providers.rs): then only the descriptors a batch waits on ask
    /// for one.
    pub(crate) fn late_callbacks(&self) -> bool {
        self.behaviour.late_callbacks
    }

    /// Whether other dmaengine clients use the channel too (a public one).
    pub(crate) fn shared(&self) -> bool {
        self.public
    }

    /// Reads the channel's status, which on such a provider runs the
    /// callbacks of the completed descriptors that had no interrupt.
    pub(crate) fn poll(&self) {
        // SAFETY: `self.ptr` is a channel we hold.
        unsafe { ffi::dcbm_poll(self.as_ptr()) }
    }

    /// Whether [`Chan::terminate_async`] may be used: a private channel
    /// (nobody else's descriptors on it) of a provider that has the hooks
    /// to abort and synchronize and whose abort is known to stop the copy
    /// (providers.rs). Public channels are never terminated: other
    /// clients' transactions (async_tx, raid) share them.
    pub(crate) fn can_terminate(&self) -> bool {
        self.behaviour.abort_stops
            && !self.public
            // SAFETY: `self.ptr` is a channel we hold.
            && unsafe { ffi::dcbm_chan_can_terminate(self.as_ptr()) }
    }

    /// Whether a failed copy on this channel completes with an error.
    pub(crate) fn reports_errors(&self) -> bool {
        self.behaviour.reports_errors
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

    /// Records that a copy refused twice while idle was accepted once cut
    /// to `len`; true when the cut copy before it landed there too (a
    /// lasting limit).
    pub(crate) fn note_cut(&self, len: usize) -> bool {
        self.cut_to.swap(len, Ordering::Relaxed) == len
    }

    /// A batch went through whole on this channel: after [`RECOVER_AFTER`]
    /// of them, a learned limit is tried doubled.
    pub(crate) fn note_whole_batch(&self) {
        let cap = self.max_len();
        if cap == NO_LIMIT || self.since_cut.fetch_add(1, Ordering::Relaxed) + 1 < RECOVER_AFTER {
            return;
        }
        self.since_cut.store(0, Ordering::Relaxed);
        self.cut_to.store(0, Ordering::Relaxed);
        let up = if cap > NO_LIMIT / 2 {
            NO_LIMIT
        } else {
            cap * 2
        };
        let _ = self
            .max_len
            .compare_exchange(cap, up, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Records that the engine keeps refusing longer copies and accepted
    /// `len`.
    pub(crate) fn learn_max_len(&self, len: usize) {
        self.since_cut.store(0, Ordering::Relaxed);
        if len < self.max_len.fetch_min(len, Ordering::Relaxed) {
            pr_info!(
                "{}: the engine refuses longer copies; cutting them to {} bytes\n",
                self.name().to_str().unwrap_or("?"),
                len
            );
        }
    }

    pub(crate) fn reports_residue(&self) -> bool {
        self.reports_residue
    }

    pub(crate) fn health(&self) -> &Health {
        &self.health
    }

    /// One line of the kernel log about this channel's health, rate
    /// limited (dcbm_shim.c): a flapping engine cannot flood the log.
    pub(crate) fn log_health(&self, what: &str) {
        // SAFETY: no preconditions.
        if unsafe { ffi::dcbm_health_log_ok() } {
            pr_warn!("{}: {}\n", self.name().to_str().unwrap_or("?"), what);
        }
    }

    fn try_lease(&self) -> bool {
        self.leased
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Leases the channel for good, waiting for the batch or probe that
    /// holds it to end, then releases it: nothing uses it any more. For
    /// a channel whose provider is going away (removal.rs).
    /// Both removal paths may retire one channel: the second returns once
    /// the first has released it, which counts it in `channels_removed`.
    pub(crate) fn retire(&self) {
        while !self.try_lease() {
            if !self.held() {
                return;
            }
            kernel::time::delay::fsleep(kernel::time::Delta::from_millis(1));
        }
        // SAFETY: we hold the lease for good, so nothing else uses the
        // channel any more.
        if unsafe { self.release() } {
            stats::CHANNELS_REMOVED.add(1);
        }
    }

    /// Whether the channel is still held (not retired).
    pub(crate) fn held(&self) -> bool {
        self.held.load(Ordering::Acquire)
    }

    /// Gives the channel back, once; true if this call did.
    ///
    /// # Safety
    /// Nothing uses the channel any more: the caller holds its lease for
    /// good, or owns the last reference to `self`.
    unsafe fn release(&self) -> bool {
        if !self.held.swap(false, Ordering::AcqRel) {
            return false;
        }
        if self.public {
            // SAFETY: balances the `dmaengine_get()` of `find_public`.
            unsafe { ffi::dmaengine_put() };
        } else {
            // SAFETY: we held this private channel (`held` was true) and
            // nothing uses it any more (the function's contract).
            unsafe { ffi::dma_release_channel(self.as_ptr()) };
        }
        true
    }
}

impl Drop for Chan {
    fn drop(&mut self) {
        drop(self.take_workspace());
        // SAFETY: the last reference: every batch, probe and watch holds
        // an `Arc` to the `Chan` it uses.
        unsafe { self.release() };
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
                Some(c) => chans.push(Chan::equipped(c)?, GFP_KERNEL)?,
                None => break,
            }
        }
        if chans.is_empty() {
            let c = Chan::find_public().ok_or(ENODEV)?;
            chans.push(Chan::equipped(c)?, GFP_KERNEL)?;
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

    pub(crate) fn arcs(&self) -> impl Iterator<Item = &Arc<Chan>> {
        self.by_device.iter().flat_map(|g| g.iter())
    }

    pub(crate) fn contains(&self, c: &Chan) -> bool {
        self.iter().any(|x| core::ptr::eq(x, c))
    }

    /// The set without `gone`; `None` when nothing would be left.
    pub(crate) fn without(&self, gone: &Chan) -> Result<Option<Arc<Self>>> {
        let mut by_device: KVec<KVec<Arc<Chan>>> = KVec::new();
        for g in self.by_device.iter() {
            let mut kept = KVec::new();
            for c in g.iter().filter(|c| !core::ptr::eq(&***c, gone)) {
                kept.push(c.clone(), GFP_KERNEL)?;
            }
            if !kept.is_empty() {
                by_device.push(kept, GFP_KERNEL)?;
            }
        }
        if by_device.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(Self { by_device }, GFP_KERNEL)?))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Chan> {
        self.arcs().map(|c| &**c)
    }

    /// Whether any channel is in the pool (offloading is not paused).
    pub(crate) fn any_in_pool(&self) -> bool {
        self.iter().any(|c| c.health.in_pool())
    }

    /// Counts a trouble a batch met on `chan`, and takes it out of the pool
    /// when that makes `health_strikes` in a row; when another channel of
    /// its device is out too (or it is the device's only one), the whole
    /// device is benched. Arms the prober.
    pub(crate) fn report(&self, chan: &Chan, cause: Cause) {
        if !chan.health.trouble(cause, crate::control::health_strikes()) {
            return;
        }
        stats::CHANNELS_OUT.add(1);
        chan.log_health(match cause {
            Cause::Timeout => "timed out: out of the pool until a probe passes",
            Cause::Mismatch => {
                "copied wrong bytes and said done: out of the pool until a probe passes"
            }
            _ => "engine error: out of the pool until a probe passes",
        });
        if let Some(group) = self
            .by_device
            .iter()
            .find(|g| g[0].device() == chan.device())
        {
            let out = group.iter().filter(|c| !c.health.in_pool()).count();
            if out >= 2 || group.len() == 1 {
                for c in group.iter() {
                    if c.health.take_out(Cause::Device) {
                        stats::CHANNELS_OUT.add(1);
                        c.log_health("device benched: out of the pool until a probe passes");
                    }
                }
            }
        }
        prober::schedule(crate::health::BACKOFF_MIN_MS);
    }

    /// Leases `c`, a channel of this set, alone (for a probe).
    pub(crate) fn lease_one(&self, c: &Arc<Chan>) -> Option<Lease> {
        if !c.try_lease() {
            return None;
        }
        let mut lease = Lease::empty();
        lease.add(c.clone());
        Some(lease)
    }

    /// Leases idle channels in the pool for a batch of `bytes`: at most
    /// half of the set (at least one), and no more than the batch has
    /// bytes for (`lanes_for`), grouped by device. `None` when every
    /// channel in the pool is leased. Allocates nothing.
    pub(crate) fn lease(&self, bytes: u64) -> Option<Lease> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let total = self.arcs().count();
        let cap = total.div_ceil(2).min(lanes_for(bytes)).clamp(1, MAX_LANES);
        // Start at a rotating channel, so that leases spread over all.
        let first = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut lease = Lease::empty();
        for k in 0..total {
            if lease.len == cap {
                break;
            }
            let Some(c) = self.arcs().nth((first + k) % total) else {
                break;
            };
            if c.health.in_pool() && c.try_lease() {
                lease.add(c.clone());
            }
        }
        (lease.len > 0).then_some(lease)
    }
}

/// Channels leased by one batch, released on drop. Held in place: a
/// no-wait call leases too, and allocates nothing.
///
/// # Invariants
/// `chans[..len]` are `Some`, the rest `None`; every channel in it has
/// `leased` set, by this lease; those of one device are next to each
/// other.
pub(crate) struct Lease {
    chans: [Option<Arc<Chan>>; MAX_LANES],
    len: usize,
}

/// The leased channels of one engine device (never empty).
pub(crate) struct Group<'a>(&'a [Option<Arc<Chan>>]);

impl Group<'_> {
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The device the group's channels map DMA addresses on.
    pub(crate) fn device(&self) -> *mut bindings::device {
        self.0
            .iter()
            .flatten()
            .next()
            .map_or(core::ptr::null_mut(), |c| c.device())
    }
}

impl Lease {
    fn empty() -> Self {
        Self {
            chans: [const { None }; MAX_LANES],
            len: 0,
        }
    }

    /// Adds a channel this batch has just leased (within `MAX_LANES`: the
    /// callers lease fewer), after the others of its device.
    fn add(&mut self, c: Arc<Chan>) {
        if self.len == MAX_LANES {
            c.leased.store(false, Ordering::Release);
            return;
        }
        let dev = c.device();
        let at = self.chans[..self.len]
            .iter()
            .rposition(|x| x.as_ref().is_some_and(|x| x.device() == dev))
            .map_or(self.len, |i| i + 1);
        // INVARIANT: the `None` at `len` moves to `at`, which takes the
        // channel, next to the others of its device.
        self.chans[at..=self.len].rotate_right(1);
        self.chans[at] = Some(c);
        self.len += 1;
    }

    /// The channel whose workspace the batch uses (workspace.rs).
    pub(crate) fn first(&self) -> Option<&Arc<Chan>> {
        self.iter().next()
    }

    /// Whether a leased channel's provider cannot report a failed copy.
    pub(crate) fn any_silent_errors(&self) -> bool {
        self.iter().any(|c| !c.reports_errors())
    }

    /// Whether every leased channel can be aborted.
    pub(crate) fn all_abortable(&self) -> bool {
        self.iter().all(|c| c.can_terminate())
    }

    /// The leased channels, those of one device next to each other.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Chan>> {
        self.chans[..self.len].iter().flatten()
    }

    /// What the batch can expect of the leased channels: the slowest
    /// measured rate times their number, the slowest time per descriptor
    /// (0 where one is not measured yet).
    pub(crate) fn pace(&self) -> Pace {
        let (mut n, mut rate, mut desc_ns, mut measured) = (0u64, u64::MAX, 0u64, true);
        for c in self.iter() {
            let p = c.health.pace();
            n += 1;
            measured &= p.rate != 0 && p.desc_ns != 0;
            rate = rate.min(p.rate);
            desc_ns = desc_ns.max(p.desc_ns);
        }
        if !measured || n == 0 {
            return Pace::default();
        }
        Pace {
            rate: rate.saturating_mul(n),
            desc_ns,
        }
    }

    /// The leased channels of each engine device.
    pub(crate) fn by_device(&self) -> impl Iterator<Item = Group<'_>> {
        let dev = |c: &Option<Arc<Chan>>| c.as_ref().map(|c| c.device());
        self.chans[..self.len]
            .chunk_by(move |a, b| dev(a) == dev(b))
            .map(Group)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        for c in self.iter() {
            c.leased.store(false, Ordering::Release);
        }
    }
}
