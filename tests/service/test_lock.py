"""A body whose geometry takes long to validate must not hold up other
parties' writes: operation and site bodies, and /v1/check drafts, are
parsed and validated before the engine lock is taken (dc_parsed in
src/engine/engine.h). Before that change a legal operation of 20 spiky
10,000-vertex volumes held the engine for 13 s, and every position report
waited behind it."""
import math
import threading
import time

from conftest import LAT, LON, report


def spiky_ring(n=9999, lon0=LON, lat0=LAT, outer=20000.0, inner=100.0):
    """A star whose long spikes all come near the centre: the worst case
    of the ring simplicity check (all edges' bounds overlap there)."""
    ring = []
    for k in range(n):
        a = 2 * math.pi * k / n
        r = outer if k % 2 == 0 else inner
        ring.append([lon0 + r * math.cos(a) / (111320 * math.cos(math.radians(lat0))),
                     lat0 + r * math.sin(a) / 110540])
    ring.append(ring[0])
    return ring


def slow_op(oid, nvol):
    geom = {"type": "Polygon", "coordinates": [spiky_ring()]}
    return {"id": oid, "name": "slow", "kind": "strike", "hazard_m": 100,
            "volumes": [{"geometry": geom, "start": "2030-01-01T01:00:00Z",
                         "end": "2030-01-01T02:00:00Z"} for _ in range(nvol)]}


def race(server, slow_request, quick_request):
    """Starts slow_request, then runs quick_request while it is in flight;
    returns (slow answer, quick answer, slow's duration, whether quick
    was answered at once: in under a quarter of slow's time; a report
    that waits for the lock is answered when slow's work ends)."""
    out = {}

    def slow():
        t0 = time.time()
        out["slow"] = slow_request()
        out["slow_s"] = time.time() - t0

    th = threading.Thread(target=slow)
    th.start()
    time.sleep(0.5)  # the slow body is read and being validated by now
    t0 = time.time()
    quick = quick_request()
    quick_s = time.time() - t0
    th.join(timeout=600)
    assert not th.is_alive()
    return out["slow"], quick, out["slow_s"], quick_s < out["slow_s"] / 4


def parties_and_unit(server):
    """Parties A and B; B has unit b1, whose reports race A's slow bodies."""
    A, B = server.add_party("A"), server.add_party("B")
    assert server.req("PUT", "/v1/units/b1", token=B,
                      body={"callsign": "b1", "domain": "ground"}).status_code == 201
    return A, B


def assert_reports_not_held_up(server, B, slow_request, want_status, what):
    """slow_request, answered want_status, must take over a second and a
    report of b1 sent meanwhile must be answered at once (see race)."""
    slow, quick, slow_s, at_once = race(
        server, slow_request,
        lambda: server.req("POST", "/v1/positions", token=B, body={"reports": [report("b1")]}))
    assert slow.status_code == want_status, slow.text
    assert quick.status_code == 200, quick.text
    assert slow_s > 1.0, "the slow %s validated in %.2f s: the test shows nothing" % (what, slow_s)
    assert at_once, "the position report waited for the %s's validation" % what


def test_slow_operation_does_not_hold_up_reports(server):
    A, B = parties_and_unit(server)
    body = slow_op("slow", 3)
    assert_reports_not_held_up(
        server, B,
        lambda: server.req("PUT", "/v1/operations/slow", token=A, body=body, timeout=600),
        201, "operation")
    got = server.req("GET", "/v1/operations/slow", token=A).json()
    assert len(got["volumes"]) == 3


def test_slow_check_and_site_do_not_hold_up_reports(server):
    A, B = parties_and_unit(server)
    draft = slow_op("draft", 3)
    assert_reports_not_held_up(
        server, B, lambda: server.req("POST", "/v1/check", token=A, body=draft, timeout=600),
        200, "check")

    site = {"id": "s1", "name": "camp", "category": "hospital",
            "geometry": {"type": "MultiPolygon",
                         "coordinates": [[spiky_ring(lon0=LON + 0.5 * k)] for k in range(3)]},
            "standoff_m": 100}
    assert_reports_not_held_up(
        server, B, lambda: server.req("PUT", "/v1/sites/s1", token=A, body=site, timeout=600),
        201, "site")
