#!/usr/bin/python3
"""http_check.py: the independent HTTP load check of `make bench` (issue 4:
"an independent load check of the service agrees with the reported HTTP
figure").

A client that shares no code with bench/dc_loadclient.c: Python's own
http.client and json, two keep-alive connections. It posts the very stream
of phase A (DIR/batches.tsv, "TOKEN\tBODY" per line, written by
`dc_loadclient --no-ingest --save-last DIR`) to a service restarted from a
copy of the data directory that run left (the theatre and the submits of
B, without A), as `dc_loadclient --batches DIR` does to another copy. So
both clients send the same bytes to services in the same state, and their
reports/s can be compared. scripts/bench.sh runs the two alternately,
several times each, and bench_report.py compares the medians.
Like dc_loadclient, a party's batch waits until the party's previous batch
has been answered (batches b and b + parties move the same units). Once
the clock has stopped, the answers are read: the reports accepted, and the
conflicts opened, compared with the engine's (EXPECT_DIR/expect_a.txt,
from bench_engine).

Prints JSON with its reports/s and counts; exits 1 when a batch fails or
the counts disagree.

usage: http_check.py PORT DIR EXPECT_DIR
"""
import http.client
import json
import sys
import threading
import time

if len(sys.argv) != 4:
    sys.exit("usage: http_check.py PORT DIR EXPECT_DIR")
port, d, expect_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
batches = []
with open(d + "/batches.tsv", "rb") as f:
    for line in f:
        tok, body = line.rstrip(b"\n").split(b"\t", 1)
        batches.append((tok.decode(), body))
expect = {}
with open(expect_dir + "/expect_a.txt") as f:
    for line in f:
        b, _hits, opened = map(int, line.split())
        expect[b] = opened
parties = len({tok for tok, _ in batches})

NCONN = 2
answers = [None] * len(batches)
errors = []
turn = threading.Condition()


def run(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for b in range(k, len(batches), NCONN):
        with turn:
            while b >= parties and answers[b - parties] is None and not errors:
                turn.wait()
        if errors:
            return
        tok, body = batches[b]
        c.request("POST", "/v1/positions", body,
                  {"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            with turn:
                errors.append("batch %d: HTTP %d %s" % (b, r.status, data[:200]))
                turn.notify_all()
            return
        with turn:  # answers are read once the clock has stopped
            answers[b] = data
            turn.notify_all()
    c.close()


t0 = time.monotonic()
th = [threading.Thread(target=run, args=(k,)) for k in range(NCONN)]
for t in th:
    t.start()
for t in th:
    t.join()
secs = time.monotonic() - t0
if errors:
    sys.exit("independent check: " + "; ".join(errors[:3]))
total = got = 0
for data in answers:
    ans = json.loads(data)
    total += ans["accepted"]
    got += len(ans.get("conflicts", []))
rate = total / secs
want = sum(expect.get(b, 0) for b in range(len(batches)))
counts_ok = abs(got - want) <= 2 + want // 1000  # dc_loadclient's tolerance
print(json.dumps({
    "ingest_http_independent_per_s": round(rate),
    "ingest_http_independent_reports": total,
    "ingest_http_independent_client": "Python http.client, 2 keep-alive connections, "
                                      "the same batches to a copy of the same state",
    "ingest_http_independent_opened": got,
    "ingest_http_independent_counts_ok": counts_ok}))
print("[bench] independent check: %d reports in %.1f s: %.0f reports/s; opened %d (engine %d)"
      % (total, secs, rate, got, want), file=sys.stderr)
if not counts_ok:
    sys.exit("independent check: conflicts opened %d, the engine %d" % (got, want))
