"""Durability and record: kill -9 under concurrent write load loses no
acknowledged write; restart replays to identical conflicts and events;
`audit verify` detects edits and removals."""
import hashlib
import os
import sqlite3
import subprocess
import threading
import time

import requests

from conftest import BIN, LAT, LON, SLOW, Server, op_body, report, site_body


def audit(data):
    return subprocess.run([BIN, "audit", "verify", "--data", data], capture_output=True, text=True)


def snapshot(s, toks):
    out = {}
    for p, t in toks.items():
        out[p] = {
            "conflicts": s.req("GET", "/v1/conflicts", token=t).json(),
            "events": s.req("GET", "/v1/events?after=0&limit=1000", token=t).json(),
            "sites": s.req("GET", "/v1/sites", token=t).json(),
            "units": s.req("GET", "/v1/units", token=t).json(),
            "operations": s.req("GET", "/v1/operations", token=t).json(),
        }
    return out


def load(s, toks, stop, acked, errors, worker):
    A, B = toks["A"], toks["B"]
    i = 0
    sess = requests.Session()
    while not stop.is_set():
        i += 1
        try:
            if worker % 2 == 0:
                sid = "w%d-%d" % (worker, i)
                lon = LON + (0.001 * i if i % 3 else 0)
                r = sess.post(s.url + "/v1/sites", json=site_body(sid, lon=lon),
                              headers={"Authorization": "Bearer " + B}, timeout=10)
                if r.status_code == 201:
                    acked.append(("site", sid))
                elif r.status_code >= 500:
                    errors.append(r.text)
            else:
                oid = "o%d-%d" % (worker, i)
                r = sess.put(s.url + "/v1/operations/" + oid,
                             json=op_body(oid, lon=LON + 0.002 * (i % 5)),
                             headers={"Authorization": "Bearer " + A}, timeout=10)
                if r.status_code in (200, 201):
                    acked.append(("op", oid))
                elif r.status_code >= 500:
                    errors.append(r.text)
        except requests.RequestException:
            return


def start_with_parties(data):
    s = Server(data).start()
    toks = {p: s.add_party(p) for p in ("A", "B")}
    assert s.req("PUT", "/v1/units/bu", token=toks["B"],
                 body={"callsign": "b", "domain": "ground"}).status_code in (200, 201)
    assert s.req("POST", "/v1/positions", token=toks["B"],
                 body={"reports": [report("bu")]}).status_code == 200
    return s, toks


def test_kill9_under_load(tmp_path):
    data = str(tmp_path / "d")
    s, toks = start_with_parties(data)
    stop = threading.Event()
    acked, errors = [], []
    threads = [threading.Thread(target=load, args=(s, toks, stop, acked, errors, w))
               for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(3 if SLOW else 1.5)
    s.kill9()  # mid-load
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
    assert len(acked) > 10, len(acked)
    v = audit(data)
    assert v.returncode == 0, v.stdout + v.stderr

    s2 = Server(data).start()
    try:
        for kind, oid in acked:
            tok = toks["B"] if kind == "site" else toks["A"]
            path = "/v1/sites/" if kind == "site" else "/v1/operations/"
            r = s2.req("GET", path + oid, token=tok)
            assert r.status_code == 200, (kind, oid, r.text)
        # a quiet state, then a second restart must be identical
        before = snapshot(s2, toks)
        s2.kill9()
        s3 = Server(data).start()
        try:
            after = snapshot(s3, toks)
            assert after == before
            # events are gap-free from 1
            for p in toks:
                seqs = [e["seq"] for e in after[p]["events"]["events"]]
                assert seqs == list(range(1, len(seqs) + 1))
        finally:
            assert s3.stop() == 0
    finally:
        if s2.alive():
            s2.stop()
    assert audit(data).returncode == 0


def test_restart_identical_with_clock(tmp_path):
    data = str(tmp_path / "d")
    s, toks = start_with_parties(data)
    A, B = toks["A"], toks["B"]
    r = s.req("POST", "/v1/operations", token=A, body=op_body("op1"))
    assert r.status_code == 201 and len(r.json()["conflicts"]) == 1
    cid = r.json()["conflicts"][0]["id"]
    r = s.req("POST", "/v1/conflicts/%s/ack" % cid, token=B, body={"note": "seen"})
    rec = r.json()["receipt"]
    s.req("POST", "/v1/operations/op1/activate", token=A, body={"override": {"reason": "r"}})
    before = snapshot(s, toks)
    assert s.stop() == 0
    # the receipt names a record whose hash is in the log
    db = sqlite3.connect(os.path.join(data, "deconflict.db"))
    (h,) = db.execute("SELECT hash FROM log WHERE idx = ?", (rec["record"],)).fetchone()
    assert h == rec["hash"]
    # every record's hash is SHA-256 over "dclog1\n" idx "\n" prev "\n" content
    # (docs/api.md), recomputed here with Python's hashlib, and the chain holds
    prev_hash = "0" * 64
    for idx, prev, hsh, content in db.execute(
            "SELECT idx, prev, hash, content FROM log ORDER BY idx"):
        assert prev == prev_hash
        want = hashlib.sha256(("dclog1\n%d\n%s\n" % (idx, prev)).encode()
                              + content.encode()).hexdigest()
        assert hsh == want, idx
        prev_hash = hsh
    db.close()
    # restarted with an earlier --clock-start: resumes from the log's time
    s2 = Server(data, clock="2029-01-01T00:00:00Z").start()
    try:
        assert snapshot(s2, toks) == before
        r = s2.req("POST", "/v1/positions", token=B,
                   body={"reports": [report("bu", time_="2030-01-01T00:00:30Z")]})
        assert r.status_code == 200, r.text
    finally:
        assert s2.stop() == 0


def test_restart_runs_of_one_report_records(tmp_path):
    """A restart finds the units of runs of one-report position records
    ahead of them (svc.c, replay_find_ahead). Runs here mix two parties,
    reports that open, update and resolve conflicts, a unit deleted and
    made again between runs, and a report the engine ignores (older than
    the unit's last); the restart must give back the same state and the
    same events, finding none to rebuild."""
    data = str(tmp_path / "d")
    s = Server(data).start()
    toks = {p: s.add_party(p) for p in ("A", "B", "C")}
    A, B, C = toks["A"], toks["B"], toks["C"]
    assert s.req("POST", "/v1/operations", token=A,
                 body=op_body("op1", start="2030-01-01T00:00:00Z")).status_code == 201
    units = [(B, "b%d" % i) for i in range(6)] + [(C, "c%d" % i) for i in range(4)]
    for tok, u in units:
        assert s.req("PUT", "/v1/units/" + u, token=tok,
                     body={"callsign": u, "domain": "ground"}).status_code in (200, 201)

    def walk(rounds, t0):
        for k in range(rounds):
            for i, (tok, u) in enumerate(units):
                # in and out of op1's reach (1 km) as k and i vary
                lon = LON + 0.007 * ((k + i) % 4) + 0.0001 * i
                t = "2030-01-01T00:00:%06.3fZ" % (t0 + 0.5 * k + 0.01 * i)
                r = s.req("POST", "/v1/positions", token=tok,
                          body={"reports": [report(u, lon=lon, time_=t)]})
                assert r.status_code == 200, r.text

    walk(30, 1)  # 300 records: the delete falls inside the restart's second batch of 256
    assert s.req("DELETE", "/v1/units/b3", token=B).status_code in (200, 204)
    assert s.req("PUT", "/v1/units/b3", token=B,
                 body={"callsign": "b3 again", "domain": "ground"}).status_code in (200, 201)
    walk(12, 17)
    r = s.req("POST", "/v1/positions", token=B,
              body={"reports": [report("b0", time_="2030-01-01T00:00:00.500Z")]})
    assert r.status_code == 200, r.text  # older than b0's last: recorded, ignored
    walk(6, 25)
    before = snapshot(s, toks)
    types = {e["type"] for e in before["A"]["events"]["events"]}
    assert {"opened", "changed", "resolved"} <= types, types
    assert s.stop() == 0
    s2 = Server(data).start()
    try:
        assert snapshot(s2, toks) == before
        assert "events_rebuilt" not in s2.stderr() + s2.stdout
    finally:
        assert s2.stop() == 0
    r = audit(data)
    assert r.returncode == 0, r.stdout + r.stderr


def test_restart_refers_to_stored_texts(tmp_path):
    """An operation's geometry is stored once in the texts table and events
    refer to it by number. After a restart (whose replay writes events in
    full) the next events that show it must refer to the stored text, not
    store it again, and still read back in full."""
    data = str(tmp_path / "d")
    s, toks = start_with_parties(data)
    A, B = toks["A"], toks["B"]
    assert s.req("POST", "/v1/operations", token=A, body=op_body("op1")).status_code == 201
    assert s.stop() == 0

    def texts():
        db = sqlite3.connect(os.path.join(data, "deconflict.db"))
        try:
            return db.execute("SELECT text FROM texts ORDER BY id").fetchall()
        finally:
            db.close()

    stored = texts()
    assert stored, "the operation's geometry should be a shared text"
    s2 = Server(data).start()
    try:
        for u in ("bu2", "bu3"):
            assert s2.req("PUT", "/v1/units/" + u, token=B,
                          body={"callsign": u, "domain": "ground"}).status_code in (200, 201)
            r = s2.req("POST", "/v1/positions", token=B, body={"reports": [report(u)]})
            assert r.status_code == 200 and len(r.json()["conflicts"]) == 1, r.text
        evs = s2.req("GET", "/v1/events?after=0&limit=1000", token=B).json()["events"]
    finally:
        assert s2.stop() == 0
    geoms = [e["conflict"]["other"]["geometry"] for e in evs if e["type"] == "opened"]
    assert len(geoms) == 3 and geoms[0] == geoms[1] == geoms[2]
    assert geoms[0]["type"] == "Polygon"
    after = texts()
    assert after == stored, "texts stored again after the restart: %d -> %d" % (
        len(stored), len(after))


def test_events_table_of_earlier_layout(tmp_path):
    """A data directory made before 2026-12-07 keeps events in a WITHOUT
    ROWID table keyed on (party, seq); new ones use a rowid table with a
    unique index (store.c). The service restarts on the old layout, checks
    its events, serves them, and appends to it."""
    data = str(tmp_path / "d")
    s, toks = start_with_parties(data)
    A, B = toks["A"], toks["B"]
    r = s.req("POST", "/v1/operations", token=A, body=op_body("op1"))
    assert r.status_code == 201 and len(r.json()["conflicts"]) == 1
    before = snapshot(s, toks)
    assert s.stop() == 0
    db = sqlite3.connect(os.path.join(data, "deconflict.db"))
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()
    assert "UNIQUE" in sql and "WITHOUT ROWID" not in sql
    db.executescript(
        "CREATE TABLE old (party TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,"
        " PRIMARY KEY (party, seq)) WITHOUT ROWID;"
        "INSERT INTO old SELECT party, seq, body FROM events;"
        "DROP TABLE events; ALTER TABLE old RENAME TO events;")
    db.close()
    s2 = Server(data).start()
    try:
        assert snapshot(s2, toks) == before
        head = s2.req("GET", "/v1/events?after=0&limit=1000", token=B).json()["events"]
        r = s2.req("POST", "/v1/operations/op1/activate", token=A,
                   body={"override": {"reason": "r"}})
        assert r.status_code == 200, r.text
        after = s2.req("GET", "/v1/events?after=0&limit=1000", token=B).json()["events"]
        assert after[:len(head)] == head and len(after) > len(head)
    finally:
        assert s2.stop() == 0
    db = sqlite3.connect(os.path.join(data, "deconflict.db"))
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()
    db.close()
    assert "WITHOUT ROWID" in sql
    assert audit(data).returncode == 0


def test_clock_ends_volumes(tmp_path):
    """Time-driven changes fire on the clock and survive a restart."""
    data = str(tmp_path / "d")
    s = Server(data, clock="2030-01-01T00:59:57Z").start()
    A, B = s.add_party("A"), s.add_party("B")
    s.req("PUT", "/v1/units/bu", token=B, body={"callsign": "b", "domain": "ground"})
    s.req("POST", "/v1/positions", token=B,
          body={"reports": [report("bu", time_="2030-01-01T00:59:57Z")]})
    r = s.req("POST", "/v1/operations", token=A,
              body=op_body("op1", start="2030-01-01T00:00:00Z", end="2030-01-01T01:00:00Z"))
    assert len(r.json()["conflicts"]) == 1
    r = s.req("GET", "/v1/events?after=1&wait=10", token=B)
    ev = r.json()["events"]
    assert [e["type"] for e in ev] == ["resolved"], ev
    toks = {"A": A, "B": B}
    before = snapshot(s, toks)
    assert s.stop() == 0
    s2 = Server(data, clock="2030-01-01T00:59:57Z").start()
    try:
        assert snapshot(s2, toks) == before
    finally:
        assert s2.stop() == 0


def test_tamper_detected(tmp_path):
    data = str(tmp_path / "d")
    s, toks = start_with_parties(data)
    for i in range(5):
        s.req("POST", "/v1/sites", token=toks["B"], body=site_body("s%d" % i))
    assert s.req("POST", "/v1/operations", token=toks["A"], body=op_body("op1")).status_code == 201
    assert s.stop() == 0
    ok = audit(data)
    assert ok.returncode == 0 and "ok" in ok.stdout
    dbp = os.path.join(data, "deconflict.db")

    def edit(sql, *args):
        db = sqlite3.connect(dbp)
        db.execute(sql, args)
        db.commit()
        db.close()

    import shutil
    pristine = str(tmp_path / "pristine.db")
    shutil.copy(dbp, pristine)
    # edit one record's content
    edit("UPDATE log SET content = replace(content, 'site s2', 'site X2') WHERE idx = 7")
    v = audit(data)
    assert v.returncode == 1 and "record 7" in v.stdout, v.stdout
    # the service refuses to load it
    srv = Server(data)
    try:
        srv.start()
        assert False, "started on a tampered log"
    except RuntimeError:
        pass
    # removal of a record before the last
    shutil.copy(pristine, dbp)
    edit("DELETE FROM log WHERE idx = 4")
    v = audit(data)
    assert v.returncode == 1 and "record 4" in v.stdout, v.stdout
    # re-hashing the edited record breaks the next record's link
    shutil.copy(pristine, dbp)
    db = sqlite3.connect(dbp)
    (content, prev) = db.execute("SELECT content, prev FROM log WHERE idx = 5").fetchone()
    db.close()
    new = content.replace("site s0", "site Y0")
    h = hashlib.sha256(("dclog1\n5\n%s\n" % prev).encode() + new.encode()).hexdigest()
    edit("UPDATE log SET content = ?, hash = ? WHERE idx = 5", new, h)
    v = audit(data)
    assert v.returncode == 1 and "record 6" in v.stdout, v.stdout
    # events kept beside the log are checked against the replay
    shutil.copy(pristine, dbp)
    edit("UPDATE events SET body = replace(body, 'opened', 'resolved')")
    v = audit(data)
    assert v.returncode == 1 and "event" in v.stdout, v.stdout
    # ... and rebuilt by the service at start
    s2 = Server(data).start()
    assert s2.stop() == 0
    assert audit(data).returncode == 0


def test_tamper_detected_in_positions_and_shared_texts(tmp_path):
    """The restart's fast paths (position records read without jansson,
    stored event bodies compared piece by piece with their shared texts)
    detect what the general path detects."""
    data = str(tmp_path / "d")
    s, toks = start_with_parties(data)
    A, B = toks["A"], toks["B"]
    assert s.req("POST", "/v1/operations", token=A, body=op_body("op1")).status_code == 201
    # position records: in and out of op1, opening and resolving conflicts
    for i, lon in enumerate([LON, LON + 1.0, LON, LON + 1.0, LON]):
        r = s.req("POST", "/v1/positions", token=B,
                  body={"reports": [report("bu", lon=lon, time_="2030-01-01T00:00:0%dZ" % i)]})
        assert r.status_code == 200, r.text
    assert s.stop() == 0
    assert audit(data).returncode == 0
    dbp = os.path.join(data, "deconflict.db")

    def q(sql, *args):
        db = sqlite3.connect(dbp)
        rows = db.execute(sql, args).fetchall()
        db.commit()
        db.close()
        return rows

    import shutil
    pristine = str(tmp_path / "pristine.db")
    shutil.copy(dbp, pristine)
    (last,) = q("SELECT max(idx) FROM log")[0]
    (idx, content, prev) = q("SELECT idx, content, prev FROM log WHERE content LIKE "
                             "'{\"args\":{\"reports\":%' ORDER BY idx DESC LIMIT 1")[0]
    assert idx == last
    # an edited position record
    q("UPDATE log SET content = replace(content, '\"lon\":37.5', '\"lon\":37.6') WHERE idx = ?",
      idx)
    v = audit(data)
    assert v.returncode == 1 and "record %d" % idx in v.stdout, v.stdout
    # ... re-hashed: the replay re-derives other events than those stored
    shutil.copy(pristine, dbp)
    new = content.replace('"lon":37.5', '"lon":37.6')
    assert new != content
    h = hashlib.sha256(("dclog1\n%d\n%s\n" % (idx, prev)).encode() + new.encode()).hexdigest()
    q("UPDATE log SET content = ?, hash = ? WHERE idx = ?", new, h, idx)
    v = audit(data)
    assert v.returncode == 1 and "event" in v.stdout, v.stdout
    assert q("SELECT count(*) FROM texts")[0][0] > 0
    for sql, says in (
            # an edited shared text (the geometry an event body refers to)
            ("UPDATE texts SET text = replace(text, '37.', '38.')", "event"),
            # a text that is gone, a text one byte shorter
            ("DELETE FROM texts", "event"),
            ("UPDATE texts SET text = substr(text, 1, length(text) - 1)", "event"),
            # an event removed, an event added
            ("DELETE FROM events WHERE seq = 1 AND party = 'B'", "event"),
            ("INSERT INTO events(party, seq, body) VALUES ('B', 999, '{}')", "999")):
        shutil.copy(pristine, dbp)
        q(sql)
        v = audit(data)
        assert v.returncode == 1 and says in v.stdout, (sql, v.stdout)
    # the service repairs the events at start (texts edited: bodies rewritten in full)
    shutil.copy(pristine, dbp)
    q("UPDATE texts SET text = replace(text, '37.', '38.')")
    s2 = Server(data).start()
    assert s2.stop() == 0
    assert audit(data).returncode == 0
