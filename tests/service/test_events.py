"""Event streams: long poll and SSE, complete and gap-free across
disconnects and reconnects; a stalled consumer does not grow memory."""
import json
import socket
import threading
import time

import requests

from conftest import LAT, LON, SLOW, Server, assert_clean, op_body, report


_ms = [0]


def prepare(server):
    _ms[0] = 0  # a fresh server: the first report goes inside (odd), opening a conflict
    A = server.add_party("A")
    B = server.add_party("B")
    assert server.req("PUT", "/v1/units/bu", token=B,
                      body={"callsign": "Blue", "domain": "ground"}).status_code in (200, 201)
    assert server.req("POST", "/v1/operations", token=A, body=op_body("op1")).status_code == 201
    return A, B


def flip(server, tok, n):
    """n position reports alternating inside / far outside A's strike."""
    reports = []
    for i in range(n):
        _ms[0] += 1
        t = "2030-01-01T00:00:00.%03dZ" % (_ms[0] % 1000) if _ms[0] < 1000 else \
            "2030-01-01T00:00:%02d.%03dZ" % (_ms[0] // 1000, _ms[0] % 1000)
        lon = LON if (_ms[0] % 2) else LON + 1.0
        reports.append(report("bu", lon=lon, time_=t))
    r = server.req("POST", "/v1/positions", token=tok, body={"reports": reports})
    assert r.status_code == 200, r.text


def poll_all(server, tok, after=0, limit=7):
    out = []
    while True:
        r = server.req("GET", "/v1/events?after=%d&limit=%d" % (after, limit), token=tok)
        assert r.status_code == 200, r.text
        ev = r.json()["events"]
        if not ev:
            return out
        out += ev
        after = ev[-1]["seq"]


def test_long_poll_basics(server):
    A, B = prepare(server)
    flip(server, B, 1)
    ev = server.req("GET", "/v1/events?after=0", token=B).json()["events"]
    assert [e["seq"] for e in ev] == [1] and ev[0]["type"] == "opened"
    assert ev[0]["conflict"]["other"]["id"] == "op1"
    # a wait returns as soon as an event arrives
    t0 = time.time()
    threading.Timer(0.5, lambda: flip(server, B, 1)).start()
    r = server.req("GET", "/v1/events?after=1&wait=10", token=B)
    took = time.time() - t0
    assert r.status_code == 200 and [e["seq"] for e in r.json()["events"]] == [2]
    assert r.json()["events"][0]["type"] == "resolved"
    assert 0.3 < took < 5, took
    # and times out empty
    t0 = time.time()
    r = server.req("GET", "/v1/events?after=2&wait=1", token=B)
    assert r.json()["events"] == [] and 0.8 < time.time() - t0 < 4
    for q, code in (("after=-1", 400), ("after=x", 400), ("wait=-2", 400), ("wait=61", 413),
                    ("limit=0", 400), ("limit=5000", 413), ("after=99999999999999999999", 400)):
        r = server.req("GET", "/v1/events?" + q, token=B)
        assert r.status_code == code, (q, r.text)
        assert "error" in r.json()
    assert server.req("GET", "/v1/events?after=0").status_code == 401


def test_long_poll_gap_free(server):
    A, B = prepare(server)
    seen = []
    stop = threading.Event()

    def consumer():
        after = 0
        while not stop.is_set() or len(seen) < 60:
            r = server.req("GET", "/v1/events?after=%d&wait=1&limit=3" % after, token=A)
            ev = r.json()["events"]
            seen.extend(ev)
            if ev:
                after = ev[-1]["seq"]
            elif stop.is_set():
                return

    th = threading.Thread(target=consumer)
    th.start()
    for _ in range(30):
        flip(server, B, 2)
    stop.set()
    th.join(30)
    seqs = [e["seq"] for e in seen]
    assert seqs == list(range(1, 61)), seqs
    assert [e["type"] for e in seen] == ["opened", "resolved"] * 30
    # the same events, again, from the start
    assert poll_all(server, A) == seen


class SSE:
    def __init__(self, server, tok, last_id=None, query=""):
        h = {"Authorization": "Bearer " + tok, "Accept": "text/event-stream"}
        if last_id is not None:
            h["Last-Event-ID"] = str(last_id)
        self.r = requests.get(server.url + "/v1/events/stream" + query, headers=h, stream=True,
                              timeout=10)
        assert self.r.status_code == 200, self.r.text
        assert self.r.headers["Content-Type"].startswith("text/event-stream")
        self.it = self.r.iter_content(chunk_size=None)
        self.buf = b""
        self.comments = 0

    def next(self):
        while b"\n\n" not in self.buf:
            self.buf += next(self.it)
        block, self.buf = self.buf.split(b"\n\n", 1)
        fields = {}
        for line in block.decode().split("\n"):
            if line.startswith(":"):
                self.comments += 1
                continue
            k, _, v = line.partition(": ")
            fields[k] = v
        if "data" not in fields:
            return self.next()
        return int(fields["id"]), json.loads(fields["data"])

    def close(self):
        self.r.close()


def test_sse_resume(server):
    A, B = prepare(server)
    flip(server, B, 10)
    s = SSE(server, B)
    got = [s.next() for _ in range(4)]
    s.close()
    assert [g[0] for g in got] == [1, 2, 3, 4]
    flip(server, B, 6)
    s = SSE(server, B, last_id=4)
    got += [s.next() for _ in range(12)]
    # live: events written while connected arrive too
    threading.Timer(0.3, lambda: flip(server, B, 2)).start()
    got += [s.next() for _ in range(2)]
    s.close()
    assert [g[0] for g in got] == list(range(1, 19))
    assert [g[1] for g in got] == poll_all(server, B)
    # ?after= works for clients that cannot set headers; token in the query
    s2 = requests.get(server.url + "/v1/events/stream?after=17&access_token=" + B, stream=True,
                      timeout=10)
    assert s2.status_code == 200
    s2.close()
    r = requests.get(server.url + "/v1/events/stream",
                     headers={"Authorization": "Bearer " + B, "Last-Event-ID": "-1"}, timeout=10)
    assert r.status_code == 400 and "error" in r.json()
    assert requests.get(server.url + "/v1/events/stream", timeout=10).status_code == 401


def test_sse_heartbeat(tmp_path):
    s = Server(str(tmp_path / "d"), extra=["--heartbeat", "1"]).start()
    try:
        A, B = prepare(s)
        c = SSE(s, B)
        threading.Timer(2.5, lambda: flip(s, B, 1)).start()
        seq, ev = c.next()
        assert seq == 1 and c.comments >= 2  # stream start + at least one heartbeat
        c.close()
    finally:
        assert s.stop() == 0


def test_stalled_consumer(tmp_path):
    s = Server(str(tmp_path / "d"), extra=["--idle-timeout", "2"]).start()
    try:
        A, B = prepare(s)
        # A stalled SSE reader with a tiny receive buffer that never reads.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", s.port))
        sock.sendall(("GET /v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                      "\r\n" % B).encode())
        flip(s, B, 10)
        rss0 = s.rss_kb()
        # Enough events to fill the socket buffers even under a sanitizer,
        # or the stream never stalls and nothing is there to disconnect.
        n = 400
        for _ in range(n // 50):
            flip(s, B, 50)
        rss1 = s.rss_kb()
        assert rss1 - rss0 < 40 * 1024, (rss0, rss1)
        # the stalled stream is disconnected and the server stays responsive
        deadline = time.time() + (60 if SLOW else 20)
        while time.time() < deadline:
            m = s.req("GET", "/metrics").text
            if "deconflict_sse_streams_open 0" in m:
                break
            time.sleep(0.5)
        assert "deconflict_sse_streams_open 0" in m
        sock.close()
        # it catches up from the log when it reconnects
        c = SSE(s, B)
        seqs = [c.next()[0] for _ in range(n + 10)]
        assert seqs == list(range(1, n + 11))
        c.close()
    finally:
        assert s.stop() == 0


def test_shutdown_with_parked_consumers(tmp_path):
    s = Server(str(tmp_path / "d")).start()
    A, B = prepare(s)
    results = []

    def poll():
        try:
            results.append(s.req("GET", "/v1/events?after=0&wait=30", token=B).status_code)
        except requests.RequestException as e:
            results.append(str(e))

    th = threading.Thread(target=poll)
    th.start()
    c = SSE(s, B)
    time.sleep(0.5)
    t0 = time.time()
    assert s.stop() == 0
    assert time.time() - t0 < 10
    th.join(10)
    assert results == [200], results
    c.close()
    assert_clean(s)
