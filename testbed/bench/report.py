#!/usr/bin/python3
"""Turns the console log of the `bench` scenario into results.json,
table.md and plot.svg (and plot.png).

    report.py LOG OUTDIR [--host-load TEXT] [--build-seconds N] [--run-seconds N]

The guest prints (see testbed/scenarios/bench.sh):
    BENCH PHASE CONFIG REP {migrate-check RESULT json}
    BENCH-TIMING PHASE CONFIG REP PAGE SIZE FOLIOS key=value...
    BENCH-INFO key=value...
    BENCH-PROFILE ...   a profiled run's samples (sampled.py: profile.md)

Statistics. CPU and offload runs alternate within one boot (the order
rotates per repetition), so every offload sample has a CPU sample of the
same repetition and direction: each ratio is computed per pair, and its
median, interquartile range (IQR: the middle half of the pairs) and
min–max are reported. A goal gets a verdict only when the whole IQR of its
ratio lies on one side of the goal ("met" / "not met"); otherwise "no
verdict" (the spread straddles the goal).
"""
import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

import sampled

CONFIGS = ["cpu", "dcbm-1", "dcbm-2", "dcbm-4", "dcbm-16", "default", "c-1", "c-2", "c-4", "c-16"]
OFFLOAD = "dcbm-4"          # offload forced in the latency phase
GB = 1e9


# ---------------------------------------------------------------- parsing

def parse(log):
    info, main, lat, timing, tier = {}, [], [], [], []
    for line in Path(log).read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("BENCH-INFO "):
            f = line.split()
            if f[1] == "total":
                info["guest_seconds"] = int(f[2])
            elif f[1] == "dcbm_files":
                info["dcbm_files"] = f[2:]
            elif f[1] not in ("done", "warmed"):
                for kv in f[1:]:
                    if "=" in kv:
                        k, v = kv.split("=", 1)
                        info[k] = v
        elif line.startswith("BENCH-TIMING "):
            f = line.split()
            t = {"phase": f[1], "config": f[2], "rep": int(f[3]), "page": f[4],
                 "size": f[5], "folios": f[6]}
            for kv in f[7:]:
                k, v = kv.split("=", 1)
                try:
                    t[k] = int(v)
                except ValueError:
                    t[k] = None
            timing.append(t)
        elif line.startswith("BENCH-C "):
            # the C driver's own counters, after its run's BENCH-TIMING line
            f = line.split()
            key = (f[1], f[2], int(f[3]))
            run = next((t for t in reversed(timing)
                        if (t["phase"], t["config"], t["rep"]) == key), None)
            for kv in f[4:] if run is not None else []:
                k, v = kv.split("=", 1)
                run["c_" + k] = int(v)
        elif line.startswith("BENCH "):
            try:
                _, phase, config, rep, js = line.split(" ", 4)
                j = json.loads(js)
            except ValueError:
                continue
            # the BENCH line's REP is the repetition; the RESULT's own rep
            # counts the round trips inside one migrate-check run
            s = {**j, "inner_rep": j.get("rep"), "phase": phase, "config": config, "rep": int(rep)}
            if j.get("cmd") == "bench":
                main.append(s)
            elif j.get("cmd") == "latency":
                lat.append(s)
            elif j.get("cmd") in ("pressure", "stall"):
                tier.append(s)
    return info, main, lat, timing, tier


# ---------------------------------------------------------------- statistics

def spread(vals):
    vals = sorted(v for v in vals if v is not None)
    if not vals:
        return None
    if len(vals) == 1:
        q1 = q3 = vals[0]
    else:
        q1, _, q3 = statistics.quantiles(vals, n=4, method="inclusive")
    return {"median": statistics.median(vals), "q1": q1, "q3": q3,
            "min": vals[0], "max": vals[-1], "n": len(vals)}


def paired(off, cpu, f):
    """f(off_sample, cpu_sample) over the pairs with the same key."""
    out = []
    for k, o in off.items():
        c = cpu.get(k)
        if c is not None:
            try:
                out.append(f(o, c))
            except (ZeroDivisionError, TypeError):
                pass
    return out


def verdict(s, goal, at_least=True):
    """'met' / 'not met' when the whole IQR is on one side of the goal."""
    if not s:
        return "no data"
    lo, hi = s["q1"], s["q3"]
    if at_least:
        return "met" if lo >= goal else "not met" if hi < goal else "no verdict"
    return "met" if hi <= goal else "not met" if lo > goal else "no verdict"


def fmt(v, d=2):
    return "–" if v is None else f"{v:.{d}f}"


def fs(s, d=2, scale=1.0, minmax=True):
    """median [q1–q3] (min–max)"""
    if not s:
        return "–"
    m = lambda v: f"{v * scale:.{d}f}"
    t = f"{m(s['median'])} [{m(s['q1'])}–{m(s['q3'])}]"
    if minmax:
        t += f" ({m(s['min'])}–{m(s['max'])})"
    return t


# ---------------------------------------------------------------- counters

def counter_rows(timing, phase, keyf):
    """Per-run offload-path figures, grouped by keyf(t)."""
    g = defaultdict(list)
    for t in timing:
        if t["phase"] == phase:
            g[keyf(t)].append(t)
    out = {}
    for k, ts in g.items():
        per_folio, per_batch, desc, fpb, wait, irq, mapping, wake, irq_lat = [], [], [], [], [], [], [], [], []
        tot = defaultdict(int)
        for t in ts:
            for c in ("batches", "setup_ns", "wait_ns", "teardown_ns", "submit_wait_ns", "map_ns",
                      "folios_migrated",
                      "folios_declined", "folios_failures", "descriptors", "pool_waits",
                      "busy_declines", "thp_migration_split", "thp_migration_fail",
                      "compact_stall", "pgmigrate_fail", "swdma_interrupts", "swdma_interrupt_requests",
                      "swdma_wakes", "swdma_irqs_timed"):
                tot[c] += t.get(c) or 0
            if t.get("swdma_wakes"):
                wake.append(t["swdma_wake_ns"] / t["swdma_wakes"] / 1e3)
            if t.get("swdma_irqs_timed"):
                irq_lat.append(t["swdma_irq_ns"] / t["swdma_irqs_timed"] / 1e3)
            # (a main-phase run moves its region there and back)
            if t.get("swdma_interrupts") is not None and t["size"].isdigit() and int(t["size"]):
                irq.append(t["swdma_interrupts"] / (2 * int(t["size"])))
            b, fm = t.get("batches") or 0, t.get("folios_migrated") or 0
            # Setup's waits for the batch's own descriptors (submit_wait_ns,
            # a lane at its bound, a full pool) are the engine's time.
            sw = t.get("submit_wait_ns") or 0
            ovh = (t.get("setup_ns") or 0) - sw + (t.get("teardown_ns") or 0)
            if b:
                per_batch.append(ovh / b / 1e3)
                wait.append(((t.get("wait_ns") or 0) + sw) / b / 1e3)
                if t.get("map_ns") is not None:
                    mapping.append(t["map_ns"] / b / 1e3)
                if t.get("descriptors") is not None:
                    desc.append(t["descriptors"] / b)
            if fm:
                per_folio.append(ovh / fm / 1e3)
                if b:
                    fpb.append(fm / b)
        out[k] = {"runs": len(ts), **tot,
                  "overhead_us_per_folio": spread(per_folio),
                  "overhead_us_per_batch": spread(per_batch),
                  "wait_us_per_batch": spread(wait),
                  "map_us_per_batch": spread(mapping),
                  "engine_wake_us": spread(wake),
                  "engine_irq_us": spread(irq_lat),
                  "descriptors_per_batch": spread(desc),
                  "interrupts_per_mib": spread(irq),
                  "folios_per_batch": spread(fpb)}
    return out


# ---------------------------------------------------------------- main phase

def main_rows(samples, timing):
    g = defaultdict(dict)
    for s in samples:
        g[(s["page"], s["size_mib"], s["config"])][(s["rep"], s["direction"])] = s
    ctr = counter_rows(timing, "main", lambda t: (t["page"], int(t["size"]), t["config"]))
    rows = []
    for (page, size, config), ss in g.items():
        cpu = g.get((page, size, "cpu"), {})
        vals = list(ss.values())
        per_gb = lambda s: s["cpu_seconds"] / (s["bytes_moved"] / GB) if s["bytes_moved"] else None
        busy_gb = lambda s: (s["busy_seconds"] / (s["bytes_moved"] / GB)
                             if s.get("busy_seconds") is not None and s["bytes_moved"] else None)
        r = {"page": page, "size_mib": size, "config": config, "n": len(vals),
             "all_ok": all(s["ok"] for s in vals),
             "fallback_pages": sum(s.get("fallback_pages", 0) for s in vals),
             "gbps": spread([s["gbps"] for s in vals]),
             "cpu_s_per_gb": spread([per_gb(s) for s in vals]),
             "busy_s_per_gb": spread([busy_gb(s) for s in vals]),
             "counters": ctr.get((page, size, config))}
        if config != "cpu":
            r["ratio"] = spread(paired(ss, cpu, lambda o, c: o["gbps"] / c["gbps"]))
            r["cpu_time_ratio"] = spread(paired(ss, cpu, lambda o, c: per_gb(o) / per_gb(c)))
        cref = g.get((page, size, "c-" + config[5:])) if config.startswith("dcbm-") else None
        if cref:
            # dcbm against the C reference on as many channels, per pair
            r["vs_c"] = spread(paired(ss, cref, lambda o, c: o["gbps"] / c["gbps"]))
        rows.append(r)
    order = {c: i for i, c in enumerate(CONFIGS)}
    rows.sort(key=lambda r: (r["page"] != "4k", r["size_mib"], order.get(r["config"], 99)))
    return rows


# ---------------------------------------------------------------- latency phase

def lat_rows(samples, timing):
    g = defaultdict(dict)
    for s in samples:
        g[(s["page"], s["folios"], s["config"])][(s["rep"], s["inner_rep"], s["direction"])] = s
    ctr = counter_rows(timing, "latency", lambda t: (t["page"], int(t["folios"]), t["config"]))
    rows = []
    for (page, n, config), ss in g.items():
        cpu = g.get((page, n, "cpu"), {})
        vals = list(ss.values())
        r = {"page": page, "folios": n, "config": config, "n": len(vals),
             "all_ok": all(s["ok"] for s in vals),
             "us": spread([s["seconds"] * 1e6 for s in vals]),
             "cpu_us": spread([s["cpu_seconds"] * 1e6 for s in vals]),
             "counters": ctr.get((page, n, config))}
        if config != "cpu":
            r["speed"] = spread(paired(ss, cpu, lambda o, c: c["seconds"] / o["seconds"]))
            r["cpu_time_ratio"] = spread(paired(ss, cpu, lambda o, c: o["cpu_seconds"] / c["cpu_seconds"]))
            # the task CPU time offload adds per folio, net of the copy it
            # no longer does (paired difference)
            r["task_cpu_added_us_per_folio"] = spread(
                paired(ss, cpu, lambda o, c: (o["cpu_seconds"] - c["cpu_seconds"]) * 1e6 / n))
        cref = g.get((page, n, "c-" + config[5:])) if config.startswith("dcbm-") else None
        if cref:
            r["vs_c"] = spread(paired(ss, cref, lambda o, c: c["seconds"] / o["seconds"]))
        rows.append(r)
    order = {c: i for i, c in enumerate(CONFIGS)}
    rows.sort(key=lambda r: (r["page"] != "4k", r["folios"], order.get(r["config"], 99)))
    return rows


def crossover(lrows, page, config=OFFLOAD):
    """Where offload forced overtakes the CPU copy, if anywhere."""
    rs = sorted((r for r in lrows if r["page"] == page and r["config"] == config and r.get("speed")),
                key=lambda r: r["folios"])
    if not rs:
        return None
    unit = "THP" if page == "thp" else "x 4 KiB"
    meds = ", ".join(f"{r['folios']}: {r['speed']['median']:.2f} [{r['speed']['q1']:.2f}–{r['speed']['q3']:.2f}]"
                     for r in rs)
    faster = [r["folios"] for r in rs if r["speed"]["q1"] >= 1.0]
    slower = [r["folios"] for r in rs if r["speed"]["q3"] < 1.0]
    if faster:
        t = f"offload faster (whole IQR above 1) at {', '.join(map(str, faster))} {unit} per call"
    elif len(slower) == len(rs):
        t = "no crossover: offload slower (whole IQR below 1) at every batch size measured"
    else:
        t = ("no crossover shown: offload slower (whole IQR below 1) at "
             + (", ".join(map(str, slower)) if slower else "none")
             + f" {unit} per call, the others straddle 1")
    return f"{page}: {t} (speed vs CPU, median [IQR], by folios per call: {meds})"


# ---------------------------------------------------------------- goals

def goals(mrows, lrows):
    out = []
    thp = [r for r in mrows if r["page"] == "thp" and r.get("ratio")]

    def add(goal, rows_desc, v, detail):
        out.append({"goal": goal, "verdict": v, "detail": detail, "rows": rows_desc})

    # 1. THP >= 1.3x CPU, per offload configuration.
    for r in thp:
        if r["config"] in ("default", OFFLOAD):
            add("THP throughput >= 1.3x the CPU copy", f"{r['config']}, {r['size_mib']} MiB",
                verdict(r["ratio"], 1.3), f"ratio {fs(r['ratio'])}")
    # 2. 4 KiB forced >= 0.6x CPU.
    for r in mrows:
        if r["page"] == "4k" and r["config"] == OFFLOAD and r.get("ratio"):
            add("4 KiB, offload forced: throughput >= 0.6x the CPU copy", f"{r['config']}, {r['size_mib']} MiB",
                verdict(r["ratio"], 0.6), f"ratio {fs(r['ratio'])}")
    for r in lrows:
        if r["page"] == "4k" and r["config"] == OFFLOAD and r.get("speed"):
            add("4 KiB, offload forced: one call >= 0.6x the CPU copy's speed", f"{r['folios']} x 4 KiB per call",
                verdict(r["speed"], 0.6), f"speed ratio {fs(r['speed'])}")
    # 3. offload path <= 10 us per 4 KiB folio.
    for r in mrows + lrows:
        c = r.get("counters") or {}
        s = c.get("overhead_us_per_folio")
        if r["page"] == "4k" and r["config"].startswith("dcbm-") and s:
            where = f"{r['config']}, " + (f"{r['size_mib']} MiB" if "size_mib" in r else f"{r['folios']} x 4 KiB per call")
            add("4 KiB: offload path's own cost (setup − submit waits + teardown) <= 10 µs per folio", where,
                verdict(s, 10.0, at_least=False), f"µs/folio {fs(s, 1)}")
    # 4. default policy never below 0.97x in any row.
    for r in mrows:
        if r["config"] == "default" and r.get("ratio"):
            add("default policy >= 0.97x the CPU copy in every row", f"{r['page']}, {r['size_mib']} MiB",
                verdict(r["ratio"], 0.97), f"ratio {fs(r['ratio'])}")
    for r in lrows:
        if r["config"] == "default" and r.get("speed"):
            add("default policy >= 0.97x the CPU copy in every row",
                f"{r['page']}, {r['folios']} {'THP' if r['page'] == 'thp' else 'x 4 KiB'} per call",
                verdict(r["speed"], 0.97), f"speed ratio {fs(r['speed'])}")
    # 5. THP task CPU time per GB <= 0.25x.
    for r in thp:
        if r["config"] in ("default", OFFLOAD) and r.get("cpu_time_ratio"):
            add("THP: migrating task's CPU time per GB <= 0.25x the CPU copy's", f"{r['config']}, {r['size_mib']} MiB",
                verdict(r["cpu_time_ratio"], 0.25, at_least=False), f"ratio {fs(r['cpu_time_ratio'])}")
    return out


def goal_summary(gl):
    """One verdict per goal: met if every row met, not met if any row did
    not, else no verdict."""
    by = defaultdict(list)
    for g in gl:
        by[g["goal"]].append(g)
    out = []
    for goal, gs in by.items():
        vs = [g["verdict"] for g in gs]
        v = "not met" if "not met" in vs else "met" if all(x == "met" for x in vs) else "no verdict"
        out.append({"goal": goal, "verdict": v, "rows": len(gs),
                    "counts": {x: vs.count(x) for x in sorted(set(vs))}})
    return out


# ---------------------------------------------------------------- table

def engine_desc(info):
    """What the software engine was in this run (bench.sh ENGINE)."""
    mbps, mode = info.get("engine_mbps"), info.get("engine")
    if mode is None:
        return "a memcpy in a kworker, unpaced (a run from before the engine was paced)"
    if mbps in (None, "0"):
        return "unpaced: the kworker's own copy, i.e. the emulator's speed"
    how = "calibrated to the CPU path's THP migration rate" if mode == "cpu" else "set by --engine"
    cal = info.get("engine_calibration_gbps")
    cal = f" (calibration runs, GB/s: {cal.replace(',', ', ')})" if cal else ""
    return (f"each channel paced to {mbps} MB/s, {how}{cal}; a paced channel's kworker sleeps "
            f"through the copy's time, as a hardware queue takes no CPU")


def table_md(info, mrows, lrows, gl, extra):
    L = []
    L.append(f"Kernel `{info.get('kernel', '?')}`, {info.get('cpus', '?')} vCPUs (QEMU TCG), "
             f"swdma: {engine_desc(info)}; module defaults min_batch_bytes={info.get('default_min_batch_bytes')}, "
             f"min_folio_bytes={info.get('default_min_folio_bytes')}, nr_dma_chan={info.get('default_nr_dma_chan')}. "
             f"{extra}\n")
    L.append("Cells: median [IQR] (min–max). Ratios are per pair: each offload sample against the CPU sample "
             "of the same repetition and direction (the configurations alternate within one boot). "
             "A verdict is given only where the whole IQR is on one side of the goal.\n")
    L.append(f"### Throughput and the migrating task's CPU time (whole region in one move_pages call; "
             f"{info.get('reps')} reps x there and back)\n")
    L.append("`dcbm-N` = N channels, thresholds 0 (offload forced); `default` = the module's defaults. "
             "GB/s = bytes moved / time inside move_pages. task CPU = the migrating thread's user + system "
             "time inside the call (CLOCK_THREAD_CPUTIME_ID); all-CPU busy = both vCPUs' busy time over the "
             "call (/proc/stat, clock-tick resolution: 4 ms at HZ=250), which includes the software engine's kworker.\n")
    L.append("`c-N` = the C reference driver (the v5 posting's dcbm.c, built unchanged as module `dcbm_c`) on N channels; "
             "dcbm/C = dcbm-N's GB/s over c-N's, per pair (> 1: dcbm faster).\n")
    L.append("engine interrupts/MiB = swdma's completion interrupts raised (by descriptors that asked for one; each "
             "delivers every callback due by then; the cleanups of a status read or a full pool not counted) per MiB "
             "moved (the region there and back), for dcbm and the C reference alike.\n")
    L.append("| page | MiB | config | GB/s | ratio to CPU | dcbm/C | task CPU s/GB | task CPU ratio | all-CPU busy s/GB | folios/batch | descriptors/batch | engine interrupts/MiB | offload path µs/folio |")
    L.append("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in mrows:
        c = r.get("counters") or {}
        L.append(f"| {r['page']} | {r['size_mib']} | {r['config']} | {fs(r['gbps'], 4, minmax=False)} | "
                 f"{fs(r.get('ratio'))} | {fs(r.get('vs_c'))} | {fs(r['cpu_s_per_gb'], 3, minmax=False)} | "
                 f"{fs(r.get('cpu_time_ratio'), 2, minmax=False)} | {fmt((r['busy_s_per_gb'] or {}).get('median'), 2)} | "
                 f"{fmt((c.get('folios_per_batch') or {}).get('median'), 0)} | "
                 f"{fmt((c.get('descriptors_per_batch') or {}).get('median'), 1)} | "
                 f"{fmt((c.get('interrupts_per_mib') or {}).get('median'), 1)} | "
                 f"{fs(c.get('overhead_us_per_folio'), 1, minmax=False) if c.get('folios_migrated') else ('declined' if c.get('folios_declined') else '–')} |")
    L.append("")
    L.append("### Offload path per batch (main phase)\n")
    L.append("setup = lists, sg tables, DMA mapping, submission; wait = the engine's copy, including setup's waits "
             "for the batch's own descriptors (submit_wait_ns: a lane at its bound, a full pool); teardown = unmap, free. "
             "overhead = setup − those waits + teardown; map = the part of setup spent building and mapping the "
             "scatter-gather tables. The engine's hand-offs (swdma's, for dcbm and the C reference alike): wake = a "
             "doorbell on an idle engine to its work starting; irq = an interrupt raised to its callbacks running.\n")
    L.append("The last three columns are the kernel's (/proc/vmstat deltas over all runs of the row): THPs split "
             "or failed on migration, direct compaction stalls, pages that failed to migrate.\n")
    L.append("| page | MiB | config | batches | folios/batch | descriptors/batch | overhead µs/batch | of which map µs/batch | wait µs/batch | engine wake µs | engine irq µs | declined folios | failed folios | pool waits | busy declines | THP split/failed | compact stalls | pgmigrate_fail |")
    L.append("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in mrows:
        c = r.get("counters")
        if not c:
            continue
        off = r["config"] != "cpu"
        L.append(f"| {r['page']} | {r['size_mib']} | {r['config']} | {c['batches'] if off else '–'} | "
                 f"{fmt((c.get('folios_per_batch') or {}).get('median'), 0)} | "
                 f"{fmt((c.get('descriptors_per_batch') or {}).get('median'), 1)} | "
                 f"{fs(c.get('overhead_us_per_batch'), 0, minmax=False)} | {fs(c.get('map_us_per_batch'), 0, minmax=False)} | "
                 f"{fs(c.get('wait_us_per_batch'), 0, minmax=False)} | "
                 f"{fmt((c.get('engine_wake_us') or {}).get('median'), 0)} | {fmt((c.get('engine_irq_us') or {}).get('median'), 0)} | "
                 f"{c['folios_declined'] if off else '–'} | {c['folios_failures'] if off else '–'} | "
                 f"{c['pool_waits'] if off else '–'} | {c['busy_declines'] if off else '–'} | "
                 f"{c['thp_migration_split']}/{c['thp_migration_fail']} | {c['compact_stall']} | {c['pgmigrate_fail']} |")
    L.append("")
    L.append(f"### Latency of one move_pages call against batch size ({info.get('lat_reps')} reps x 2 round trips)\n")
    L.append(f"`{OFFLOAD}` = offload forced (thresholds 0, the default 4 channels). speed vs CPU = CPU call time / "
             "this call's time, per pair (> 1: offload faster). One call of N folios is one kernel batch up to "
             "512 x 4 KiB; THPs go one per batch.\n")
    L.append("offload path µs/folio = dcbm's setup − its waits for its own descriptors + teardown (wall time, see RESULTS.md); task CPU added µs/folio "
             "= (offload call's task CPU − the paired CPU call's) / folios: what offload costs the task net of the "
             "copy it no longer does.\n")
    L.append("| page | folios/call | config | one call µs | speed vs CPU | dcbm/C | task CPU µs | task CPU added µs/folio | batches/call | descriptors/batch | offload path µs/folio | THP split/failed, compact stalls |")
    L.append("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in lrows:
        c = r.get("counters") or {}
        calls = 6  # per run: 1 warm-up and 2 timed round trips
        bpc = (c.get("batches", 0) / (c.get("runs", 1) * calls)) if c and r["config"] != "cpu" else None
        L.append(f"| {r['page']} | {r['folios']} | {r['config']} | {fs(r['us'], 0)} | {fs(r.get('speed'))} | {fs(r.get('vs_c'))} | "
                 f"{fs(r['cpu_us'], 0, minmax=False)} | {fs(r.get('task_cpu_added_us_per_folio'), 1, minmax=False)} | {fmt(bpc, 1) if bpc is not None else '–'} | "
                 f"{fmt((c.get('descriptors_per_batch') or {}).get('median'), 1)} | "
                 f"{fs(c.get('overhead_us_per_folio'), 1, minmax=False) if c.get('folios_migrated') else ('declined' if c.get('folios_declined') else '–')} | "
                 f"{c.get('thp_migration_split', 0)}/{c.get('thp_migration_fail', 0)}, {c.get('compact_stall', 0)} |")
    L.append("")
    L.append("Crossover (offload forced against the CPU copy):\n")
    for page in ("4k", "thp"):
        x = crossover(lrows, page)
        if x:
            L.append(f"- {x}")
    L.append("")
    L.append("### Goals\n")
    L.append("| goal | row | verdict | measured |")
    L.append("| --- | --- | --- | --- |")
    for g in gl:
        v = g["verdict"]
        L.append(f"| {g['goal']} | {g['rows']} | {'**' + v + '**' if v != 'met' else v} | {g['detail']} |")
    L.append("")
    L.append("| goal | overall |")
    L.append("| --- | --- |")
    for g in goal_summary(gl):
        L.append(f"| {g['goal']} | {g['verdict']} ({', '.join(f'{k}: {v}' for k, v in g['counts'].items())}) |")
    L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------- tiering

TIER_CONFIGS = ["cpu", "dcbm-4", "default", "c-4"]


def tier_rows(samples, timing):
    """Demotion under pressure and promotion, per configuration: each
    sample joined with the kernel's and dcbm's deltas of its run, ratios
    per pair against the CPU run of the same repetition."""
    tim = {(t["phase"], t["config"], t["rep"]): t for t in timing}
    rows = []
    for phase in ("tiering", "promotion"):
        by = defaultdict(dict)
        for smp in samples:
            if smp["phase"] != phase:
                continue
            t = tim.get((phase, smp["config"], smp["rep"]), {})
            v = lambda k: t.get(k) or 0
            secs = smp.get("seconds") or 0
            if phase == "tiering":
                moved = v("pgdemote_kswapd") + v("pgdemote_direct")
            else:
                moved = v("pgpromote_success")
            by[smp["config"]][smp["rep"]] = {
                "seconds": secs,
                "pages": moved,
                "mbps": moved * 4096 / 1e6 / secs if secs else None,
                "stalls": v("allocstall_normal") + v("allocstall_movable"),
                # the workload's cgroup: time it stalled on memory (PSI)
                "stall_ms": t["psi_some_us"] / 1000 if t.get("psi_some_us") is not None else None,
                "dma_share": ((v("folios_migrated") + v("c_folios_migrated")) / moved) if moved else None,
                "longest_gap_ms": smp.get("longest_gap_ms"),
                "ok": smp.get("ok"),
            }
        cpu = by.get("cpu", {})
        for conf in TIER_CONFIGS:
            runs = by.get(conf)
            if not runs:
                continue
            col = lambda k: spread([r[k] for r in runs.values()])
            row = {"phase": phase, "config": conf, "runs": len(runs),
                   "all_ok": all(r["ok"] for r in runs.values()),
                   "seconds": col("seconds"), "pages": col("pages"), "mbps": col("mbps"),
                   "stalls": col("stalls"), "stall_ms": col("stall_ms"), "dma_share": col("dma_share"),
                   "longest_gap_ms": col("longest_gap_ms")}
            if conf != "cpu":
                row["time_ratio"] = spread(paired(runs, cpu, lambda o, c: o["seconds"] / c["seconds"]))
                row["mbps_ratio"] = spread(paired(runs, cpu, lambda o, c: o["mbps"] / c["mbps"]))
                row["stall_ratio"] = spread(paired(runs, cpu, lambda o, c: o["stall_ms"] / c["stall_ms"]))
            rows.append(row)
    return rows


def tier_md(info, trows):
    if not trows:
        return ""
    L = [f"### Tiering: demotion under memory pressure, promotion ({info.get('tier_reps')} reps)\n",
         f"The tiered machine (node 1 a lower memory tier, QEMU's HMAT). Demotion: `migrate-check pressure`, "
         f"{info.get('cold_mib')} MiB of 4 KiB pages on node 0 written to all along, then {info.get('hot_mib')} MiB more "
         f"bound to node 0 (of {info.get('node0_mib')} MiB), so that kswapd and direct reclaim demote to node 1. "
         "run time = the second region's allocation and fill (what the pressure costs the workload, "
         "reclaim stalls included); MB/s demoted = pages demoted (pgdemote_kswapd + pgdemote_direct) / run time; "
         "stalls = direct reclaim entries (allocstall); stall ms = the time the workload's tasks stalled on memory "
         "(direct reclaim, compaction: PSI's `some` total of their cgroup; kswapd is not in it). Promotion: `migrate-check stall`, 64 MiB placed on node 1, "
         "touched for 10 s with `numa_balancing=2`: MB/s promoted = pgpromote_success / run time. "
         "by DMA = dcbm's folios copied / pages moved. Ratios per pair against the CPU run of the same repetition.\n"]
    L.append("| path | config | run time s | time vs CPU | MB/s moved | MB/s vs CPU | direct reclaim stalls | stall ms | stall vs CPU | by DMA | longest gap ms | intact |")
    L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in trows:
        name = "demotion" if r["phase"] == "tiering" else "promotion"
        L.append(f"| {name} | {r['config']} | {fs(r['seconds'], 1, minmax=False)} | {fs(r.get('time_ratio'))} | "
                 f"{fs(r['mbps'], 1)} | {fs(r.get('mbps_ratio'))} | {fs(r['stalls'], 0, minmax=False)} | "
                 f"{fs(r['stall_ms'], 0, minmax=False)} | {fs(r.get('stall_ratio'))} | "
                 f"{fs(r['dma_share'], 2, minmax=False)} | "
                 f"{fs(r['longest_gap_ms'], 0, minmax=False) if r['phase'] == 'promotion' else '–'} | "
                 f"{'yes' if r['all_ok'] else '**no**'} |")
    L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------- plot

def plot(mrows, lrows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {"cpu": dict(color="black", linestyle="--", marker="s"),
              "dcbm-1": dict(color="tab:orange", marker="o"),
              "dcbm-2": dict(color="tab:blue", marker="o"),
              "dcbm-4": dict(color="tab:green", marker="o"),
              "dcbm-16": dict(color="tab:red", marker="o"),
              "default": dict(color="tab:purple", linestyle=":", marker="^"),
              "c-1": dict(color="tab:orange", linestyle="-.", marker="x"),
              "c-2": dict(color="tab:blue", linestyle="-.", marker="x"),
              "c-4": dict(color="tab:green", linestyle="-.", marker="x"),
              "c-16": dict(color="tab:red", linestyle="-.", marker="x")}
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))

    def err(ss):
        return [[s["median"] - s["q1"] for s in ss], [s["q3"] - s["median"] for s in ss]]

    for ax, page in ((axes[0], "4k"), (axes[1], "thp")):
        for c in CONFIGS:
            rs = sorted((r for r in lrows if r["page"] == page and r["config"] == c), key=lambda r: r["folios"])
            if rs:
                ss = [r["us"] for r in rs]
                ax.errorbar([r["folios"] for r in rs], [s["median"] / 1e3 for s in ss],
                            yerr=[[v / 1e3 for v in e] for e in err(ss)], label=c, capsize=3, **styles[c])
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(("4 KiB folios" if page == "4k" else "THPs") + " per move_pages call")
        ax.set_ylabel("one call, ms (median, IQR)")
        ax.set_title(f"{page}: latency of one call against batch size")
        ax.legend()
        ax.grid(alpha=0.3)

    ax = axes[2]
    big = max((r["size_mib"] for r in mrows), default=0)
    for page, color in (("4k", "tab:blue"), ("thp", "tab:red")):
        rs = [r for r in mrows if r["page"] == page and r["size_mib"] == big]
        ch = sorted((r for r in rs if r["config"].startswith("dcbm-")), key=lambda r: int(r["config"][5:]))
        if ch:
            ss = [r["gbps"] for r in ch]
            ax.errorbar([int(r["config"][5:]) for r in ch], [s["median"] for s in ss], yerr=err(ss),
                        color=color, marker="o", capsize=3, label=f"dcbm {page}")
        cref = sorted((r for r in rs if r["config"].startswith("c-")), key=lambda r: int(r["config"][2:]))
        if cref:
            ss = [r["gbps"] for r in cref]
            ax.errorbar([int(r["config"][2:]) for r in cref], [s["median"] for s in ss], yerr=err(ss),
                        color=color, marker="x", linestyle="-.", capsize=3, label=f"C reference {page}")
        cpu = [r for r in rs if r["config"] == "cpu"]
        if cpu:
            s = cpu[0]["gbps"]
            ax.axhline(s["median"], color=color, linestyle="--", label=f"CPU {page}")
            ax.axhspan(s["q1"], s["q3"], color=color, alpha=0.1)
    ax.set_xscale("log", base=2)
    ax.set_xticks([1, 2, 4, 16])
    ax.set_xticklabels(["1", "2", "4", "16"])
    ax.set_xlabel("channels (dcbm: thresholds 0)")
    ax.set_ylabel("GB/s (median, IQR)")
    ax.set_title(f"{big} MiB in one call: throughput against channels")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.suptitle("dcbm with the software engine (swdma) under QEMU TCG, 2 vCPUs, bench kernel — not hardware numbers")
    fig.tight_layout()
    fig.savefig(path)
    fig.savefig(path.with_suffix(".png"), dpi=80)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("outdir")
    ap.add_argument("--host-load", default=None, help="uptime output before/after the run")
    ap.add_argument("--note", default="", help="a sentence for the table's header")
    a = ap.parse_args()
    outdir = Path(a.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    info, msamples, lsamples, timing, tsamples = parse(a.log)
    prof = sampled.markdown([ln.strip() for ln in Path(a.log).read_text(errors="replace").splitlines()
                             if ln.strip().startswith("BENCH-PROFILE ")])
    if not msamples and not lsamples:
        raise SystemExit(f"no BENCH lines in {a.log}")
    mrows = main_rows(msamples, timing)
    lrows = lat_rows(lsamples, timing)
    gl = goals(mrows, lrows)
    trows = tier_rows(tsamples, timing)
    extra = a.note
    if a.host_load:
        extra += f" Host load: {a.host_load}."
    res = {"info": info, "host_load": a.host_load, "main": mrows, "latency": lrows, "goals": gl,
           "goal_summary": goal_summary(gl), "tiering": trows, "samples_main": msamples,
           "samples_latency": lsamples, "samples_tiering": tsamples,
           "timing": timing}
    (outdir / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    (outdir / "table.md").write_text(table_md(info, mrows, lrows, gl, extra.strip()) + "\n" + tier_md(info, trows))
    plot(mrows, lrows, outdir / "plot.svg")
    if prof:
        (outdir / "profile.md").write_text(prof)
    print(f"wrote {outdir}/results.json, table.md, plot.svg, plot.png" + (", profile.md" if prof else ""))


if __name__ == "__main__":
    main()
