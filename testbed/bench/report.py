#!/usr/bin/python3
"""Turns the console log of the `bench` scenario into results.json,
table.md and plot.svg (and plot.png).

    report.py LOG OUTDIR

The guest prints (see testbed/scenarios/bench.sh):
    BENCH PHASE CONFIG REP {migrate-check RESULT json}
    BENCH-TIMING PHASE CONFIG REP PAGE SIZE CHUNK key=value...
    BENCH-INFO key=value...
"""
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

CONFIGS = ["cpu", "dcbm-1", "dcbm-2", "dcbm-4", "dcbm-16", "default"]
THP_BYTES = 2 << 20


def parse(log):
    info, samples, timing = {}, [], []
    for line in Path(log).read_text(errors="replace").splitlines():
        if line.startswith("BENCH-INFO "):
            for kv in line.split()[1:]:
                if "=" in kv:
                    k, v = kv.split("=", 1)
                    info[k] = v
            if " total " in line:
                info["guest_seconds"] = int(line.split()[2])
        elif line.startswith("BENCH-TIMING "):
            f = line.split()
            t = {"phase": f[1], "config": f[2], "rep": int(f[3]), "page": f[4],
                 "size_mib": int(f[5]), "chunk": f[6]}
            for kv in f[7:]:
                k, v = kv.split("=", 1)
                t[k] = int(v)
            timing.append(t)
        elif line.startswith("BENCH "):
            _, phase, config, rep, js = line.split(" ", 4)
            j = json.loads(js)
            if j.get("cmd") != "bench":
                continue
            samples.append({
                "phase": phase, "config": config, "rep": int(rep),
                "page": j["page"], "size_mib": j["size_mib"],
                "chunk": "all" if j.get("chunk_pages") is None else str(j["chunk_pages"]),
                "direction": j["direction"], "gbps": j["gbps"],
                "folios_per_sec": j["folios_per_sec"], "seconds": j["seconds"],
                "pages_moved": j["pages_moved"], "folios_moved": j["folios_moved"],
                "fallback_pages": j["fallback_pages"], "ok": j["ok"],
            })
    return info, samples, timing


def stats(vals):
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def group(samples, phase):
    g = defaultdict(list)
    for s in samples:
        if s["phase"] == phase:
            g[(s["page"], s["size_mib"], s["chunk"], s["config"])].append(s)
    rows = []
    for (page, size, chunk, config), ss in g.items():
        rows.append({"page": page, "size_mib": size, "chunk": chunk, "config": config,
                     "gbps": stats([s["gbps"] for s in ss]),
                     "folios_per_sec": stats([s["folios_per_sec"] for s in ss]),
                     "all_ok": all(s["ok"] for s in ss)})
    cpu = {(r["page"], r["size_mib"], r["chunk"]): r["gbps"]["median"]
           for r in rows if r["config"] == "cpu"}
    for r in rows:
        base = cpu.get((r["page"], r["size_mib"], r["chunk"]))
        r["ratio_to_cpu"] = r["gbps"]["median"] / base if base else None
    order = {c: i for i, c in enumerate(CONFIGS)}
    chunk_key = lambda c: 1 << 40 if c == "all" else int(c)
    rows.sort(key=lambda r: (r["page"] != "4k", r["size_mib"], chunk_key(r["chunk"]),
                             order.get(r["config"], 99)))
    return rows


def overheads(timing, phase, by_chunk):
    """Per-batch setup/wait/teardown, summed over reps (and sizes unless by_chunk)."""
    g = defaultdict(lambda: defaultdict(int))
    for t in timing:
        if t["phase"] != phase or t["config"] == "cpu":
            continue
        key = (t["page"], t["chunk"] if by_chunk else "all", t["config"])
        for k in ("batches", "setup_ns", "wait_ns", "teardown_ns", "folios_migrated",
                  "folios_declined", "folios_failures", "bytes_migrated"):
            g[key][k] += t.get(k, 0)
    rows = []
    for (page, chunk, config), a in g.items():
        b = a["batches"]
        row = {"page": page, "chunk": chunk, "config": config, **a}
        if b:
            row.update({
                "folios_per_batch": a["folios_migrated"] / b,
                "bytes_per_batch": a["bytes_migrated"] / b,
                "setup_us": a["setup_ns"] / b / 1e3,
                "wait_us": a["wait_ns"] / b / 1e3,
                "teardown_us": a["teardown_ns"] / b / 1e3,
                "overhead_us": (a["setup_ns"] + a["teardown_ns"]) / b / 1e3,
                "overhead_pct_of_wait": 100.0 * (a["setup_ns"] + a["teardown_ns"]) / a["wait_ns"]
                if a["wait_ns"] else None,
            })
        rows.append(row)
    order = {c: i for i, c in enumerate(CONFIGS)}
    chunk_key = lambda c: 1 << 40 if c == "all" else int(c)
    rows.sort(key=lambda r: (r["page"] != "4k", chunk_key(r["chunk"]), order.get(r["config"], 99)))
    return rows


def fmt(v, d=3):
    return "–" if v is None else f"{v:.{d}f}"


def batch_label(page, chunk, size_mib):
    if page == "thp":
        return "1 THP (2 MiB)"
    pages = 512 if chunk == "all" else min(int(chunk), 512)
    return f"{pages} x 4 KiB ({pages * 4} KiB)" if pages * 4 < 1024 else f"{pages} x 4 KiB (2 MiB)"


def thp_cpu_ms(main_rows):
    """CPU migration time of one 2 MiB THP (median, main phase, largest size)."""
    cpu = [r for r in main_rows if r["page"] == "thp" and r["config"] == "cpu"]
    if not cpu:
        return None
    r = max(cpu, key=lambda r: r["size_mib"])
    fps = r["folios_per_sec"]["median"]
    return 1e3 / fps if fps else None


def goals(main_rows, sweep_rows, ovh_main):
    out = []
    thp = [r for r in main_rows if r["page"] == "thp" and r["config"] in ("dcbm-2", "dcbm-4", "dcbm-16")]
    worst = min(thp, key=lambda r: r["ratio_to_cpu"] or 0, default=None)
    out.append({"goal": "THP, >= 2 channels: dcbm >= CPU copy (median GB/s ratio >= 1.00)",
                "met": bool(thp) and all((r["ratio_to_cpu"] or 0) >= 1.0 for r in thp),
                "detail": f"worst ratio {fmt(worst['ratio_to_cpu'], 2)} ({worst['config']}, {worst['size_mib']} MiB)" if worst else "no data"})
    d4 = [r for r in main_rows + sweep_rows if r["page"] == "4k" and r["config"] == "default"]
    worst = min(d4, key=lambda r: r["ratio_to_cpu"] or 0, default=None)
    out.append({"goal": "4 KiB, default policy: >= 0.95 x CPU copy at every size and batch size",
                "met": bool(d4) and all((r["ratio_to_cpu"] or 0) >= 0.95 for r in d4),
                "detail": f"worst ratio {fmt(worst['ratio_to_cpu'], 2)} (size {worst['size_mib']} MiB, chunk {worst['chunk']})" if worst else "no data"})
    t = [r for r in ovh_main if r["page"] == "thp" and r.get("batches")]
    cpu_ms = thp_cpu_ms(main_rows)
    if t:
        pct = max(r["overhead_pct_of_wait"] or 0 for r in t)
        us = max(r["overhead_us"] for r in t)
        pct_cpu = 100.0 * us / (cpu_ms * 1e3) if cpu_ms else None
        out.append({"goal": "offload path per THP batch (setup+teardown) < 10% of a 2 MiB copy",
                    "met": pct < 10.0 and (pct_cpu is None or pct_cpu < 10.0),
                    "detail": f"worst {us:.0f} us/batch = {pct:.1f}% of the engine's wait per batch"
                              + (f", {pct_cpu:.1f}% of the CPU's {cpu_ms:.2f} ms per THP migration" if pct_cpu is not None else "")})
    return out


def table_md(info, main_rows, sweep_rows, ovh_main, ovh_sweep, gl):
    L = []
    L.append("### Throughput, whole region per move_pages call (`min_batch_bytes=0` except `default`)\n")
    L.append(f"Median over {int(info.get('reps', 0)) * 2} timed moves ({info.get('reps')} reps x there and back), "
             "GB/s = bytes moved / time inside move_pages. `default` = the module's defaults "
             f"(min_batch_bytes={info.get('default_min_batch_bytes')}, nr_dma_chan={info.get('default_nr_dma_chan')}).\n")
    L.append("| config | page | size MiB | median GB/s | min–max GB/s | folios/s | ratio to CPU |")
    L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in main_rows:
        g = r["gbps"]
        L.append(f"| {r['config']} | {r['page']} | {r['size_mib']} | {g['median']:.4f} | "
                 f"{g['min']:.4f}–{g['max']:.4f} | {r['folios_per_sec']['median']:.0f} | "
                 f"{fmt(r['ratio_to_cpu'], 2)} |")
    L.append("")
    L.append("### Offload path cost per batch (main phase, all sizes and reps)\n")
    L.append("setup = reading the lists, sg tables, DMA mapping, submitting; wait = the engine's copy; "
             "teardown = unmap, free, terminate. overhead = setup + teardown.\n")
    L.append("| config | page | batches | folios/batch | setup µs | wait µs | teardown µs | overhead % of wait |")
    L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in ovh_main:
        if not r.get("batches"):
            continue
        L.append(f"| {r['config']} | {r['page']} | {r['batches']} | {r['folios_per_batch']:.0f} | "
                 f"{r['setup_us']:.0f} | {r['wait_us']:.0f} | {r['teardown_us']:.0f} | "
                 f"{fmt(r['overhead_pct_of_wait'], 1)} |")
    cpu_ms = thp_cpu_ms(main_rows)
    if cpu_ms:
        L.append(f"\nFor scale: the CPU path migrates one 2 MiB THP in {cpu_ms:.2f} ms (median, largest size).")
    L.append("")
    L.append(f"### Batch size sweep ({info.get('sweep_mib')} MiB, {info.get('sweep_reps')} reps x 2 directions)\n")
    L.append("chunk = 4 KiB pages per move_pages call; a kernel batch holds at most min(chunk, 512) pages.\n")
    L.append("| page | chunk | batch | config | median GB/s | min–max GB/s | ratio to CPU | overhead µs/batch | wait µs/batch | declined folios |")
    L.append("| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    ov = {(r["page"], r["chunk"], r["config"]): r for r in ovh_sweep}
    for r in sweep_rows:
        o = ov.get((r["page"], r["chunk"], r["config"]), {})
        g = r["gbps"]
        L.append(f"| {r['page']} | {r['chunk']} | {batch_label(r['page'], r['chunk'], r['size_mib'])} | "
                 f"{r['config']} | {g['median']:.4f} | {g['min']:.4f}–{g['max']:.4f} | "
                 f"{fmt(r['ratio_to_cpu'], 2)} | {fmt(o.get('overhead_us'), 0)} | "
                 f"{fmt(o.get('wait_us'), 0)} | {o.get('folios_declined', '–') if o else '–'} |")
    L.append("")
    L.append("### Goals\n")
    L.append("| goal | met | detail |")
    L.append("| --- | --- | --- |")
    for x in gl:
        L.append(f"| {x['goal']} | {'yes' if x['met'] else '**no**'} | {x['detail']} |")
    L.append("")
    return "\n".join(L)


def plot(main_rows, sweep_rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    styles = {"cpu": dict(color="black", linestyle="--", marker="s"),
              "dcbm-1": dict(color="tab:orange", marker="o"),
              "dcbm-2": dict(color="tab:blue", marker="o"),
              "dcbm-4": dict(color="tab:green", marker="o"),
              "dcbm-16": dict(color="tab:red", marker="o"),
              "default": dict(color="tab:purple", linestyle=":", marker="^")}

    def err(rs):
        return [[r["gbps"]["median"] - r["gbps"]["min"] for r in rs],
                [r["gbps"]["max"] - r["gbps"]["median"] for r in rs]]

    ax = axes[0]
    for c in CONFIGS:
        rs = sorted((r for r in sweep_rows if r["page"] == "4k" and r["config"] == c and r["chunk"] != "all"),
                    key=lambda r: int(r["chunk"]))
        if rs:
            x = [min(int(r["chunk"]), 512) * 4 for r in rs]
            ax.errorbar(x, [r["gbps"]["median"] for r in rs], yerr=err(rs), label=c, capsize=3, **styles[c])
    ax.set_xscale("log", base=2)
    ax.set_xticks([4, 32, 256, 2048])
    ax.set_xticklabels(["4 KiB", "32 KiB", "256 KiB", "2 MiB"])
    ax.set_xlabel("batch size (4 KiB folios; pages per move_pages call)")
    ax.set_ylabel("GB/s (median, min–max)")
    ax.set_title("4 KiB folios: throughput vs batch size")
    ax.legend()
    ax.grid(alpha=0.3)

    ax = axes[1]
    for c in CONFIGS:
        rs = [r for r in sweep_rows if r["page"] == "thp" and r["config"] == c]
        if rs:
            def thps(r):
                region = r["size_mib"] // 2
                return region if r["chunk"] == "all" else min(max(int(r["chunk"]) // 512, 1), region)
            rs.sort(key=thps)
            ax.errorbar([thps(r) for r in rs], [r["gbps"]["median"] for r in rs], yerr=err(rs),
                        label=c, capsize=3, **styles[c])
    ax.set_xscale("log", base=2)
    ax.set_xlabel("THPs per move_pages call (each batch: one 2 MiB THP)")
    ax.set_title("THP: throughput vs THPs per call")
    ax.legend()
    ax.grid(alpha=0.3)

    ax = axes[2]
    big = max((r["size_mib"] for r in main_rows), default=0)
    for page, color in (("4k", "tab:blue"), ("thp", "tab:red")):
        rs = [r for r in main_rows if r["page"] == page and r["size_mib"] == big]
        ch = sorted((r for r in rs if r["config"].startswith("dcbm-")), key=lambda r: int(r["config"][5:]))
        if ch:
            ax.errorbar([int(r["config"][5:]) for r in ch], [r["gbps"]["median"] for r in ch], yerr=err(ch),
                        color=color, marker="o", capsize=3, label=f"dcbm {page}")
        cpu = [r for r in rs if r["config"] == "cpu"]
        if cpu:
            ax.axhline(cpu[0]["gbps"]["median"], color=color, linestyle="--", label=f"CPU {page}")
    ax.set_xscale("log", base=2)
    ax.set_xticks([1, 2, 4, 16])
    ax.set_xticklabels(["1", "2", "4", "16"])
    ax.set_xlabel("dcbm channels (min_batch_bytes=0)")
    ax.set_title(f"{big} MiB, whole region per call: throughput vs channels")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.suptitle("dcbm with the software engine (swdma) under QEMU TCG, 2 vCPUs — not hardware numbers")
    fig.tight_layout()
    fig.savefig(path)
    fig.savefig(path.with_suffix(".png"), dpi=80)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: report.py LOG OUTDIR")
    log, outdir = sys.argv[1], Path(sys.argv[2])
    outdir.mkdir(parents=True, exist_ok=True)
    info, samples, timing = parse(log)
    if not samples:
        sys.exit(f"no BENCH lines in {log}")
    main_rows = group(samples, "main")
    sweep_rows = group(samples, "sweep")
    ovh_main = overheads(timing, "main", by_chunk=False)
    ovh_sweep = overheads(timing, "sweep", by_chunk=True)
    gl = goals(main_rows, sweep_rows, ovh_main)
    res = {"info": info, "main": main_rows, "sweep": sweep_rows, "overhead_main": ovh_main,
           "overhead_sweep": ovh_sweep, "goals": gl, "samples": samples, "timing": timing}
    (outdir / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    (outdir / "table.md").write_text(table_md(info, main_rows, sweep_rows, ovh_main, ovh_sweep, gl))
    plot(main_rows, sweep_rows, outdir / "plot.svg")
    print(f"wrote {outdir}/results.json, table.md, plot.svg, plot.png")


if __name__ == "__main__":
    main()
