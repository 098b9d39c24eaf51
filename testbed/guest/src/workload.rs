//! One test region plus the operations on it: place, fill, migrate, verify.

use std::ffi::c_void;
use std::fmt;
use std::io;
use std::time::Instant;

use crate::cli::{Api, Common, Entries, PageKind};
use crate::mapping::{self, Region, PAGES_PER_HUGE, PAGE_SIZE};
use crate::numa::{self, NodeMask};
use crate::pattern::{Pattern, Verify};
use crate::writer;

/// A failure that aborts the workload (exit code 2).
#[derive(Debug)]
pub struct SysFailure {
    pub what: String,
    pub err: Option<io::Error>,
    pub hint: Option<String>,
}

impl SysFailure {
    pub fn syscall(what: &str, err: io::Error, node: Option<u32>) -> Self {
        let hint = node.and_then(|n| numa::errno_hint(&err, n));
        SysFailure {
            what: what.to_string(),
            err: Some(err),
            hint,
        }
    }

    pub fn env(msg: String) -> Self {
        SysFailure {
            what: msg,
            err: None,
            hint: None,
        }
    }
}

impl fmt::Display for SysFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.err, &self.hint) {
            (Some(e), Some(h)) => write!(f, "{h} ({} failed: {e})", self.what),
            (Some(e), None) => write!(f, "{} failed: {e}", self.what),
            (None, _) => write!(f, "{}", self.what),
        }
    }
}

/// Where the region's pages are, from a status query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub on_node: u64,
    pub elsewhere: u64,
    /// 2 MiB extents entirely on the node (THP mode only, else = on_node).
    pub extents_on_node: u64,
    /// First page not on the node: (page index, status).
    pub first_off: Option<(usize, i32)>,
}

/// One timed migration of the whole region.
#[derive(Clone, Copy, Debug, Default)]
pub struct MoveOutcome {
    pub from: u32,
    pub to: u32,
    /// Time spent inside the migration system call(s) only.
    pub seconds: f64,
    pub pages: u64,
    pub placement: Placement,
    /// 4 KiB pages moved by the follow-up call in `--thp-entries head` mode.
    pub fallback_pages: u64,
    /// Non-migrated count returned by the kernel (sum over calls).
    pub kernel_not_migrated: u64,
    /// Migration system calls made (EINTR retries included).
    pub calls: u64,
    /// CPU time (user + system) of the calling thread inside the calls
    /// (CLOCK_THREAD_CPUTIME_ID): what the migrating task itself spent.
    pub cpu_seconds: f64,
    /// Busy time of all CPUs over the calls, from /proc/stat (clock-tick
    /// resolution; None without /proc): where the copy went when the task
    /// did not do it.
    pub busy_seconds: Option<f64>,
}

impl MoveOutcome {
    pub fn bytes_moved(&self) -> u64 {
        self.placement.on_node * PAGE_SIZE as u64
    }
}

pub struct Workload {
    page: PageKind,
    api: Api,
    entries: Entries,
    /// 4 KiB pages per move_pages call (None: the whole region at once).
    chunk_pages: Option<u64>,
    seed: u64,
    region: Region,
    /// Every 4 KiB page, for status queries.
    all_pages: Vec<*mut c_void>,
    status: Vec<i32>,
    /// Current location the region is expected on.
    pub node: u32,
    pub initial: Placement,
    pub thp_huge_bytes: Option<u64>,
}

/// What a writer thread found (`Workload::while_writing`).
pub struct WriterReport {
    /// Pages whose last write did not survive.
    pub lost: u64,
    pub stores: u64,
}

impl Workload {
    /// Map `size_mib`, place every page on `c.from_node` (mbind MPOL_BIND,
    /// first touch), then reset the policy so migration is unconstrained.
    pub fn new(c: &Common, size_mib: u64) -> Result<Workload, SysFailure> {
        let len = usize::try_from(size_mib << 20)
            .map_err(|_| SysFailure::env("size too large".into()))?;
        Workload::with_len(c, len)
    }

    /// Like `new`, for a region of `len` bytes (a multiple of 4 KiB, of
    /// 2 MiB for THP).
    pub fn with_len(c: &Common, len: usize) -> Result<Workload, SysFailure> {
        Workload::placed(c, len, false)
    }

    /// Like `new`, but every page on `c.from_node` even when the node has
    /// less free memory than that: the allocations reclaim (on a tiered
    /// machine, demote) on the node instead of spilling.
    pub fn new_bound(c: &Common, size_mib: u64) -> Result<Workload, SysFailure> {
        let len = usize::try_from(size_mib << 20)
            .map_err(|_| SysFailure::env("size too large".into()))?;
        Workload::placed(c, len, true)
    }

    fn placed(c: &Common, len: usize, bound: bool) -> Result<Workload, SysFailure> {
        for n in [c.from_node, c.to_node] {
            numa::check_node(n).map_err(SysFailure::env)?;
        }
        let size_mib = len >> 20;
        let huge = c.page == PageKind::Thp;
        let mut region =
            Region::new(len, huge).map_err(|e| SysFailure::syscall("mmap", e, None))?;

        // MPOL_BIND is exact but OOM-kills us if the node is too small; fall
        // back to MPOL_PREFERRED (spill is then reported as misplacement).
        let mut mode = numa::MPOL_BIND;
        if let Some(free) = node_free_bytes(c.from_node).filter(|_| !bound) {
            if len as u64 > free / 10 * 9 {
                eprintln!(
                    "warning: {size_mib} MiB exceeds 90% of node {} free memory ({} MiB); using MPOL_PREFERRED",
                    c.from_node,
                    free >> 20
                );
                mode = numa::MPOL_PREFERRED;
            }
        }
        if let Some(free) = node_free_bytes(c.to_node).filter(|_| !bound) {
            if c.to_node != c.from_node && len as u64 > free / 10 * 9 {
                eprintln!(
                    "warning: {size_mib} MiB exceeds 90% of node {} free memory ({} MiB); expect pages_not_moved",
                    c.to_node,
                    free >> 20
                );
            }
        }
        let mask = NodeMask::single(c.from_node);
        numa::mbind(region.addr(), len, mode, Some(&mask))
            .map_err(|e| SysFailure::syscall("mbind", e, Some(c.from_node)))?;
        region.touch();
        numa::mbind(region.addr(), len, numa::MPOL_DEFAULT, None)
            .map_err(|e| SysFailure::syscall("mbind(MPOL_DEFAULT)", e, None))?;

        let all_pages = region.page_addrs(1);
        let status = vec![0i32; all_pages.len()];
        let mut w = Workload {
            page: c.page,
            api: c.api,
            entries: c.thp_entries,
            chunk_pages: c.chunk_pages,
            seed: c.seed,
            region,
            all_pages,
            status,
            node: c.from_node,
            initial: Placement::default(),
            thp_huge_bytes: None,
        };
        w.initial = w.placement(c.from_node)?;
        w.thp_huge_bytes = w.thp_now();
        Ok(w)
    }

    pub fn pages(&self) -> u64 {
        self.region.pages() as u64
    }

    pub fn thp_now(&self) -> Option<u64> {
        mapping::thp_huge_bytes(&self.region)
    }

    /// Reads and writes back the first word of every 4 KiB page, calling
    /// `after` after each (the contents do not change; the write makes a
    /// NUMA hinting fault a write fault, as a working task's would be).
    pub fn touch_pages(&mut self, mut after: impl FnMut()) {
        let words = self.region.words_mut();
        for i in (0..words.len()).step_by(4096 / 8) {
            let p: *mut u64 = &mut words[i];
            // SAFETY: `p` points into the region, which we own and map.
            unsafe { std::ptr::write_volatile(p, std::ptr::read_volatile(p)) };
            after();
        }
    }

    pub fn fill(&mut self, round: u64) {
        Pattern::new(self.seed, round).fill(self.region.words_mut());
    }

    pub fn verify(&self, round: u64) -> Verify {
        Pattern::new(self.seed, round).verify(self.region.words())
    }

    /// Moves the region to `to` while another thread keeps writing to the
    /// first word of every page (`--writer`). Returns the move, the pages
    /// whose last write did not survive and the stores made; then puts the pattern of
    /// `round` back in those words, for the usual verification.
    pub fn migrate_while_writing(
        &mut self,
        to: u32,
        round: u64,
    ) -> Result<(MoveOutcome, u64, u64), SysFailure> {
        let words = self.region.words_mut();
        let (base, len) = (words.as_mut_ptr(), words.len());
        // SAFETY: the region lives as long as `self`; `migrate` only asks
        // the kernel to move its pages and never reads or writes them.
        let (moved, writes) =
            unsafe { writer::while_writing(base, len, &|| {}, || self.migrate(to)) };
        let report = self.settle_writes(&writes, round);
        Ok((moved?, report.lost, report.stores))
    }

    /// After a writer: counts the pages whose last write did not survive
    /// and puts the pattern of `round` back in the words it wrote.
    fn settle_writes(&mut self, writes: &writer::Writes, round: u64) -> WriterReport {
        let words = self.region.words_mut();
        let lost = writer::lost(words, writes);
        let pattern = Pattern::new(self.seed, round);
        writer::restore(words, |off| pattern.word_at(off));
        WriterReport {
            lost,
            stores: writes.stores,
        }
    }

    /// Runs `work` while another thread keeps writing to the first word of
    /// every page, a pass, then the region marked cold (MADV_COLD: its
    /// pages on the inactive list, as if unused), then `pause`; returns
    /// `work`'s result and the writes, the pages whose last write did not
    /// survive counted, the pattern of round 0 put back. Reclaim thus
    /// demotes pages that are still being written to: the race a lost
    /// write would come from.
    pub fn while_writing_cold<R>(
        &mut self,
        pause: std::time::Duration,
        work: impl FnOnce() -> R,
    ) -> (R, WriterReport) {
        let words = self.region.words_mut();
        let (base, len) = (words.as_mut_ptr(), words.len());
        let (addr, bytes) = (self.region.addr() as usize, self.region.len());
        let cold = move || {
            // SAFETY: advice on the region we own; MADV_COLD only moves its
            // pages between LRU lists and never changes their contents.
            // (Its failure only makes demotion less likely: ignored.)
            unsafe { libc::madvise(addr as *mut libc::c_void, bytes, libc::MADV_COLD) };
            std::thread::sleep(pause);
        };
        // SAFETY: the region lives as long as `self`, which `work` cannot
        // reach (it is borrowed here), so only the writer touches it.
        let (r, writes) = unsafe { writer::while_writing(base, len, &cold, work) };
        (r, self.settle_writes(&writes, 0))
    }

    /// Query where every 4 KiB page is (move_pages with nodes = NULL).
    pub fn placement(&mut self, node: u32) -> Result<Placement, SysFailure> {
        numa::move_pages(&self.all_pages, None, &mut self.status, 0)
            .map_err(|e| SysFailure::syscall("move_pages(query)", e, None))?;
        Ok(summarize(&self.status, node, self.page == PageKind::Thp))
    }

    /// Move the region from `self.node` to `to`, timing only the syscalls.
    pub fn migrate(&mut self, to: u32) -> Result<MoveOutcome, SysFailure> {
        let from = self.node;
        let mut out = MoveOutcome {
            from,
            to,
            pages: self.pages(),
            ..Default::default()
        };
        match self.api {
            Api::MovePages => {
                let step = match (self.page, self.entries) {
                    (PageKind::Thp, Entries::Head) => PAGES_PER_HUGE,
                    _ => 1,
                };
                let addrs: Vec<*mut c_void> =
                    self.all_pages.iter().step_by(step).copied().collect();
                let per_call = entries_per_call(self.chunk_pages, step);
                let cost = timed_move_pages(&addrs, to, per_call)?;
                out.add(&cost);
                if step > 1 {
                    // Extents that were not a THP only had their first page
                    // moved: move the rest with per-page entries.
                    numa::move_pages(&self.all_pages, None, &mut self.status, 0)
                        .map_err(|e| SysFailure::syscall("move_pages(query)", e, None))?;
                    let rest: Vec<*mut c_void> = self
                        .all_pages
                        .iter()
                        .zip(&self.status)
                        .filter(|&(_, &s)| s >= 0 && s != to as i32)
                        .map(|(&a, _)| a)
                        .collect();
                    if !rest.is_empty() {
                        let per_call = entries_per_call(self.chunk_pages, 1);
                        let cost = timed_move_pages(&rest, to, per_call)?;
                        out.add(&cost);
                        out.fallback_pages = rest.len() as u64;
                    }
                }
            }
            Api::MigratePages => {
                let (fm, tm) = (NodeMask::single(from), NodeMask::single(to));
                let meter = Meter::start();
                loop {
                    let r = meter.time(|| numa::migrate_pages(&fm, &tm));
                    match r {
                        Ok(n) => {
                            out.kernel_not_migrated += n as u64;
                            break;
                        }
                        Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                        Err(e) => return Err(SysFailure::syscall("migrate_pages", e, Some(to))),
                    }
                }
                out.add(&meter.finish());
            }
        }
        out.placement = self.placement(to)?;
        self.node = to;
        Ok(out)
    }
}

/// move_pages entries per call for `chunk_pages` 4 KiB pages per call when
/// each entry covers `pages_per_entry` pages (at least one entry per call).
pub fn entries_per_call(chunk_pages: Option<u64>, pages_per_entry: usize) -> Option<usize> {
    chunk_pages.map(|c| {
        let c = usize::try_from(c).unwrap_or(usize::MAX);
        (c / pages_per_entry.max(1)).max(1)
    })
}

/// What a series of migration calls cost: wall time and the calling
/// thread's CPU time inside them, the busy time of all CPUs around them.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallCost {
    pub calls: u64,
    pub seconds: f64,
    pub cpu_seconds: f64,
    pub busy_seconds: Option<f64>,
    pub not_migrated: u64,
}

impl MoveOutcome {
    fn add(&mut self, c: &CallCost) {
        let first = self.calls == 0;
        self.calls += c.calls;
        self.seconds += c.seconds;
        self.cpu_seconds += c.cpu_seconds;
        self.kernel_not_migrated += c.not_migrated;
        self.busy_seconds = match (self.busy_seconds, c.busy_seconds) {
            _ if first => c.busy_seconds,
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }
}

/// Measures the calls made through `time`.
struct Meter {
    busy0: Option<f64>,
    cost: std::cell::Cell<CallCost>,
}

impl Meter {
    fn start() -> Meter {
        Meter {
            busy0: cpus_busy_seconds(),
            cost: Default::default(),
        }
    }

    /// One call: its wall time and this thread's CPU time are added.
    fn time<T>(&self, call: impl FnOnce() -> T) -> T {
        let c0 = thread_cpu_ns();
        let t0 = Instant::now();
        let r = call();
        let secs = t0.elapsed().as_secs_f64();
        let c1 = thread_cpu_ns();
        let mut cost = self.cost.get();
        cost.calls += 1;
        cost.seconds += secs;
        cost.cpu_seconds += c1.saturating_sub(c0) as f64 * 1e-9;
        self.cost.set(cost);
        r
    }

    fn finish(self) -> CallCost {
        let mut cost = self.cost.get();
        cost.busy_seconds = match (self.busy0, cpus_busy_seconds()) {
            (Some(a), Some(b)) => Some((b - a).max(0.0)),
            _ => None,
        };
        cost
    }
}

/// CPU time (user + system) of the calling thread: CLOCK_THREAD_CPUTIME_ID,
/// the total getrusage(RUSAGE_THREAD) splits into ru_utime and ru_stime,
/// but to the nanosecond (getrusage lags up to a tick behind for the
/// running thread, longer than a small move_pages call).
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the pointer is to a live, writable timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Busy (non-idle, non-iowait) time of all CPUs from the first line of
/// /proc/stat, in seconds.
fn cpus_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    parse_busy_ticks(stat.lines().next()?).map(|t| t as f64 / hz.max(1) as f64)
}

/// Busy ticks of a /proc/stat `cpu` line: user, nice, system, irq,
/// softirq, steal (guest time is already inside user).
pub fn parse_busy_ticks(line: &str) -> Option<u64> {
    let mut f = line.split_whitespace();
    if f.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = f.map(|x| x.parse().ok()).collect::<Option<_>>()?;
    if v.len() < 4 {
        return None;
    }
    // user nice system idle iowait irq softirq steal ...
    Some([0, 1, 2, 5, 6, 7].iter().filter_map(|&i| v.get(i)).sum())
}

/// move_pages on `addrs`, `per_call` entries per call (None: one call);
/// returns what the calls cost and the kernel's not-migrated count.
fn timed_move_pages(
    addrs: &[*mut c_void],
    to: u32,
    per_call: Option<usize>,
) -> Result<CallCost, SysFailure> {
    let per_call = per_call.unwrap_or(addrs.len()).max(1);
    let nodes = vec![to as i32; per_call.min(addrs.len())];
    let mut status = vec![0i32; per_call.min(addrs.len())];
    let meter = Meter::start();
    let mut not_migrated = 0;
    for chunk in addrs.chunks(per_call) {
        let n = chunk.len();
        loop {
            let r = meter.time(|| {
                numa::move_pages(
                    chunk,
                    Some(&nodes[..n]),
                    &mut status[..n],
                    numa::MPOL_MF_MOVE,
                )
            });
            match r {
                Ok(k) => {
                    not_migrated += k;
                    break;
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                // Old kernels: "no pages needed moving"; the status query decides.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
                Err(e) => return Err(SysFailure::syscall("move_pages", e, Some(to))),
            }
        }
    }
    let mut cost = meter.finish();
    cost.not_migrated = not_migrated as u64;
    Ok(cost)
}

/// Count pages on `node`; with `huge`, also full 2 MiB extents on it.
pub fn summarize(status: &[i32], node: u32, huge: bool) -> Placement {
    let mut p = Placement::default();
    for (i, &s) in status.iter().enumerate() {
        if s == node as i32 {
            p.on_node += 1;
        } else {
            p.elsewhere += 1;
            if p.first_off.is_none() {
                p.first_off = Some((i, s));
            }
        }
    }
    p.extents_on_node = if huge {
        status
            .chunks(PAGES_PER_HUGE)
            .filter(|c| c.len() == PAGES_PER_HUGE && c.iter().all(|&s| s == node as i32))
            .count() as u64
    } else {
        p.on_node
    };
    p
}

/// Text for a page status value (node number or negative errno).
pub fn status_text(s: i32) -> String {
    if s >= 0 {
        format!("on node {s}")
    } else {
        format!("{} ({})", errno_name(-s), io::Error::from_raw_os_error(-s))
    }
}

fn errno_name(e: i32) -> &'static str {
    match e {
        libc::EBUSY => "EBUSY",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::ENOENT => "ENOENT",
        libc::EFAULT => "EFAULT",
        libc::EACCES => "EACCES",
        libc::ENODEV => "ENODEV",
        libc::EIO => "EIO",
        _ => "errno",
    }
}

fn node_free_bytes(node: u32) -> Option<u64> {
    numa::list_nodes()?
        .into_iter()
        .find(|n| n.node == node)?
        .mem_free_kib
        .map(|k| k * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarize_counts_pages_and_extents() {
        let mut st = vec![1i32; 2 * PAGES_PER_HUGE];
        let p = summarize(&st, 1, true);
        assert_eq!(
            (p.on_node, p.elsewhere, p.extents_on_node, p.first_off),
            (1024, 0, 2, None)
        );
        st[600] = -libc::EBUSY;
        let p = summarize(&st, 1, true);
        assert_eq!((p.on_node, p.elsewhere, p.extents_on_node), (1023, 1, 1));
        assert_eq!(p.first_off, Some((600, -libc::EBUSY)));
        let p = summarize(&st, 1, false);
        assert_eq!(p.extents_on_node, 1023);
        let p = summarize(&st, 0, false);
        assert_eq!((p.on_node, p.first_off), (0, Some((0, 1))));
    }

    #[test]
    fn chunking() {
        assert_eq!(entries_per_call(None, 1), None);
        assert_eq!(entries_per_call(Some(8), 1), Some(8));
        assert_eq!(entries_per_call(Some(8), PAGES_PER_HUGE), Some(1));
        assert_eq!(entries_per_call(Some(4096), PAGES_PER_HUGE), Some(8));
    }

    #[test]
    fn busy_ticks() {
        assert_eq!(
            parse_busy_ticks("cpu  10 1 20 500 7 3 2 4 9 0"),
            Some(10 + 1 + 20 + 3 + 2 + 4)
        );
        assert_eq!(parse_busy_ticks("cpu0 10 1 20 500"), None);
        assert_eq!(parse_busy_ticks("cpu 1 x 3 4"), None);
        assert_eq!(parse_busy_ticks("cpu 1 2 3 4"), Some(6));
    }

    #[test]
    fn thread_cpu_time_advances() {
        let t0 = thread_cpu_ns();
        let mut x = 0u64;
        let start = Instant::now();
        while start.elapsed().as_millis() < 30 {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let t1 = thread_cpu_ns();
        assert!(t1 > t0, "{t0} -> {t1}");
    }

    #[test]
    fn status_texts() {
        assert_eq!(status_text(1), "on node 1");
        assert!(status_text(-libc::EBUSY).starts_with("EBUSY ("));
    }
}
