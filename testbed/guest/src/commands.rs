//! The subcommands: run, loop, bench, nodes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cli::{
    BenchArgs, Common, LatencyArgs, LoopArgs, PageKind, PressureArgs, RunArgs, StallArgs,
    EXIT_CORRUPT, EXIT_NOT_MIGRATED, EXIT_OK, EXIT_SYSCALL,
};
use crate::mapping::{HUGE_SIZE, PAGE_SIZE};
use crate::numa;
use crate::pattern::{BadWord, Verify};
use crate::report::{self, Json};
use crate::workload::{status_text, MoveOutcome, SysFailure, Workload};

/// Accumulated results of a run or loop.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub rounds: u64,
    pub moves: u64,
    pub pages_attempted: u64,
    pub pages_moved: u64,
    pub pages_not_moved: u64,
    pub folios_moved: u64,
    pub fallback_pages: u64,
    pub seconds: f64,
    pub verifications: u64,
    pub corrupt_words: u64,
    pub first_bad: Option<BadWord>,
    pub first_not_moved_status: Option<i32>,
}

impl Totals {
    pub fn add_move(&mut self, m: &MoveOutcome) {
        self.moves += 1;
        self.pages_attempted += m.pages;
        self.pages_moved += m.placement.on_node;
        self.pages_not_moved += m.placement.elsewhere;
        self.folios_moved += m.placement.extents_on_node;
        self.fallback_pages += m.fallback_pages;
        self.seconds += m.seconds;
        if self.first_not_moved_status.is_none() {
            self.first_not_moved_status = m.placement.first_off.map(|(_, s)| s);
        }
    }

    pub fn add_verify(&mut self, v: &Verify) {
        self.verifications += 1;
        self.corrupt_words += v.corrupt_words;
        if self.first_bad.is_none() {
            self.first_bad = v.first_bad;
        }
    }

    pub fn bytes_moved(&self) -> u64 {
        self.pages_moved * 4096
    }

    /// More than 1% of the attempted page moves left a page elsewhere.
    pub fn not_migrated(&self) -> bool {
        self.pages_not_moved * 100 > self.pages_attempted
    }

    pub fn exit_code(&self, failed: bool) -> i32 {
        if self.corrupt_words > 0 {
            EXIT_CORRUPT
        } else if failed {
            EXIT_SYSCALL
        } else if self.not_migrated() {
            EXIT_NOT_MIGRATED
        } else {
            EXIT_OK
        }
    }
}

/// Fields shared by all workload RESULT lines.
fn head(cmd: &str, c: &Common, size_mib: u64) -> Json {
    Json::new()
        .str("cmd", cmd)
        .str("api", c.api.as_str())
        .str("page", c.page.as_str())
        .u64("size_mib", size_mib)
        .u64("from_node", c.from_node.into())
        .u64("to_node", c.to_node.into())
        .str("thp_entries", c.thp_entries.as_str())
        .opt_u64("chunk_pages", c.chunk_pages)
}

pub fn totals_json(j: Json, t: &Totals, thp: Option<u64>, thp_end: Option<u64>) -> Json {
    j.u64("rounds", t.rounds)
        .u64("moves", t.moves)
        .u64("pages_moved", t.pages_moved)
        .u64("pages_not_moved", t.pages_not_moved)
        .u64("folios_moved", t.folios_moved)
        .u64("fallback_pages", t.fallback_pages)
        .opt_u64("thp_huge_bytes", thp)
        .opt_u64("thp_huge_bytes_end", thp_end)
        .u64("bytes_moved", t.bytes_moved())
        .f64("seconds", t.seconds)
        .f64("gbps", report::gbps(t.bytes_moved(), t.seconds))
        .u64("verifications", t.verifications)
        .u64("corrupt_words", t.corrupt_words)
        .opt_u64("first_bad_offset", t.first_bad.map(|b| b.offset))
}

fn finish(j: Json, code: i32, error: Option<&SysFailure>) -> i32 {
    let msg = error.map(|e| e.to_string());
    let j = j
        .i64("exit_code", code.into())
        .bool("ok", code == EXIT_OK)
        .opt_str("error", msg.as_deref());
    println!("{}", j.result_line());
    code
}

fn report_corruption(v: &Verify, node: u32, what: &str) {
    if let Some(b) = v.first_bad {
        eprintln!(
            "CORRUPTION after {what} (region on node {node}): {} bad words; first at offset {:#x} (page {}): expected {:#018x} got {:#018x}",
            v.corrupt_words,
            b.offset,
            b.offset / 4096,
            b.expected,
            b.got
        );
    }
}

fn report_move(m: &MoveOutcome) {
    eprintln!(
        "moved {} -> {}: {}/{} pages on target, {} extents, {:.6} s, {:.3} GB/s{}",
        m.from,
        m.to,
        m.placement.on_node,
        m.pages,
        m.placement.extents_on_node,
        m.seconds,
        report::gbps(m.bytes_moved(), m.seconds),
        if m.fallback_pages > 0 {
            format!(", {} pages needed per-page fallback", m.fallback_pages)
        } else {
            String::new()
        }
    );
    if let Some((idx, s)) = m.placement.first_off {
        eprintln!(
            "  {} pages not on node {}; first: page {idx}: {}",
            m.placement.elsewhere,
            m.to,
            status_text(s)
        );
    }
}

fn describe_setup(w: &Workload, c: &Common, size_mib: u64) {
    eprintln!(
        "region {size_mib} MiB ({} pages, {}), initially {}/{} pages on node {}, THP-backed: {}",
        w.pages(),
        c.page.as_str(),
        w.initial.on_node,
        w.pages(),
        c.from_node,
        w.thp_huge_bytes.map_or_else(
            || "unknown (/proc not mounted)".to_string(),
            |b| format!("{} MiB", b >> 20)
        )
    );
    if let Some((idx, s)) = w.initial.first_off {
        eprintln!(
            "  warning: page {idx} not on node {}: {}",
            c.from_node,
            status_text(s)
        );
    }
    if c.from_node == c.to_node {
        eprintln!(
            "  note: --from-node == --to-node: pages stay put, GB/s is syscall overhead only"
        );
    }
    if c.page == PageKind::Thp && w.thp_huge_bytes == Some(0) {
        eprintln!("  warning: no THP backing; check /sys/kernel/mm/transparent_hugepage/enabled");
    }
}

/// Stop condition for `run_rounds`.
enum Until<'a> {
    Rounds(u64),
    Deadline(Instant, &'a AtomicBool),
}

impl Until<'_> {
    fn stop_requested(&self) -> bool {
        match self {
            Until::Rounds(_) => false,
            Until::Deadline(_, flag) => flag.load(Ordering::Relaxed),
        }
    }

    fn done_after(&self, rounds_done: u64) -> bool {
        match self {
            Until::Rounds(n) => rounds_done >= *n,
            Until::Deadline(t, flag) => flag.load(Ordering::Relaxed) || Instant::now() >= *t,
        }
    }
}

/// Rounds of: fill, move to `to`, verify, move back, verify. Stops at the
/// first corruption.
fn run_rounds(
    w: &mut Workload,
    c: &Common,
    until: &Until,
    t: &mut Totals,
) -> Result<(), SysFailure> {
    let mut round = 0u64;
    loop {
        w.fill(round);
        for target in [c.to_node, c.from_node] {
            let m = if c.writer {
                let (m, lost, stores) = w.migrate_while_writing(target, round)?;
                eprintln!("writer: {stores} stores while moving to node {target}, {lost} lost");
                if lost > 0 {
                    eprintln!("CORRUPTION: {lost} pages lost a write made while they moved to node {target}");
                    t.corrupt_words += lost;
                }
                m
            } else {
                w.migrate(target)?
            };
            report_move(&m);
            t.add_move(&m);
            let v = w.verify(round);
            t.add_verify(&v);
            if !v.ok() {
                report_corruption(&v, target, &format!("round {round} move to node {target}"));
                t.rounds = round + 1;
                return Ok(());
            }
            if until.stop_requested() {
                t.rounds = round + 1;
                return Ok(());
            }
        }
        round += 1;
        t.rounds = round;
        if until.done_after(round) {
            return Ok(());
        }
    }
}

fn workload_cmd(cmd: &str, c: &Common, size_mib: u64, until: Until) -> i32 {
    let mut t = Totals::default();
    let j = head(cmd, c, size_mib).u64("seed", c.seed);
    let mut w = match Workload::new(c, size_mib) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return finish(totals_json(j, &t, None, None), EXIT_SYSCALL, Some(&e));
        }
    };
    describe_setup(&w, c, size_mib);
    let res = run_rounds(&mut w, c, &until, &mut t);
    let j = totals_json(j, &t, w.thp_huge_bytes, w.thp_now())
        .u64("initial_pages_off_node", w.initial.elsewhere);
    if let Some(flag) = match &until {
        Until::Deadline(_, f) => Some(f),
        Until::Rounds(_) => None,
    } {
        eprintln!(
            "loop ended: {}",
            if flag.load(Ordering::Relaxed) {
                "signal"
            } else {
                "time"
            }
        );
    }
    if let Err(e) = &res {
        eprintln!("error: {e}");
    }
    let code = t.exit_code(res.is_err());
    if code == EXIT_NOT_MIGRATED {
        eprintln!(
            "NOT MIGRATED: {} of {} page moves left the page elsewhere (first status: {})",
            t.pages_not_moved,
            t.pages_attempted,
            t.first_not_moved_status
                .map_or_else(|| "?".into(), status_text)
        );
    }
    finish(j, code, res.as_ref().err())
}

/// `stall`: see the command's help. The figures are of the touching loop
/// alone: a gap is the time between two consecutive page touches.
pub fn stall(a: &StallArgs) -> i32 {
    let c = &a.common;
    let j = head("stall", c, a.size_mib).u64("seed", c.seed);
    let mut w = match Workload::new(c, a.size_mib) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return finish(j, EXIT_SYSCALL, Some(&e));
        }
    };
    w.fill(0);
    let limit = std::time::Duration::from_secs_f64(a.seconds.max(0.0));
    let stall = std::time::Duration::from_secs_f64(a.stall_ms.max(0.0) / 1000.0);
    let start = std::time::Instant::now();
    let mut last = start;
    let (mut longest, mut lost) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    let (mut passes, mut stalls) = (0u64, 0u64);
    while start.elapsed() < limit {
        w.touch_pages(|| {
            let now = std::time::Instant::now();
            let gap = now - last;
            last = now;
            longest = longest.max(gap);
            if gap >= stall {
                lost += gap;
                stalls += 1;
            }
        });
        passes += 1;
    }
    let v = w.verify(0);
    let on = w.placement(c.to_node);
    let j = j
        .f64("seconds", start.elapsed().as_secs_f64())
        .u64("passes", passes)
        .f64("longest_gap_ms", longest.as_secs_f64() * 1000.0)
        .u64("stalls", stalls)
        .f64("stall_ms", lost.as_secs_f64() * 1000.0)
        .u64("pages", w.pages())
        .opt_u64("pages_on_to_node", on.as_ref().ok().map(|p| p.on_node))
        .u64("corrupt_words", v.corrupt_words);
    if let Err(e) = &on {
        eprintln!("error: {e}");
        return finish(j, EXIT_SYSCALL, Some(e));
    }
    finish(j, if v.ok() { EXIT_OK } else { EXIT_CORRUPT }, None)
}

/// `pressure`: see the command's help. The time is the second region's
/// allocation and fill: what the pressure costs the workload.
pub fn pressure(a: &PressureArgs) -> i32 {
    let c = &a.common;
    let j = head("pressure", c, a.size_mib)
        .u64("hot_mib", a.hot_mib)
        .u64("seed", c.seed);
    let mut cold = match Workload::new(c, a.size_mib) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return finish(j, EXIT_SYSCALL, Some(&e));
        }
    };
    cold.fill(0);
    // The hot region takes a different pattern, so that a page of one
    // region copied into the other shows.
    let hot_common = Common {
        seed: c.seed.wrapping_add(1),
        ..c.clone()
    };
    let start = std::time::Instant::now();
    let pause = std::time::Duration::from_millis(a.writer_pause_ms);
    let (hot, writes) = cold.while_writing_cold(pause, || {
        let mut hot = Workload::new_bound(&hot_common, a.hot_mib)?;
        hot.fill(0);
        Ok(hot)
    });
    let seconds = start.elapsed().as_secs_f64();
    let mut hot = match hot {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return finish(j, EXIT_SYSCALL, Some(&e));
        }
    };
    let lost = writes.lost;
    let (vc, vh) = (cold.verify(0), hot.verify(0));
    report_corruption(&vc, c.to_node, "cold region");
    report_corruption(&vh, c.to_node, "hot region");
    let (on_c, on_h) = (cold.placement(c.to_node), hot.placement(c.to_node));
    let j = j
        .f64("seconds", seconds)
        .u64("pages", cold.pages())
        .opt_u64("pages_on_to_node", on_c.as_ref().ok().map(|p| p.on_node))
        .opt_u64(
            "hot_pages_on_to_node",
            on_h.as_ref().ok().map(|p| p.on_node),
        )
        .u64("writer_stores", writes.stores)
        .u64("lost_writes", lost)
        .u64("corrupt_words", vc.corrupt_words + vh.corrupt_words);
    if let Err(e) = on_c.and(on_h) {
        eprintln!("error: {e}");
        return finish(j, EXIT_SYSCALL, Some(&e));
    }
    let ok = vc.ok() && vh.ok() && lost == 0;
    finish(j, if ok { EXIT_OK } else { EXIT_CORRUPT }, None)
}

pub fn run(a: &RunArgs) -> i32 {
    workload_cmd("run", &a.common, a.size_mib, Until::Rounds(a.rounds))
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_sig: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn install_stop_handlers() -> std::io::Result<()> {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value;
        // the handler only stores to an atomic, which is async-signal-safe,
        // and has the `extern "C" fn(c_int)` signature sa_handler expects.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

pub fn run_loop(a: &LoopArgs) -> i32 {
    if let Err(e) = install_stop_handlers() {
        let f = SysFailure::syscall("sigaction", e, None);
        eprintln!("error: {f}");
        return finish(head("loop", &a.common, a.size_mib), EXIT_SYSCALL, Some(&f));
    }
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    workload_cmd(
        "loop",
        &a.common,
        a.size_mib,
        Until::Deadline(deadline, &STOP),
    )
}

pub fn bench(a: &BenchArgs) -> i32 {
    let c = &a.common;
    let mut worst = EXIT_OK;
    for &size in &a.sizes {
        let code = bench_size(c, size, a.reps);
        if severity(code) > severity(worst) {
            worst = code;
        }
    }
    worst
}

/// Order of exit codes when several results are combined.
pub fn severity(code: i32) -> u8 {
    match code {
        EXIT_OK => 0,
        EXIT_NOT_MIGRATED => 1,
        EXIT_SYSCALL => 2,
        EXIT_CORRUPT => 3,
        _ => 4,
    }
}

fn bench_size(c: &Common, size_mib: u64, reps: u64) -> i32 {
    let mut t = Totals::default();
    let mut gbps_to = Vec::new();
    let mut gbps_back = Vec::new();
    let summary = head("bench_summary", c, size_mib).u64("reps", reps);
    let mut w = match Workload::new(c, size_mib) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return finish(summary, EXIT_SYSCALL, Some(&e));
        }
    };
    describe_setup(&w, c, size_mib);
    let mut failure = None;
    'reps: for rep in 0..reps {
        w.fill(rep);
        for (dir, target) in [("to", c.to_node), ("back", c.from_node)] {
            let m = match w.migrate(target) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("error: {e}");
                    failure = Some(e);
                    break 'reps;
                }
            };
            t.add_move(&m);
            let v = w.verify(rep);
            t.add_verify(&v);
            let g = report::gbps(m.bytes_moved(), m.seconds);
            if dir == "to" {
                &mut gbps_to
            } else {
                &mut gbps_back
            }
            .push(g);
            eprintln!(
                "size {size_mib} MiB rep {rep} {dir} ({} -> {}): {:.3} GB/s, {}/{} pages",
                m.from, m.to, g, m.placement.on_node, m.pages
            );
            let line = head("bench", c, size_mib)
                .u64("rep", rep)
                .str("direction", dir)
                .u64("src_node", m.from.into())
                .u64("dst_node", m.to.into())
                .u64("pages_moved", m.placement.on_node)
                .u64("pages_not_moved", m.placement.elsewhere)
                .u64("folios_moved", m.placement.extents_on_node)
                .u64("fallback_pages", m.fallback_pages)
                .u64("bytes_moved", m.bytes_moved())
                .f64("seconds", m.seconds)
                .u64("calls", m.calls)
                .f64("cpu_seconds", m.cpu_seconds)
                .opt_f64("busy_seconds", m.busy_seconds)
                .f64("gbps", g)
                .f64(
                    "folios_per_sec",
                    report::rate(m.placement.extents_on_node, m.seconds),
                )
                .u64("corrupt_words", v.corrupt_words)
                .opt_u64("first_bad_offset", v.first_bad.map(|b| b.offset))
                .bool("ok", v.ok() && m.placement.elsewhere == 0);
            println!("{}", line.result_line());
            if !v.ok() {
                report_corruption(&v, target, &format!("rep {rep} move {dir}"));
                break 'reps;
            }
        }
        t.rounds = rep + 1;
    }
    let all: Vec<f64> = gbps_to.iter().chain(&gbps_back).copied().collect();
    let mut j = summary
        .u64("samples", all.len() as u64)
        .u64("pages_moved", t.pages_moved)
        .u64("pages_not_moved", t.pages_not_moved)
        .opt_u64("thp_huge_bytes", w.thp_huge_bytes)
        .opt_u64("thp_huge_bytes_end", w.thp_now());
    for (prefix, samples) in [
        ("gbps", &all),
        ("gbps_to", &gbps_to),
        ("gbps_back", &gbps_back),
    ] {
        let s = report::spread(samples);
        j = j
            .f64(
                &format!("{prefix}_median"),
                s.map_or(f64::NAN, |s| s.median),
            )
            .f64(&format!("{prefix}_min"), s.map_or(f64::NAN, |s| s.min))
            .f64(&format!("{prefix}_max"), s.map_or(f64::NAN, |s| s.max));
    }
    if let Some(s) = report::spread(&all) {
        eprintln!(
            "size {size_mib} MiB: median {:.3} GB/s (min {:.3}, max {:.3}, n={})",
            s.median, s.min, s.max, s.n
        );
    }
    let j = j.u64("corrupt_words", t.corrupt_words);
    let code = t.exit_code(failure.is_some());
    finish(j, code, failure.as_ref())
}

/// Single move_pages calls of `folios` folios, there and back, each timed
/// (wall and the thread's CPU time): one `latency` RESULT line per call.
pub fn latency(a: &LatencyArgs) -> i32 {
    let c = &a.common;
    let folio = if c.page == PageKind::Thp {
        HUGE_SIZE
    } else {
        PAGE_SIZE
    };
    let mut t = Totals::default();
    let mut w = match usize::try_from(a.folios)
        .ok()
        .and_then(|n| n.checked_mul(folio))
        .ok_or_else(|| SysFailure::env("size too large".into()))
        .and_then(|len| Workload::with_len(c, len))
    {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return finish(
                head("latency_summary", c, 0).u64("folios", a.folios),
                EXIT_SYSCALL,
                Some(&e),
            );
        }
    };
    let mut failure = None;
    let mut times = Vec::new();
    'reps: for rep in 0..a.warmup + a.reps {
        let timed = rep >= a.warmup;
        w.fill(rep);
        for (dir, target) in [("to", c.to_node), ("back", c.from_node)] {
            let m = match w.migrate(target) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("error: {e}");
                    failure = Some(e);
                    break 'reps;
                }
            };
            let v = w.verify(rep);
            t.add_verify(&v);
            if !v.ok() {
                report_corruption(&v, target, &format!("rep {rep} move {dir}"));
                break 'reps;
            }
            if !timed {
                continue;
            }
            t.add_move(&m);
            times.push(m.seconds);
            let line = Json::new()
                .str("cmd", "latency")
                .str("page", c.page.as_str())
                .u64("folios", a.folios)
                .u64("rep", rep - a.warmup)
                .str("direction", dir)
                .u64("calls", m.calls)
                .f64("seconds", m.seconds)
                .f64("cpu_seconds", m.cpu_seconds)
                .u64("pages_moved", m.placement.on_node)
                .u64("pages_not_moved", m.placement.elsewhere)
                .u64("folios_moved", m.placement.extents_on_node)
                .u64("fallback_pages", m.fallback_pages)
                .bool("ok", m.placement.elsewhere == 0 && m.fallback_pages == 0);
            println!("{}", line.result_line());
        }
        t.rounds = rep + 1;
    }
    if let Some(s) = report::spread(&times) {
        eprintln!(
            "{} x {}: one call median {:.1} us (min {:.1}, max {:.1}, n={})",
            a.folios,
            c.page.as_str(),
            s.median * 1e6,
            s.min * 1e6,
            s.max * 1e6,
            s.n
        );
    }
    let j = head("latency_summary", c, 0)
        .u64("folios", a.folios)
        .u64("samples", times.len() as u64)
        .u64("corrupt_words", t.corrupt_words);
    let code = t.exit_code(failure.is_some());
    finish(j, code, failure.as_ref())
}

pub fn nodes() -> i32 {
    let Some(nodes) = numa::list_nodes() else {
        eprintln!(
            "error: /sys/devices/system/node not found (sysfs not mounted or kernel without NUMA)"
        );
        let j = Json::new()
            .str("cmd", "nodes")
            .objects("nodes", &[])
            .i64("exit_code", EXIT_SYSCALL.into())
            .bool("ok", false);
        println!("{}", j.result_line());
        return EXIT_SYSCALL;
    };
    let mut items = Vec::new();
    for n in &nodes {
        let mib = |k: Option<u64>| k.map_or_else(|| "?".to_string(), |k| (k / 1024).to_string());
        println!(
            "node {}: cpus [{}] memory {} MiB total, {} MiB free",
            n.node,
            n.cpus,
            mib(n.mem_total_kib),
            mib(n.mem_free_kib)
        );
        items.push(
            Json::new()
                .u64("node", n.node.into())
                .str("cpus", &n.cpus)
                .opt_u64("mem_total_kib", n.mem_total_kib)
                .opt_u64("mem_free_kib", n.mem_free_kib),
        );
    }
    let j = Json::new()
        .str("cmd", "nodes")
        .u64("count", nodes.len() as u64)
        .objects("nodes", &items)
        .i64("exit_code", EXIT_OK.into())
        .bool("ok", true);
    println!("{}", j.result_line());
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_precedence() {
        let mut t = Totals {
            pages_attempted: 1000,
            ..Default::default()
        };
        assert_eq!(t.exit_code(false), EXIT_OK);
        t.pages_not_moved = 10; // exactly 1%: tolerated
        assert_eq!(t.exit_code(false), EXIT_OK);
        t.pages_not_moved = 11;
        assert_eq!(t.exit_code(false), EXIT_NOT_MIGRATED);
        assert_eq!(t.exit_code(true), EXIT_SYSCALL);
        t.corrupt_words = 1;
        assert_eq!(t.exit_code(true), EXIT_CORRUPT);
        assert!(severity(EXIT_CORRUPT) > severity(EXIT_SYSCALL));
        assert!(severity(EXIT_SYSCALL) > severity(EXIT_NOT_MIGRATED));
        assert!(severity(EXIT_NOT_MIGRATED) > severity(EXIT_OK));
    }

    #[test]
    fn totals_render() {
        let t = Totals {
            rounds: 2,
            moves: 4,
            pages_moved: 4 * 16384,
            folios_moved: 128,
            seconds: 0.5,
            verifications: 4,
            ..Default::default()
        };
        let s = totals_json(Json::new(), &t, Some(64 << 20), None).render();
        assert!(s.contains(r#""pages_moved":65536"#), "{s}");
        assert!(s.contains(r#""bytes_moved":268435456"#), "{s}");
        assert!(s.contains(r#""gbps":0.536870912"#), "{s}");
        assert!(
            s.contains(r#""thp_huge_bytes":67108864,"thp_huge_bytes_end":null"#),
            "{s}"
        );
        assert!(s.contains(r#""first_bad_offset":null"#), "{s}");
    }
}
