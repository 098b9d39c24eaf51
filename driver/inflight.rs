// SPDX-License-Identifier: GPL-2.0

//! The descriptors of one batch in flight, and the rule that makes their
//! lifetime sound on every provider:
//!
//! **A batch's memory (this tracker, its mappings) is freed only once no
//! callback of its descriptors can run and no copy of them can write.**
//! That holds when every descriptor has called back, or when its channel
//! was terminated synchronously. [`Tracker`]'s drop waits for whatever is
//! still outstanding, without a time limit: on a provider that cannot
//! abort (no `device_terminate_all`/`device_synchronize`, as ioatdma) or
//! on a public channel shared with other clients, a timed-out batch waits
//! until its descriptors complete (the migration then falls back to the
//! CPU), and is never freed early.
//!
//! Each descriptor's callback signals `events` once, a counting
//! completion: the waiter consumes one event per callback, so it knows
//! exactly when every callback has finished touching the tracker.

use crate::channels::Chan;
use crate::ffi;
use crate::health::Cause;
use crate::segments::Copy;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::time::{msecs_to_jiffies, Delta, Instant, Jiffies, Monotonic};
use kernel::types::Opaque;

/// A counting completion: callbacks signal, the batch consumes.
#[pin_data]
struct Events {
    #[pin]
    done: Opaque<bindings::completion>,
}

impl Events {
    fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `init_completion` initialises the slot in place.
            done <- Opaque::ffi_init(|slot| unsafe { bindings::init_completion(slot) }),
        })
    }

    fn signal(&self) {
        // SAFETY: initialised by `new`; the tracker is not freed before the
        // waiter has consumed this event (see `Tracker`), and `complete()`
        // releases the completion's lock before that consumption returns.
        unsafe { bindings::complete(self.done.get()) };
    }

    /// Consumes one event, waiting up to `ms` milliseconds (0: no wait).
    fn take(&self, ms: u32) -> bool {
        // SAFETY: initialised by `new`.
        unsafe {
            if ms == 0 {
                bindings::try_wait_for_completion(self.done.get())
            } else {
                let jiffies = kernel::time::msecs_to_jiffies(ms);
                bindings::wait_for_completion_timeout(self.done.get(), jiffies) != 0
            }
        }
    }
}

/// The descriptors of one batch on one leased channel.
///
/// # Invariants
/// `events` points to the events of the tracker that owns this lane, which
/// outlives every callback given this lane as its parameter.
pub(crate) struct Lane {
    chan: Arc<Chan>,
    events: *const Events,
    /// Submitted and not yet called back (or forgotten after a terminate).
    outstanding: AtomicUsize,
    /// Submitted since the last `issue_pending` (the batch's own count;
    /// atomic only because callbacks share the lane).
    unissued: AtomicUsize,
    /// Submitted since the newest that asked for an interrupt (the batch's
    /// own count). When not 0, the callbacks of the lane's newest
    /// descriptors may wait for an interrupt that never comes: the batch
    /// reads the channel's status instead (`Tracker::take_event`).
    uninterrupted: AtomicUsize,
    /// The most descriptors the batch keeps in flight here (lowered to
    /// the engine's pool once that is found full).
    bound: AtomicUsize,
    /// Terminated by `abort`, not yet synchronized (the batch's own flag).
    aborting: AtomicBool,
    /// The first trouble the batch met on this lane (a `Cause`; 0: none),
    /// for the channel's health (the batch's own value).
    trouble: AtomicU8,
}

impl Lane {
    pub(crate) fn chan(&self) -> &Chan {
        &self.chan
    }

    fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Acquire)
    }

    /// Descriptors in flight whose callbacks no coming interrupt brings.
    fn needs_polling(&self) -> bool {
        self.outstanding() > 0 && self.uninterrupted.load(Ordering::Relaxed) > 0
    }
}

/// One submitted memcpy: the bytes of its share it copies, and its
/// verdict, set by its callback.
///
/// # Invariants
/// `lane` points to the lane it was submitted on, in the tracker that owns
/// this record; the record does not move while its callback may run.
pub(crate) struct Desc {
    lane: *const Lane,
    /// The share of the batch (batch.rs) and the bytes of it, counted from
    /// the share's start, that this descriptor copies.
    pub(crate) share: usize,
    pub(crate) off: u64,
    pub(crate) len: u64,
    ok: AtomicBool,
}

/// The dmaengine callback of every dcbm descriptor, called by the C
/// trampoline `dcbm_dma_done()` with the descriptor's verdict.
///
/// # Safety
/// `param` is the [`Desc`] of the descriptor, whose tracker has not
/// consumed this descriptor's event yet.
#[no_mangle]
pub(crate) unsafe extern "C" fn dcbm_on_complete(param: *mut c_void, ok: bool, residue: u32) {
    // SAFETY: per the contract, the record, its lane and tracker are alive.
    let (desc, lane) = unsafe {
        let desc = &*param.cast::<Desc>();
        (desc, &*desc.lane)
    };
    // A residue counts only from a provider that reports one.
    let ok = ok && (residue == 0 || !lane.chan.reports_residue());
    desc.ok.store(ok, Ordering::Release);
    lane.outstanding.fetch_sub(1, Ordering::AcqRel);
    // SAFETY: the lane's invariant; this is the last access to any of them.
    unsafe { (*lane.events).signal() };
}

/// What a submission attempt did.
pub(crate) enum Submitted {
    Yes,
    /// The engine gave no descriptor (its pool is full, or the copy too
    /// long or misaligned for it); nothing was queued.
    NoDescriptor,
}

/// Descriptor records per allocation (a page of them): a chunk never
/// grows, so records do not move while callbacks point to them.
const CHUNK: usize = kernel::page::PAGE_SIZE / core::mem::size_of::<Desc>();

/// The descriptors of one batch at a time, over its leased channels. A
/// tracker is allocated with its channel's workspace (workspace.rs) and
/// serves batch after batch: [`Tracker::start`] and [`Tracker::finish`]
/// allocate nothing.
///
/// # Invariants
/// - `lanes` never holds more than its capacity and is not resized nor
///   borrowed mutably while a batch runs: callbacks on other CPUs hold
///   shared pointers to its elements.
/// - Each chunk of `descs` holds at most its capacity ([`CHUNK`]) and only
///   grows within it (`push_within_capacity`), so records never move;
///   records are added to chunk `chunk`, those before it are full; a
///   record is removed only if its descriptor was never queued, or by
///   `finish` once settled.
/// - `submitted - forgotten - consumed` callbacks have not been consumed
///   yet, and `events` holds no other event; `finish` and `drop` consume
///   them all before the records are reused or freed.
pub(crate) struct Tracker {
    events: Pin<KBox<Events>>,
    lanes: KVec<Lane>,
    descs: KVec<KVec<Desc>>,
    chunk: usize,
    /// How a batch may add a chunk when those allocated are full: only a
    /// call that may sleep may (a no-wait call allocates nothing).
    grow: Option<kernel::alloc::Flags>,
    submitted: usize,
    consumed: usize,
    /// Descriptors of terminated channels: they never call back.
    forgotten: usize,
    /// How long to wait before saying so, when waiting to completion.
    warn_ms: u32,
    /// The batch's time limit, and when it runs out: on the engine's
    /// clock, from the first descriptor asked of the engine. Time the CPU
    /// spends before that (mapping, a preempted task) is the submitter's,
    /// and a healthy channel is never taken for a hung one because of it.
    limit: Delta,
    deadline: Option<Instant<Monotonic>>,
    /// The same deadline in jiffies, rounded up: [`Tracker::late`] runs
    /// twice per descriptor, and a jiffies read is a load where a clock
    /// read costs 0.4–0.6 µs under TCG (about 1 µs a descriptor). It
    /// says late never before `deadline` and less than two ticks after
    /// it; waits use `deadline`.
    deadline_jiffies: Option<Jiffies>,
}

/// Whether the tick count `now` is past `deadline`: C's time_after(),
/// right across the counter's wrap.
fn ticks_after(now: Jiffies, deadline: Jiffies) -> bool {
    (deadline.wrapping_sub(now) as isize) < 0
}

/// The tick count (`jiffies`).
fn jiffies_now() -> Jiffies {
    // SAFETY: `jiffies` is the kernel's tick counter, always mapped; the
    // timer interrupt updates it, so it is read once, volatile, as C's
    // READ_ONCE(jiffies) does (an unsigned long: a single load on 64-bit).
    unsafe { ptr::read_volatile(ptr::addr_of!(bindings::jiffies)) }
}

/// Descriptors submitted on a channel before the engine is told to start
/// them: setup overlaps the engine's copy without a doorbell per copy.
const ISSUE_EVERY: usize = 16;

/// On a provider that calls back descriptors without an interrupt
/// (providers.rs), one descriptor in this many asks for one, and so do a
/// lane's last and the one that fills the lane to its bound: the batch's
/// thread is woken a few times a batch, not per copy nor per doorbell,
/// and a lane at its bound always has an interrupt to come. (On other
/// providers every descriptor asks for one.)
const INTERRUPT_EVERY: usize = 64;

/// Descriptors one batch keeps in flight on a channel it shares with
/// other clients (a public channel): the rest of the engine's ring is
/// theirs.
const MAX_IN_FLIGHT_SHARED: usize = 64;

/// Descriptors one batch keeps in flight on a channel of its own. The
/// engine's ring or pool is the real bound there (a full one gives no
/// descriptor, and the batch waits for one of its own); this one keeps a
/// provider with an unbounded pool to a core batch's worth (512 folios),
/// so that the submitter of a batch rarely sleeps for a slot: each such
/// sleep is a wake-up of the task, and the engine idles meanwhile.
const MAX_IN_FLIGHT: usize = 512;

impl Tracker {
    /// A tracker with room for `lanes` channels and `descs` descriptor
    /// records, allocated with `gfp`.
    pub(crate) fn new(lanes: usize, descs: usize, gfp: kernel::alloc::Flags) -> Result<Self> {
        let mut chunks = KVec::with_capacity(descs.div_ceil(CHUNK).max(1), gfp)?;
        for _ in 0..chunks.capacity() {
            chunks.push(KVec::with_capacity(CHUNK, gfp)?, gfp)?;
        }
        Ok(Self {
            events: KBox::pin_init(Events::new(), gfp)?,
            lanes: KVec::with_capacity(lanes, gfp)?,
            descs: chunks,
            chunk: 0,
            grow: None,
            submitted: 0,
            consumed: 0,
            forgotten: 0,
            warn_ms: 0,
            limit: Delta::from_millis(0),
            deadline: None,
            deadline_jiffies: None,
        })
    }

    /// Starts a batch over the channels `chans`, which may take `limit_ms`
    /// from its first descriptor; `grow`: how it may allocate more records
    /// (`None`: never). EINVAL when there are more channels than room.
    pub(crate) fn start(
        &mut self,
        chans: impl Iterator<Item = Arc<Chan>>,
        limit_ms: u32,
        warn_ms: u32,
        grow: Option<kernel::alloc::Flags>,
    ) -> Result {
        self.finish();
        for chan in chans {
            let bound = if chan.shared() {
                MAX_IN_FLIGHT_SHARED
            } else {
                MAX_IN_FLIGHT
            };
            // INVARIANT: `events` is pinned and lives as long as `Self`;
            // within capacity, or refused.
            self.lanes
                .push_within_capacity(Lane {
                    chan,
                    events: ptr::from_ref(&*self.events),
                    outstanding: AtomicUsize::new(0),
                    unissued: AtomicUsize::new(0),
                    uninterrupted: AtomicUsize::new(0),
                    bound: AtomicUsize::new(bound),
                    aborting: AtomicBool::new(false),
                    trouble: AtomicU8::new(Cause::None as u8),
                })
                .map_err(|_| EINVAL)?;
        }
        self.grow = grow;
        self.warn_ms = warn_ms;
        self.limit = Delta::from_millis(i64::from(limit_ms));
        Ok(())
    }

    /// Ends the batch: waits for every callback still due (as `drop`),
    /// then forgets its channels and records, keeping their room.
    pub(crate) fn finish(&mut self) {
        self.settle();
        self.lanes.clear();
        for c in self.descs.iter_mut() {
            c.clear();
        }
        self.chunk = 0;
        self.submitted = 0;
        self.consumed = 0;
        self.forgotten = 0;
        self.deadline = None;
        self.deadline_jiffies = None;
    }

    pub(crate) fn lanes(&self) -> &[Lane] {
        &self.lanes
    }

    /// Whether any descriptor failed or never completed (after
    /// [`Tracker::settle`], or once `wait_all` succeeded).
    pub(crate) fn failed(&self) -> bool {
        self.records().any(|d| !d.ok.load(Ordering::Acquire))
    }

    fn records(&self) -> impl Iterator<Item = &Desc> {
        self.descs.iter().flat_map(|c| c.iter())
    }

    /// The descriptors that completed without error, in submission order.
    /// Only once settled: no callback can change a verdict any more.
    pub(crate) fn completed(&mut self) -> impl Iterator<Item = &Desc> {
        self.settle();
        self.records().filter(|d| d.ok.load(Ordering::Acquire))
    }

    /// A record for a descriptor about to be submitted on `lane`.
    fn record(&mut self, lane: usize, share: usize, off: u64, len: u64) -> Result<*const Desc> {
        while self
            .descs
            .get(self.chunk)
            .is_some_and(|c| c.len() == c.capacity())
        {
            self.chunk += 1;
        }
        if self.chunk == self.descs.len() {
            let gfp = self.grow.ok_or(ENOMEM)?;
            self.descs.push(KVec::with_capacity(CHUNK, gfp)?, gfp)?;
        }
        let desc = Desc {
            // INVARIANT: a lane of this tracker, which owns the record.
            lane: ptr::from_ref(&self.lanes[lane]),
            share,
            off,
            len,
            ok: AtomicBool::new(false),
        };
        let chunk = &mut self.descs[self.chunk];
        // INVARIANT: within capacity (full chunks were passed above).
        chunk.push_within_capacity(desc).map_err(|_| ENOMEM)?;
        chunk.last().map(ptr::from_ref).ok_or(ENOMEM)
    }

    /// Drops the record of a descriptor that was never queued (the last).
    fn unrecord(&mut self) {
        if let Some(c) = self.descs.get_mut(self.chunk) {
            c.pop();
        }
    }

    /// Prepares and submits one memcpy on lane `i`: copy `c`, bytes
    /// `c.off..c.off + c.len` of share `share`; `last`: the lane's last
    /// descriptor of the batch (it asks for an interrupt and is started).
    ///
    /// # Safety
    /// `c.dst` and `c.src` are `c.len` bytes mapped on lane `i`'s
    /// channel's device, and stay mapped until this tracker has finished
    /// the batch (`finish`, or its drop); the caller holds the lane's
    /// channel's lease.
    pub(crate) unsafe fn submit(
        &mut self,
        i: usize,
        c: Copy,
        share: usize,
        last: bool,
    ) -> Result<Submitted> {
        let len = usize::try_from(c.len).map_err(|_| EINVAL)?;
        let desc = self.record(i, share, c.off, c.len)?;
        if self.deadline.is_none() {
            self.deadline = Some(Instant::<Monotonic>::now() + self.limit);
            let ms = u32::try_from(self.limit.as_millis_ceil()).unwrap_or(u32::MAX);
            self.deadline_jiffies = Some(jiffies_now().wrapping_add(msecs_to_jiffies(ms)));
        }
        let lane = &self.lanes[i];
        let closes = last || lane.unissued.load(Ordering::Relaxed) + 1 >= ISSUE_EVERY;
        let interrupt = last
            || lane.outstanding() + 1 >= lane.bound.load(Ordering::Relaxed)
            || lane.uninterrupted.load(Ordering::Relaxed) + 1 >= INTERRUPT_EVERY
            || !lane.chan.late_callbacks();
        lane.outstanding.fetch_add(1, Ordering::AcqRel);
        // SAFETY: the addresses lie in mappings on this channel's device
        // that outlive the descriptor (the function's contract); `desc` and
        // `lane` outlive its callback (invariants).
        let rc = unsafe {
            let param = desc.cast_mut().cast();
            ffi::dcbm_submit_memcpy(lane.chan.as_ptr(), c.dst, c.src, len, param, interrupt)
        };
        if rc != 0 {
            // Never queued: its callback will not run.
            lane.outstanding.fetch_sub(1, Ordering::AcqRel);
            self.unrecord();
            return match rc {
                ffi::NO_DESCRIPTOR => Ok(Submitted::NoDescriptor),
                e => {
                    // The engine refused a prepared descriptor.
                    self.mark(i, Cause::Error);
                    Err(Error::from_errno(e))
                }
            };
        }
        if interrupt {
            lane.uninterrupted.store(0, Ordering::Relaxed);
        } else {
            lane.uninterrupted.fetch_add(1, Ordering::Relaxed);
        }
        lane.unissued.fetch_add(1, Ordering::Relaxed);
        if closes {
            lane.unissued.store(0, Ordering::Relaxed);
            lane.chan.issue_pending();
        }
        self.submitted += 1;
        Ok(Submitted::Yes)
    }

    /// Tells the engine to start everything submitted.
    pub(crate) fn issue_all(&self) {
        for lane in self.lanes.iter() {
            if lane.unissued.swap(0, Ordering::Relaxed) > 0 {
                lane.chan.issue_pending();
            }
        }
    }

    /// Records that the batch met `cause` on lane `i` (the first counts).
    pub(crate) fn mark(&self, i: usize, cause: Cause) {
        let _ = self.lanes[i].trouble.compare_exchange(
            Cause::None as u8,
            cause as u8,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Marks every lane with descriptors still in flight as timed out
    /// (before `abort`, which forgets them).
    pub(crate) fn mark_timeouts(&self) {
        for (i, lane) in self.lanes.iter().enumerate() {
            if lane.outstanding() > 0 {
                self.mark(i, Cause::Timeout);
            }
        }
    }

    /// The channels the batch met trouble on, and the first trouble of
    /// each: the marks, and a descriptor that completed with an error.
    /// Only once settled.
    pub(crate) fn troubles(&mut self) -> impl Iterator<Item = (&Chan, Cause)> {
        self.settle();
        for d in self.records().filter(|d| !d.ok.load(Ordering::Acquire)) {
            if let Some(i) = self.lanes.iter().position(|l| ptr::eq(l, d.lane)) {
                self.mark(i, Cause::Error);
            }
        }
        self.lanes.iter().filter_map(|l| {
            let cause = Cause::from_u8(l.trouble.load(Ordering::Relaxed));
            (cause != Cause::None).then_some((&*l.chan, cause))
        })
    }

    /// Descriptors submitted, on all lanes.
    pub(crate) fn submitted(&self) -> usize {
        self.submitted
    }

    /// Descriptors of lane `i` in flight.
    pub(crate) fn outstanding(&self, i: usize) -> usize {
        self.lanes[i].outstanding()
    }

    /// Whether lane `i` holds as many descriptors in flight as the batch
    /// keeps there (its newest asked for an interrupt).
    pub(crate) fn at_bound(&self, i: usize) -> bool {
        self.lanes[i].outstanding() >= self.lanes[i].bound.load(Ordering::Relaxed)
    }

    /// The engine gave lane `i` no descriptor while the batch has some in
    /// flight there: its pool holds no more. The lane keeps no more than
    /// that in flight from now on, so the descriptor that fills it asks
    /// for an interrupt (the first wait reads the channel's status).
    pub(crate) fn pool_full(&self, i: usize) {
        let held = self.lanes[i].outstanding();
        if held > 0 {
            self.lanes[i].bound.fetch_min(held, Ordering::Relaxed);
        }
    }

    fn pending(&self) -> usize {
        self.submitted - self.forgotten - self.consumed
    }

    /// The time limit has run out (never before the first descriptor).
    pub(crate) fn late(&self) -> bool {
        self.deadline_jiffies
            .is_some_and(|d| ticks_after(jiffies_now(), d))
    }

    /// Consumes a callback that has already come in, if any, without
    /// reading the clock: most have (one interrupt delivers the callbacks
    /// of a whole group), and a clock read costs more than the rest of
    /// consuming one.
    pub(crate) fn take_ready(&mut self) -> bool {
        let got = self.pending() > 0 && self.events.take(0);
        self.consumed += usize::from(got);
        got
    }

    /// Waits for one callback until the time limit; false on timeout.
    pub(crate) fn wait_one(&mut self) -> bool {
        if self.pending() == 0 || self.take_ready() {
            return true;
        }
        // Something pending was submitted, so the clock runs.
        let Some(deadline) = self.deadline else {
            return true;
        };
        let left = deadline - Instant::<Monotonic>::now();
        let ms = if left.as_nanos() <= 0 {
            0
        } else {
            u32::try_from(left.as_millis_ceil().max(1)).unwrap_or(u32::MAX)
        };
        let got = self.take_event(ms);
        self.consumed += usize::from(got);
        got
    }

    /// Consumes one callback's event, waiting up to `ms` (0: no wait).
    /// Everything submitted is started first. A lane whose newest
    /// descriptor asked for no interrupt (the batch stopped submitting
    /// early, or a full pool holds its group open) has its channel's
    /// status read every millisecond (a tick at least) meanwhile, which on
    /// the providers that allow such descriptors runs the callbacks due;
    /// the limit is kept by the clock, not by counting those slices (a
    /// one-millisecond wait ends at the next tick: up to 10 ms at HZ=100).
    fn take_event(&self, ms: u32) -> bool {
        self.issue_all();
        let end = Instant::<Monotonic>::now() + Delta::from_millis(i64::from(ms));
        loop {
            let left = end - Instant::<Monotonic>::now();
            let left_ms = if left.as_nanos() <= 0 {
                0
            } else {
                u32::try_from(left.as_millis_ceil()).unwrap_or(u32::MAX)
            };
            let polled = self.poll_silent_lanes();
            let slice = if polled { left_ms.min(1) } else { left_ms };
            if self.events.take(slice) {
                return true;
            }
            if !polled || left_ms <= 1 {
                return false;
            }
        }
    }

    /// Reads the status of the lanes that need it; whether there were any.
    fn poll_silent_lanes(&self) -> bool {
        let mut any = false;
        for lane in self.lanes.iter().filter(|l| l.needs_polling()) {
            lane.chan.poll();
            any = true;
        }
        any
    }

    /// Waits until every descriptor called back, or the time limit.
    pub(crate) fn wait_all(&mut self) -> bool {
        while self.pending() > 0 {
            if !self.wait_one() {
                return false;
            }
        }
        true
    }

    /// Aborts the descriptors still outstanding on the lanes whose channel
    /// can be terminated; they will never call back. Whether the batch
    /// ended without waiting for the engine: no descriptor is left, and
    /// every channel could have been stopped. A batch whose last callbacks
    /// came in just as its time ran out counts by its channels: aborted
    /// where they can abort, waited out where they cannot.
    pub(crate) fn abort(&mut self) -> bool {
        // Every channel is told to stop first, then each is waited for:
        // the channels stop in parallel (a no-wait call has little time).
        for lane in self.lanes.iter().filter(|l| l.outstanding() > 0) {
            if !lane.chan.can_terminate() {
                continue;
            }
            match lane.chan.terminate_async() {
                Ok(()) => {
                    lane.aborting.store(true, Ordering::Relaxed);
                    lane.unissued.store(0, Ordering::Relaxed);
                }
                Err(e) => pr_warn!(
                    "{}: terminate failed ({:?}); waiting for the engine\n",
                    lane.chan.name().to_str().unwrap_or("?"),
                    e
                ),
            }
        }
        for lane in self.lanes.iter() {
            if lane.aborting.swap(false, Ordering::Relaxed) {
                lane.chan.synchronize();
                // Stable now: once synchronized, no callback of the lane's
                // aborted descriptors runs any more.
                let gone = lane.outstanding.swap(0, Ordering::AcqRel);
                self.forgotten += gone;
            }
        }
        // Callbacks that ran before the terminate are consumed here.
        while self.take_ready() {}
        self.pending() == 0 && self.lanes.iter().all(|l| l.chan.can_terminate())
    }
}

impl Tracker {
    /// Consumes every callback still due, however long the engine takes:
    /// until then a descriptor may still write, or call back into memory
    /// this tracker owns.
    pub(crate) fn settle(&mut self) {
        let mut warned = false;
        while self.pending() > 0 {
            if self.take_event(self.warn_ms.max(1)) {
                self.consumed += 1;
            } else if !warned {
                warned = true;
                pr_warn!(
                    "{} descriptors still running after the timeout on a channel that cannot abort; waiting for them\n",
                    self.pending()
                );
            }
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.settle();
    }
}

#[cfg(dcbm_kunit)]
#[kernel::macros::kunit_tests(dcbm_inflight)]
mod tests {
    use super::*;

    #[test]
    fn late_only_after_the_deadline_tick() {
        assert!(!ticks_after(99, 100));
        assert!(!ticks_after(100, 100));
        assert!(ticks_after(101, 100));
    }

    #[test]
    fn the_limit_in_ticks_holds_across_the_wrap() {
        // A deadline just before the counter wraps: not late before it,
        // late once the counter has wrapped past it.
        let d = Jiffies::MAX - 1;
        assert!(!ticks_after(Jiffies::MAX - 5, d));
        assert!(ticks_after(Jiffies::MAX, d));
        assert!(ticks_after(3, d));
        // A deadline just after the wrap, read before it: not late.
        assert!(!ticks_after(Jiffies::MAX - 2, 5));
    }
}
