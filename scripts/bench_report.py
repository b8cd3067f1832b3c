#!/usr/bin/python3
"""bench_report: merge the contenders' JSON outputs (bench.sh's OUT dir)
into one results file, print the table, and check the targets.

usage: bench_report.py OUT_DIR RESULT_JSON SMOKE(0|1)
Exits 1 when a contender's counts disagree with the engine or a required
figure is missing; missed performance targets are reported, not fatal."""
import datetime
import json
import os
import platform
import subprocess
import sys

out, dest, smoke = sys.argv[1], sys.argv[2], sys.argv[3] == "1"


def load(name):
    p = os.path.join(out, name)
    if not os.path.exists(p) or os.path.getsize(p) == 0:
        return {}
    with open(p) as f:
        return json.loads(f.read().strip() or "{}")


eng, pg, rd = load("engine.json"), load("pg.json"), load("redis.json")


def median(v):
    v = sorted(v)
    n = len(v)
    return None if n == 0 else (v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2)


def http_merge():
    """bench.sh's HTTP runs: http_setup.json (setup and B), then A alternately
    by dc_loadclient (http_lc_K.json) and by the independent check
    (http_py_K.json), each on a fresh copy of the same state. The figures
    are the medians of each client's runs."""
    setup = load("http_setup.json")
    lc, py = [], []
    k = 1
    while os.path.exists(os.path.join(out, "http_lc_%d.json" % k)):
        lc.append(load("http_lc_%d.json" % k))
        if os.path.exists(os.path.join(out, "http_py_%d.json" % k)):
            py.append(load("http_py_%d.json" % k))
        k += 1
    if not setup:
        return {}, {}
    h = dict(setup)
    runs = [x["ingest_http_per_s"] for x in lc if x.get("ingest_http_per_s")]
    h["ingest_http_per_s"] = round(median(runs)) if runs else None
    h["ingest_http_runs_per_s"] = runs
    h["http_conns"] = lc[0].get("http_conns") if lc else None
    opened = [(x.get("http_ingest_opened"), x.get("engine_ingest_opened_same_batches")) for x in lc]
    h["http_counts_ok"] = bool(setup.get("http_counts_ok")) and all(
        x.get("http_counts_ok") for x in lc)
    if opened:
        h["http_ingest_opened"], h["engine_ingest_opened_same_batches"] = opened[0]
        h["http_note"] = "A opened %s (%s), B %s (%s)" % (
            opened[0][0], opened[0][1], setup.get("http_submit_opened"),
            setup.get("engine_submit_opened_same"))
        h["http_ingest_reports"] = lc[0].get("http_ingest_reports")
    ab = {}
    pruns = [x["ingest_http_independent_per_s"] for x in py
             if x.get("ingest_http_independent_per_s")]
    if pruns:
        ab = dict(py[0])
        ab["ingest_http_independent_per_s"] = round(median(pruns))
        ab["ingest_http_independent_runs_per_s"] = pruns
        ab["ingest_http_independent_counts_ok"] = all(
            x.get("ingest_http_independent_counts_ok") for x in py)
        if h["ingest_http_per_s"]:
            ab["ingest_http_independent_ratio"] = round(
                ab["ingest_http_independent_per_s"] / h["ingest_http_per_s"], 3)
    return h, ab


http, http_ab = http_merge()


def machine():
    cpu = "unknown"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            mem = int(line.split()[1]) // 1024
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mb": mem,
        "kernel": platform.release(),
        "os": "Debian " + open("/etc/debian_version").read().strip(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average_at_end": os.getloadavg()[0],
    }


r = {}
r.update(eng)
r.update(pg)
r.update(rd)
r.update(http)
r.update(http_ab)
r.setdefault("ingest_http_per_s", None)
ip, pgr = r.get("ingest_inprocess_per_s"), r.get("postgis_ingest_per_s")
r["ratio_vs_postgis_inprocess"] = round(ip / pgr, 1) if ip and pgr else None
r["ratio_vs_postgis_http"] = (
    round(r["ingest_http_per_s"] / pgr, 1) if r.get("ingest_http_per_s") and pgr else None)
r["machine"] = machine()
r["smoke"] = smoke

errors = []
for k in ["ingest_inprocess_per_s", "postgis_ingest_per_s", "redis_ingest_per_s", "submit_p99_ms",
          "postgis_submit_p99_ms", "bytes_per_unit", "replay_records_per_s"]:
    if r.get(k) is None:
        errors.append("missing figure: " + k)
if pg and not pg.get("postgis_counts_ok"):
    errors.append("PostGIS counts disagree with the engine")
if rd and not rd.get("redis_counts_ok"):
    errors.append("Redis found fewer conflicts than the engine")
if http and not http.get("ingest_http_per_s"):
    errors.append("missing figure: ingest_http_per_s (no run of A over HTTP)")
if http and http.get("ingest_http_per_s") and not http_ab.get("ingest_http_independent_per_s"):
    errors.append("missing figure: ingest_http_independent_per_s (the independent HTTP check)")
if http and http.get("http_counts_ok") is False:
    errors.append("HTTP counts disagree with the engine")
if http_ab and http_ab.get("ingest_http_independent_counts_ok") is False:
    errors.append("the independent HTTP check's counts disagree with the engine")

scale = r.get("scale") or []
flat = r.get("scale_report_cost_ratio")
targets = [
    ("ingest, in-process (reports/s, one core)", r.get("ingest_inprocess_per_s"), ">=", 2e6),
    ("ingest, over HTTP (reports/s)", r.get("ingest_http_per_s"), ">=", 3e5),
    ("advantage over PostGIS, in-process", r.get("ratio_vs_postgis_inprocess"), ">=", 100),
    ("advantage over PostGIS, over HTTP", r.get("ratio_vs_postgis_http"), ">=", 20),
    ("submit p99 (ms)", r.get("submit_p99_ms"), "<=", 2),
    ("memory (bytes per unit)", r.get("bytes_per_unit"), "<=", 200),
    ("replay (records/s)", r.get("replay_records_per_s"), ">=", 1e6),
    ("report cost, largest/smallest scale step (median of 5 side-by-side rounds)", flat, "<=", 1.5),
    # Issue 4: an independent client agrees with dc_loadclient's HTTP figure
    # within the machine's noise (taken as +-25 % on this shared 2-core box).
    ("independent HTTP check / load client", r.get("ingest_http_independent_ratio"), "within",
     (0.75, 1.25)),
]
r["targets"] = {}


def fmt(v):
    if v is None:
        return "n/a"
    if isinstance(v, float) and v < 100:
        return "%.3g" % v
    return "{:,.0f}".format(v)


lines = []
lines.append("| measure | deconflict | target | met |")
lines.append("|---|---|---|---|")
for name, v, op, t in targets:
    if op == "within":
        met = None if v is None else t[0] <= v <= t[1]
        want = "within %s-%s" % (fmt(t[0]), fmt(t[1]))
    else:
        met = None if v is None else (v >= t if op == ">=" else v <= t)
        want = op + " " + fmt(t)
    r["targets"][name] = {"value": v, "target": want, "met": met}
    lines.append("| %s | %s | %s | %s |" % (name, fmt(v), want,
                                          "n/a" if met is None else ("yes" if met else "NO")))
lines.append("")
lines.append("| contender | ingest reports/s | submit p50 / p99 ms | conflicts found (engine) |")
lines.append("|---|---|---|---|")
lines.append("| deconflict in-process (1 core; median of %s) | %s | %s / %s | A %s, B %s |" % (
    ", ".join(fmt(x) for x in r.get("ingest_inprocess_runs_per_s") or []) or "n/a",
    fmt(r.get("ingest_inprocess_per_s")), fmt(r.get("submit_p50_ms")), fmt(r.get("submit_p99_ms")),
    fmt(r.get("ingest_hits")), fmt(r.get("submit_conflicts_opened"))))
lines.append("| deconflict HTTP (2 conns, batches of 1,000; median of %s) | %s | %s / %s | %s |" % (
    ", ".join(fmt(x) for x in r.get("ingest_http_runs_per_s") or []) or "n/a",
    fmt(r.get("ingest_http_per_s")), fmt(r.get("http_submit_p50_ms")),
    fmt(r.get("http_submit_p99_ms")), r.get("http_note", "")))
if http_ab:
    lines.append("| deconflict HTTP, independent check (%s; median of %s) | %s | n/a | "
                 "ratio to load client %s |" % (
        r.get("ingest_http_independent_client"),
        ", ".join(fmt(x) for x in r.get("ingest_http_independent_runs_per_s") or []),
        fmt(r.get("ingest_http_independent_per_s")),
        fmt(r.get("ingest_http_independent_ratio"))))
lines.append("| PostGIS 15/3.3 (2 conns) | %s | %s / %s | A %s (%s), B %s (%s) |" % (
    fmt(r.get("postgis_ingest_per_s")), fmt(r.get("postgis_submit_p50_ms")),
    fmt(r.get("postgis_submit_p99_ms")), fmt(r.get("postgis_ingest_hits")),
    fmt(r.get("engine_ingest_hits_same_batches")), fmt(r.get("postgis_submit_found")),
    fmt(r.get("engine_submit_opened"))))
lines.append("| Redis 7 GEO (1 pipelined conn; looser check) | %s | n/a | A %s (%s) |" % (
    fmt(r.get("redis_ingest_per_s")), fmt(r.get("redis_hits")), fmt(r.get("engine_hits"))))
if scale:
    lines.append("")
    lines.append("| scale step: units / sites / operations (side km) | ns per report (CPU, median of 5 rounds) | hits per report | submit mean / p99 ms |")
    lines.append("|---|---|---|---|")
    for s in scale:
        lines.append("| %d / %d / %d (%.0f) | %.0f | %.2f | %.2f / %.2f |" % (
            s["units"], s["sites"], s["operations"], s["side_km"], s["ns_per_report"],
            s["hits_per_report"], s["submit_mean_ms"], s["submit_p99_ms"]))
m = r["machine"]
lines.append("")
lines.append("%s; %s cores; %d MB; Linux %s; %s; %s%s" % (
    m["cpu"], m["cores"], m["memory_mb"], m["kernel"], m["os"], m["date"],
    " (SMOKE: tiny workload, figures not meaningful)" if smoke else ""))
table = "\n".join(lines)
r["table_markdown"] = table
print(table)
os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
with open(dest, "w") as f:
    json.dump(r, f, indent=1, sort_keys=True)
    f.write("\n")
print("\nwrote " + dest)
if errors:
    for e in errors:
        print("[bench] FAIL: " + e, file=sys.stderr)
    sys.exit(1)
