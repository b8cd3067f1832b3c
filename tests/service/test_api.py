"""Every endpoint on its happy and error paths, the cross-party
need-to-know matrix, and the interlock with override."""
import pytest

from conftest import LAT, LON, Server, op_body, report, site_body

NOT_YOURS = (403, 404)


def err(r, *codes):
    assert r.status_code in codes, (r.status_code, r.text)
    j = r.json()
    assert set(j["error"]) >= {"code", "message", "field"}, j
    return j["error"]


def test_healthz_metrics(server):
    r = server.req("GET", "/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    server.req("GET", "/v1/sites")  # a 401 to count
    m = server.req("GET", "/metrics")
    assert m.status_code == 200
    assert m.headers["Content-Type"].startswith("text/plain")
    for name in ("deconflict_http_requests_total", "deconflict_http_request_duration_seconds_bucket",
                 "deconflict_conflicts_open", "deconflict_events_pending", "deconflict_log_records",
                 "deconflict_log_commit_seconds_bucket"):
        assert name in m.text, name
    assert 'route="sites",code="401"' in m.text


def test_parties_admin(server):
    tok = server.add_party("TR", "Turkey")
    assert len(tok) >= 32
    err(server.req("POST", "/v1/parties", token=server.admin, body={"id": "TR", "name": "x"}), 409)
    err(server.req("POST", "/v1/parties", token=server.admin, body={"id": "bad id!", "name": "x"}),
        400, 422)
    err(server.req("POST", "/v1/parties", token=server.admin, body={"id": "X"}), 400, 422)
    err(server.req("POST", "/v1/parties", body={"id": "Y", "name": "y"}), 401)
    err(server.req("POST", "/v1/parties", token="nope", body={"id": "Y", "name": "y"}), 401)
    err(server.req("POST", "/v1/parties", token=tok, body={"id": "Y", "name": "y"}), 403)
    r = server.req("GET", "/v1/parties", token=tok)
    assert r.status_code == 200
    assert {"id": "TR", "name": "Turkey"} in r.json()["parties"]
    err(server.req("GET", "/v1/parties"), 401)
    err(server.req("GET", "/v1/parties", token=tok + "x"), 401)
    err(server.req("GET", "/v1/parties", headers={"Authorization": "Basic " + tok}), 401)
    # tokens never appear in the log output
    assert tok not in server.stderr()


def test_admin_api_off(tmp_path):
    s = Server(str(tmp_path / "d"), admin=None).start()
    try:
        e = err(s.req("POST", "/v1/parties", token="anything", body={"id": "A", "name": "a"}), 403)
        assert "admin" in e["message"]
    finally:
        assert s.stop() == 0


def test_party_add_cli(tmp_path):
    import subprocess
    from conftest import BIN
    d = str(tmp_path / "d")
    out = subprocess.run([BIN, "party", "add", "P1", "Party one", "--data", d],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    tok = out.stdout.strip()
    again = subprocess.run([BIN, "party", "add", "P1", "dup", "--data", d], capture_output=True,
                           text=True)
    assert again.returncode != 0
    s = Server(d).start()
    try:
        assert s.req("GET", "/v1/parties", token=tok).status_code == 200
        # the data dir is locked while the service runs
        busy = subprocess.run([BIN, "party", "add", "P2", "x", "--data", d], capture_output=True,
                              text=True)
        assert busy.returncode != 0
    finally:
        assert s.stop() == 0
    bad = subprocess.run([BIN, "party", "add", "P3", "--data", d], capture_output=True, text=True)
    assert bad.returncode == 2


def test_sites_crud(server, parties):
    A, B = parties["A"], parties["B"]
    r = server.req("POST", "/v1/sites", token=A, body=site_body("s1"))
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "s1" and r.json()["conflicts"] == []
    err(server.req("POST", "/v1/sites", token=A, body=site_body("s1")), 409)
    assert server.req("GET", "/v1/sites/s1", token=A).json()["id"] == "s1"
    assert [s["id"] for s in server.req("GET", "/v1/sites", token=A).json()["sites"]] == ["s1"]
    r = server.req("PUT", "/v1/sites/s1", token=A, body=site_body("s1", name="renamed"))
    assert r.status_code == 200, r.text
    assert server.req("GET", "/v1/sites/s1", token=A).json()["name"] == "renamed"
    # another party can neither read nor change nor delete it
    err(server.req("GET", "/v1/sites/s1", token=B), *NOT_YOURS)
    assert server.req("GET", "/v1/sites", token=B).json()["sites"] == []
    err(server.req("DELETE", "/v1/sites/s1", token=B), *NOT_YOURS)
    assert server.req("DELETE", "/v1/sites/s1", token=A).status_code == 204
    err(server.req("GET", "/v1/sites/s1", token=A), 404)
    err(server.req("DELETE", "/v1/sites/s1", token=A), 404)
    err(server.req("POST", "/v1/sites", token=A, body={"id": "s2"}), 400, 422)
    err(server.req("POST", "/v1/sites", token=A), 400)
    err(server.req("POST", "/v1/sites", body=site_body("s3")), 401)


def test_put_other_partys_site_is_own_namespace(server, parties):
    """Ids are unique per owner: B's PUT of "s1" writes B's own site, never A's."""
    A, B = parties["A"], parties["B"]
    server.req("POST", "/v1/sites", token=A, body=site_body("s1", name="A's"))
    server.req("PUT", "/v1/sites/s1", token=B, body=site_body("s1", name="B's"))
    assert server.req("GET", "/v1/sites/s1", token=A).json()["name"] == "A's"


def test_units_and_positions(server, parties):
    A, B = parties["A"], parties["B"]
    r = server.req("PUT", "/v1/units/u1", token=A, body={"callsign": "One", "domain": "ground"})
    assert r.status_code in (200, 201), r.text
    r = server.req("PUT", "/v1/units/u1", token=A, body={"callsign": "Uno", "domain": "ground"})
    assert r.status_code == 200, r.text
    err(server.req("PUT", "/v1/units/u2", token=A, body={"callsign": "x", "domain": "space"}), 422, 400)
    units = server.req("GET", "/v1/units", token=A).json()["units"]
    assert [u["id"] for u in units] == ["u1"]
    assert server.req("GET", "/v1/units", token=B).json()["units"] == []
    r = server.req("POST", "/v1/positions", token=A,
                   body={"reports": [report("u1"), report("u1", lon=LON + 0.01)]})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2 and r.json()["conflicts"] == []
    # a batch is validated as a whole: one bad report names its index
    e = err(server.req("POST", "/v1/positions", token=A,
                       body={"reports": [report("u1"), report("u1", lat=91)]}), 422, 400)
    assert "1" in e["field"] + e["message"]
    e = err(server.req("POST", "/v1/positions", token=A,
                       body={"reports": [report("u1", time_="2030-01-01T00:05:00Z")]}), 422)
    err(server.req("POST", "/v1/positions", token=A, body={"reports": [report("nope")]}), 404, 422)
    err(server.req("POST", "/v1/positions", token=B, body={"reports": [report("u1")]}), 404, 403, 422)
    err(server.req("POST", "/v1/positions", token=A, body={"reports": "x"}), 400, 422)
    err(server.req("DELETE", "/v1/units/u1", token=B), *NOT_YOURS)
    assert server.req("DELETE", "/v1/units/u1", token=A).status_code == 204
    assert server.req("GET", "/v1/units", token=A).json()["units"] == []


def test_position_batches_all_or_nothing(server, parties):
    """A batch is checked whole before any of it applies, whichever way the
    service parses it; the 422 names the report; a deleted unit takes no
    reports until it is registered again; odd but valid JSON is accepted."""
    A = parties["A"]
    for u in ("p1", "p2"):
        assert server.req("PUT", "/v1/units/" + u, token=A,
                          body={"callsign": u, "domain": "ground"}).status_code in (200, 201)
    assert server.req("POST", "/v1/positions", token=A,
                      body={"reports": [report("p1"), report("p2")]}).status_code == 200

    def pos(u):
        return [x for x in server.req("GET", "/v1/units", token=A).json()["units"]
                if x["id"] == u][0]

    before = pos("p1")
    e = err(server.req("POST", "/v1/positions", token=A,
                       body={"reports": [report("p1", lon=LON + 0.02), report("p2"),
                                         report("ghost")]}), 422)
    assert e["field"] == "reports[2].unit", e
    e = err(server.req("POST", "/v1/positions", token=A,
                       body={"reports": [report("p1", lon=LON + 0.02),
                                         report("p2", time_="2030-01-01T00:05:00Z")]}), 422)
    assert e["field"] == "reports[1].time", e
    e = err(server.req("POST", "/v1/positions", token=A,
                       body={"reports": [report("p1", lon=LON + 0.02), report("p2", lat=-91)]}),
            422)
    assert e["field"] == "reports[1].lat", e
    assert pos("p1") == before
    # deleted, then registered again
    assert server.req("DELETE", "/v1/units/p2", token=A).status_code == 204
    e = err(server.req("POST", "/v1/positions", token=A, body={"reports": [report("p2")]}), 422)
    assert e["field"] == "reports[0].unit", e
    assert server.req("PUT", "/v1/units/p2", token=A,
                      body={"callsign": "p2", "domain": "ground"}).status_code in (200, 201)
    assert server.req("POST", "/v1/positions", token=A,
                      body={"reports": [report("p2")]}).status_code == 200
    # exponents, escapes, whitespace and an owner field: valid, so accepted
    raw = ('{ "reports" : [ {"unit":"p\\u0031","lon":%r,"lat":%re0,"ce_m":1E1,'
           '"time":"2030-01-01T00:00:00Z","owner":"A"} ] }' % (LON + 0.01, LAT))
    r = server.req("POST", "/v1/positions", token=A, raw=raw,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    p1 = pos("p1")
    assert p1 != before and p1["position"]["ce_m"] == 10, p1


def setup_conflict(server, parties):
    """B has a unit inside A's strike; H has a hospital next to it."""
    A, B, H = parties["A"], parties["B"], parties["H"]
    assert server.req("PUT", "/v1/units/bu", token=B,
                      body={"callsign": "Blue", "domain": "ground"}).status_code in (200, 201)
    assert server.req("POST", "/v1/positions", token=B,
                      body={"reports": [report("bu")]}).status_code == 200
    assert server.req("POST", "/v1/sites", token=H, body=site_body("hosp")).status_code == 201
    r = server.req("POST", "/v1/operations", token=A, body=op_body("op1"))
    assert r.status_code == 201, r.text
    return r.json()


def test_operations_and_interlock(server, parties):
    A, B, H = parties["A"], parties["B"], parties["H"]
    created = setup_conflict(server, parties)
    others = sorted((c["other"]["party"], c["other"]["type"], c["other"]["id"])
                    for c in created["conflicts"])
    assert others == [("B", "unit", "bu"), ("H", "site", "hosp")]
    assert all(c["severity"] == "critical" for c in created["conflicts"])
    assert server.req("GET", "/v1/operations/op1", token=A).json()["id"] == "op1"
    assert [o["id"] for o in server.req("GET", "/v1/operations", token=A).json()["operations"]] == ["op1"]
    err(server.req("POST", "/v1/operations", token=A, body=op_body("op1")), 409)

    r = server.req("POST", "/v1/operations/op1/activate", token=A)
    e = err(r, 409)
    blocking = r.json().get("blocking") or e.get("blocking")
    assert len(blocking) == 2
    err(server.req("POST", "/v1/operations/op1/activate", token=B), *NOT_YOURS)

    conflicts = server.req("GET", "/v1/conflicts?state=open", token=A).json()["conflicts"]
    assert len(conflicts) == 2
    # a third party cannot acknowledge; acks need both sides
    for c in conflicts:
        err(server.req("POST", "/v1/conflicts/%s/ack" % c["id"], token=parties["H"] if
                       c["other"]["party"] == "B" else B, body={}), 404, 403)
        r = server.req("POST", "/v1/conflicts/%s/ack" % c["id"], token=A, body={"note": "seen"})
        assert r.status_code == 200, r.text
        rec = r.json()["receipt"]
        assert rec["record"] > 0 and len(rec["hash"]) == 64
    err(server.req("POST", "/v1/operations/op1/activate", token=A), 409)
    for c in conflicts:
        tok = B if c["other"]["party"] == "B" else H
        r = server.req("POST", "/v1/conflicts/%s/ack" % c["id"], token=tok)
        assert r.status_code == 200, r.text
        assert r.json()["conflict"]["acks"][c["other"]["party"]]
        # a note is its author's own: the other side sees the ack, not the note
        assert "note" not in r.json()["conflict"], r.text
        assert "seen" not in server.req("GET", "/v1/conflicts/" + c["id"], token=tok).text
        assert "seen" not in server.req("GET", "/v1/events?after=0", token=tok).text
        assert server.req("GET", "/v1/conflicts/" + c["id"], token=A).json()["note"] == "seen"
    r = server.req("POST", "/v1/operations/op1/activate", token=A)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "active"
    r = server.req("POST", "/v1/operations/op1/end", token=A)
    assert r.status_code == 200 and r.json()["state"] == "ended"
    err(server.req("POST", "/v1/operations/op1/cancel", token=A), 409)
    err(server.req("PUT", "/v1/operations/op1", token=A, body=op_body("op1")), 409)
    # ended: conflicts resolved
    assert server.req("GET", "/v1/conflicts?state=open", token=B).json()["conflicts"] == []
    err(server.req("GET", "/v1/conflicts?state=bogus", token=B), 400)
    err(server.req("POST", "/v1/operations/nope/end", token=A), 404)
    err(server.req("POST", "/v1/operations/op1/end", token=A, body={"x": 1}), 400)


def test_override(server, parties):
    A, B = parties["A"], parties["B"]
    setup_conflict(server, parties)
    err(server.req("POST", "/v1/operations/op1/activate", token=A, body={"override": {}}), 422, 400)
    err(server.req("POST", "/v1/operations/op1/activate", token=A, body={"override": "x"}), 400, 422)
    r = server.req("POST", "/v1/operations/op1/activate", token=A,
                   body={"override": {"reason": "troops in contact"}})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "active"
    ev = server.req("GET", "/v1/events?after=0", token=B).json()["events"]
    types = [e["type"] for e in ev]
    assert "overridden" in types, types
    over = [e for e in ev if e["type"] == "overridden"][0]
    assert over["by"] == "A" and over["reason"] == "troops in contact"
    err(server.req("POST", "/v1/operations/op1/activate", token=A), 409)


def test_check_cancel_delete(server, parties):
    A, B = parties["A"], parties["B"]
    setup_conflict(server, parties)
    r = server.req("POST", "/v1/check", token=B, body=op_body("draft", kind="artillery"))
    assert r.status_code == 200, r.text
    assert len(r.json()["conflicts"]) >= 1
    assert server.req("GET", "/v1/operations", token=B).json()["operations"] == []
    err(server.req("POST", "/v1/check", token=B, body={"kind": "strike"}), 400, 422)
    r = server.req("PUT", "/v1/operations/op2", token=A, body=op_body("op2", lon=LON + 1))
    assert r.status_code in (200, 201), r.text
    assert server.req("POST", "/v1/operations/op2/cancel", token=A).status_code == 200
    assert server.req("DELETE", "/v1/operations/op1", token=A).status_code == 204
    assert server.req("GET", "/v1/conflicts?state=open", token=A).json()["conflicts"] == []
    resolved = server.req("GET", "/v1/conflicts?state=resolved", token=B).json()["conflicts"]
    assert len(resolved) == 1 and resolved[0]["resolved_at"]


def test_need_to_know_matrix(server, parties):
    A, B, H = parties["A"], parties["B"], parties["H"]
    setup_conflict(server, parties)
    server.req("POST", "/v1/sites", token=H, body=site_body("public", lon=LON + 2, disclose="all"))
    server.req("PUT", "/v1/units/au", token=A, body={"callsign": "Red", "domain": "ground"})
    server.req("POST", "/v1/operations", token=B, body=op_body("bop", lon=LON + 3, kind="convoy"))

    def ids(tok, what):
        return sorted(o["id"] for o in server.req("GET", "/v1/" + what, token=tok).json()[what])

    assert ids(A, "sites") == ["public"]
    assert ids(B, "sites") == ["public"]
    assert ids(H, "sites") == ["hosp", "public"]
    assert ids(A, "units") == ["au"] and ids(B, "units") == ["bu"] and ids(H, "units") == []
    assert ids(A, "operations") == ["op1"] and ids(H, "operations") == []
    # single reads of other parties' objects
    for tok, path in ((A, "/v1/sites/hosp"), (B, "/v1/sites/hosp"), (A, "/v1/units/bu"),
                      (H, "/v1/units/bu"), (B, "/v1/operations/op1"), (H, "/v1/operations/op1"),
                      (A, "/v1/operations/bop")):
        err(server.req("GET", path, token=tok), *NOT_YOURS)
    # conflicts: each side sees only its own conflicts and only the other object
    ca = server.req("GET", "/v1/conflicts", token=A).json()["conflicts"]
    cb = server.req("GET", "/v1/conflicts", token=B).json()["conflicts"]
    ch = server.req("GET", "/v1/conflicts", token=H).json()["conflicts"]
    assert len(ca) == 2 and len(cb) == 1 and len(ch) == 1
    assert cb[0]["other"]["party"] == "A" and cb[0]["mine"] == {"type": "unit", "id": "bu"}
    assert "hosp" not in str(cb) and "hosp" not in str(server.req("GET", "/v1/events?after=0", token=B).json())
    hc = ch[0]["id"]
    err(server.req("GET", "/v1/conflicts/" + hc, token=B), 404, 403)
    err(server.req("POST", "/v1/conflicts/%s/ack" % hc, token=B), 404, 403)
    # the COP shows only what each may see
    cop_b = server.req("GET", "/v1/cop.geojson", token=B).json()
    assert cop_b["type"] == "FeatureCollection"
    text = str(cop_b)
    assert "au" not in [f.get("properties", {}).get("id") for f in cop_b["features"]]
    assert "'hosp'" not in text
    # sharing: B lets A list its units, not its operations
    r = server.req("PUT", "/v1/sharing/A", token=B, body={"units": True, "operations": False})
    assert r.status_code == 200, r.text
    assert ids(A, "units") == ["au", "bu"] and ids(A, "operations") == ["op1"]
    assert ids(H, "units") == []
    server.req("PUT", "/v1/sharing/A", token=B, body={"units": False, "operations": True})
    assert ids(A, "units") == ["au"] and ids(A, "operations") == ["bop", "op1"]
    err(server.req("PUT", "/v1/sharing/nobody", token=B, body={"units": True}), 404, 422)
    err(server.req("PUT", "/v1/sharing/A", token=B, body={"units": "yes"}), 400, 422)


def test_methods_and_paths(server, parties):
    A = parties["A"]
    for method, path in (("PATCH", "/v1/sites"), ("DELETE", "/v1/sites"), ("GET", "/v1/positions"),
                         ("PUT", "/v1/conflicts"), ("POST", "/v1/cop.geojson"),
                         ("GET", "/v1/operations/x/activate"), ("POST", "/healthz"),
                         ("DELETE", "/v1/events"), ("POST", "/")):
        r = server.req(method, path, token=A)
        err(r, 405)
        assert "Allow" in r.headers
    for path in ("/v1", "/v1/", "/v1/nothing", "/v1/sites/a/b", "/v1/operations/x/explode",
                 "/v1/conflicts/x/y", "/v1/events/x"):
        err(server.req("GET", path, token=A), 404)
    # "%00" must not cut a path or a parameter short
    for path in ("/v1/sites/%00", "/v1/sites/%00x", "/v1/units/a%00b"):
        err(server.req("GET", path, token=A), 400, 404)
    err(server.req("GET", "/v1/conflicts?state=open%00", token=A), 400)
    # other escapes still decode: an id of one letter, written %61
    assert server.req("PUT", "/v1/sites/%61", token=A, body=site_body("a")).status_code == 201
    assert server.req("GET", "/v1/sites/a", token=A).status_code == 200


def test_static_ui(tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<html>ui</html>")
    (web / "app.js").write_text("console.log(1)")
    (tmp_path / "secret.json").write_text("{}")
    s = Server(str(tmp_path / "d"), extra=["--web", str(web)]).start()
    try:
        r = s.req("GET", "/")
        assert r.status_code == 200 and r.text == "<html>ui</html>"
        assert r.headers["Content-Type"].startswith("text/html")
        assert s.req("GET", "/app.js").headers["Content-Type"].startswith("text/javascript")
        for bad in ("/../secret.json", "/%2e%2e/secret.json", "/missing.js", "/app.exe",
                    "/.hidden.js"):
            assert s.req("GET", bad).status_code == 404, bad
    finally:
        assert s.stop() == 0
    s = Server(str(tmp_path / "d2"), extra=["--web", str(tmp_path / "none")]).start()
    try:
        r = s.req("GET", "/")
        assert r.status_code == 200 and "not built" in r.text
    finally:
        assert s.stop() == 0


def test_review_findings(server, parties):
    """Defects found by the independent black-box review, kept fixed."""
    A, B = parties["A"], parties["B"]
    # a PUT that creates answers 201, one that replaces 200
    r = server.req("PUT", "/v1/sites/ps", token=A, body=site_body("ps", lon=LON + 1))
    assert r.status_code == 201, r.text
    assert server.req("PUT", "/v1/sites/ps", token=A,
                      body=site_body("ps", lon=LON + 1)).status_code == 200
    far = op_body("po", lon=LON + 2)
    assert server.req("PUT", "/v1/operations/po", token=A, body=far).status_code == 201
    # sharing and party bodies refuse what they do not understand
    err(server.req("PUT", "/v1/sharing/B", token=A, body={"unit": True}), 422)
    err(server.req("PUT", "/v1/sharing/B", token=A, body={"units": "yes"}), 400)
    err(server.req("POST", "/v1/parties", token=server.admin,
                   body={"id": "Z", "name": "z", "kind": "strike"}), 422)
    # a plan is cancelled, not ended
    err(server.req("POST", "/v1/operations/po/end", token=A), 409)
    # activated far from everything, then moved onto B's unit: back to planned
    assert server.req("POST", "/v1/operations/po/activate", token=A).status_code == 200
    assert server.req("PUT", "/v1/units/bu", token=B,
                      body={"callsign": "Blue", "domain": "ground"}).status_code == 201
    assert server.req("POST", "/v1/positions", token=B,
                      body={"reports": [report("bu")]}).status_code == 200
    r = server.req("PUT", "/v1/operations/po", token=A, body=op_body("po"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "planned"
    assert [c["severity"] for c in r.json()["conflicts"]] == ["critical"]
    err(server.req("POST", "/v1/operations/po/activate", token=A), 409)
