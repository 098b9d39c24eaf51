"""The sampled profile of a `testbed/bench/run --profile` run: profile.md.

The guest prints, per main-phase and tiering-phase run, what
bench_sampler (sampler/) counted during it:
    BENCH-PROFILE PHASE CONFIG REP PAGE SIZE period_us N
    BENCH-PROFILE PHASE CONFIG REP PAGE SIZE ctx CONTEXT SAMPLES
    BENCH-PROFILE PHASE CONFIG REP PAGE SIZE mod CONTEXT SAMPLES MODULE
    BENCH-PROFILE PHASE CONFIG REP PAGE SIZE fn CONTEXT SAMPLES SYMBOL [MODULE]
Samples become CPU time per GB moved in the main phase (a run moves its
region there and back), and per run in the tiering phase (demotion under
memory pressure: what moves is up to reclaim), summed over the
repetitions of a configuration, so that configurations, and dcbm against
the C driver, compare function by function.
"""
import re
from collections import defaultdict

CONTEXTS = ["task", "kthread", "softirq", "user", "idle"]
WHAT = {"task": "a user task in the kernel (the migrating task; in the tiering phase the workload, "
                 "its direct reclaim included)",
        "kthread": "kernel threads (the engine's worker; kswapd)",
        "softirq": "softirqs, and code with them off", "user": "user mode", "idle": "idle"}


# The phases profiled: what their figures are per, and the column that
# counts it.
PHASES = {"main": ("ms/GB", "GB moved"), "tiering": ("ms/run", "runs")}


def parse(lines):
    """{(phase, page, config): {"units": GB moved or runs, "ctx": {ctx: ms},
    "mod": {(ctx, module): ms}, "fn": {(ctx, sym): ms}}}"""
    runs = defaultdict(lambda: {"period": 0, "ctx": defaultdict(int), "mod": defaultdict(int),
                                "fn": defaultdict(int)})
    for line in lines:
        f = line.split()
        key = (f[1], f[2], f[3], f[4], f[5])   # phase config rep page size
        r = runs[key]
        if f[6] == "period_us":
            r["period"] = int(f[7])
        elif f[6] == "ctx":
            r["ctx"][f[7]] += int(f[8])
        elif f[6] == "mod":
            r["mod"][(f[7], f[9])] += int(f[8])
        elif f[6] == "fn":
            sym = re.sub(r"\+0x[0-9a-f]+/0x[0-9a-f]+", "", " ".join(f[9:]))
            r["fn"][(f[7], sym)] += int(f[8])
    prof = defaultdict(lambda: {"units": 0.0, "ctx": defaultdict(float), "mod": defaultdict(float),
                                "fn": defaultdict(float)})
    for (phase, config, _, page, size), r in runs.items():
        if phase not in PHASES:
            continue
        p = prof[(phase, page, config)]
        p["units"] += int(size) * 2 * 2**20 / 1e9 if phase == "main" else 1
        ms = r["period"] / 1000
        for c, n in r["ctx"].items():
            p["ctx"][c] += n * ms
        for k in ("mod", "fn"):
            for key, n in r[k].items():
                p[k][key] += n * ms
    return prof


def short(sym):
    """A Rust symbol as crate::module::Type::function (enough of the v0
    mangling to read a profile: the identifiers in order, each a length
    and that many characters); other symbols as they are."""
    if not sym.startswith("_R"):
        return sym
    s, i, names = sym.split()[0][2:], 0, []
    while i < len(s):
        # back-references and disambiguators (B..._, s..._) name nothing
        skip = re.match(r"[Bs][0-9A-Za-z]*_", s[i:])
        d = re.match(r"([0-9]+)_?", s[i:])
        if skip:
            i += len(skip.group())
        elif d:
            n, i = int(d.group(1)), i + len(d.group())
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", s[i:i + n]):
                names.append(s[i:i + n])
            i += n
        else:
            i += 1
    if not names:
        return sym
    crate = "dcbm" if names[0] == "dcbm_main" else names[0]
    typ = next((x for x in names[2:-1] if x[:1].isupper()), None)
    path = [crate] + names[1:2] + ([typ] if typ else []) + names[-1:]
    return "::".join(path) + (" " + sym.split()[1] if len(sym.split()) > 1 else "")


def per_unit(p, v):
    return v / p["units"] if p["units"] else 0.0


def markdown(lines, top=20):
    prof = parse(lines)
    if not prof:
        return ""
    out = ["## Sampled profile", "",
           "A profiled run (`--profile`): bench_sampler took the interrupted address on each vCPU "
           "every period; its own interrupts slow the guest, so this run's figures compare only with "
           "each other. Cells: CPU milliseconds (both vCPUs) per GB moved in the main phase, per run "
           "in the tiering phase (demotion under memory pressure), over the repetitions. Time with "
           "interrupts off is counted where they come back on (`_raw_spin_unlock_irqrestore`).", "",
           "Contexts: " + "; ".join(f"{c}: {WHAT[c]}" for c in CONTEXTS) + "."]
    for phase, (per, units) in PHASES.items():
        rows = {(page, config): p for (ph, page, config), p in sorted(prof.items()) if ph == phase}
        if rows:
            out += phase_md(phase, per, units, rows, top)
    return "\n".join(out) + "\n"


def phase_md(phase, per, units, prof, top):
    """One phase's tables: contexts, modules, dcbm against the C driver,
    and each offload configuration's largest functions, in `per`."""
    out = ["", f"### The {phase} phase ({per})", "",
           f"| page | config | {units} | " + " | ".join(CONTEXTS) + " |",
           "| --- | --- | ---: | " + " | ".join("---:" for _ in CONTEXTS) + " |"]
    for (page, config), p in prof.items():
        out.append(f"| {page} | {config} | {p['units']:.2f} | " +
                   " | ".join(f"{per_unit(p, p['ctx'].get(c, 0)):.0f}" for c in CONTEXTS) + " |")
    # The modules' own code, every function counted (the lists below keep
    # only the larger ones).
    mods = sorted({m for p in prof.values() for (_, m) in p["mod"]})
    if mods:
        out += ["", f"In the modules' own code, every function counted ({per}; task / kthread / softirq):", "",
                "| page | config | " + " | ".join(mods) + " |",
                "| --- | --- | " + " | ".join("---:" for _ in mods) + " |"]
        for (page, config), p in prof.items():
            cells = [" / ".join(f"{per_unit(p, p['mod'].get((c, m), 0)):.0f}" for c in ("task", "kthread", "softirq"))
                     for m in mods]
            out.append(f"| {page} | {config} | " + " | ".join(cells) + " |")
    # dcbm against the C driver on as many channels, function by function.
    for (page, config), p in prof.items():
        if not config.startswith("dcbm-") or (page, "c-" + config[5:]) not in prof:
            continue
        c = prof[(page, "c-" + config[5:])]
        keys = set(p["fn"]) | set(c["fn"])
        diff = sorted(keys, key=lambda k: per_unit(c, c["fn"].get(k, 0)) - per_unit(p, p["fn"].get(k, 0)))
        out += ["", f"#### {phase}, {page}: {config} against c-{config[5:]}, the functions that differ most ({per})", "",
                f"| context | function | {config} | c-{config[5:]} |", "| --- | --- | ---: | ---: |"]
        for k in diff[:top] + [k for k in diff[-top // 2:] if k not in diff[:top]]:
            a, b = per_unit(p, p["fn"].get(k, 0)), per_unit(c, c["fn"].get(k, 0))
            if abs(a - b) >= 1:
                out.append(f"| {k[0]} | `{short(k[1])}` | {a:.0f} | {b:.0f} |")
    for (page, config), p in prof.items():
        if config == "cpu":
            continue
        fns = sorted(((k, v) for k, v in p["fn"].items() if k[0] != "idle"), key=lambda kv: -kv[1])[:top]
        out += ["", f"#### {phase}, {page}, {config}: where the CPU time goes ({per})", "",
                "| context | function | " + per + " |", "| --- | --- | ---: |"]
        out += [f"| {k[0]} | `{short(k[1])}` | {per_unit(p, v):.0f} |" for k, v in fns]
    return out
