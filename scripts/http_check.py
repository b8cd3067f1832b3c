#!/usr/bin/python3
"""http_check.py: the independent HTTP load check of `make bench` (issue 4:
"an independent load check of the service agrees with the reported HTTP
figure").

A client that shares no code with bench/dc_loadclient.c: Python's own
http.client, two keep-alive connections, posting the same stream of
batches dc_loadclient posted (DIR/batches.tsv: every batch of phase A, 1,000
distinct units each, 100k units in rotation) to the same service once more,
each unit moved 20 m north of where dc_loadclient left it and stamped with
the service's current clock, so that every report moves its unit and is
checked as in A. Bodies are built before the clock starts. Prints JSON with
its reports/s and the ratio to dc_loadclient's figure.

usage: http_check.py PORT DIR LOADCLIENT_JSON CLOCK
"""
import http.client
import json
import sys
import threading
import time

port, d, loadjson, clock = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
dlat = 20.0 / 110574.0
batches = []
with open(d + "/batches.tsv") as f:
    for line in f:
        tok, body = line.rstrip("\n").split("\t", 1)
        reps = json.loads(body)["reports"]
        for r in reps:
            r["time"] = clock
            r["lat"] = min(90.0, r["lat"] + dlat)
        batches.append((tok, json.dumps({"reports": reps}, separators=(",", ":")).encode(),
                        len(reps)))

NCONN = 2
done = [0] * NCONN
errors = []


def run(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for b in range(k, len(batches), NCONN):
        tok, body, n = batches[b]
        c.request("POST", "/v1/positions", body,
                  {"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            errors.append("batch %d: HTTP %d %s" % (b, r.status, data[:200]))
            return
        done[k] += n
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
reports = sum(done)
rate = reports / secs
lc = json.loads(open(loadjson).read() or "{}").get("ingest_http_per_s")
print(json.dumps({
    "ingest_http_independent_per_s": round(rate),
    "ingest_http_independent_reports": reports,
    "ingest_http_independent_client": "Python http.client, 2 keep-alive connections",
    "ingest_http_independent_ratio": round(rate / lc, 3) if lc else None}))
print("[bench] independent check: %d reports in %.1f s: %.0f reports/s (dc_loadclient %s)"
      % (reports, secs, rate, lc), file=sys.stderr)
