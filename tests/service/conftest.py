"""Black-box harness: starts the real `deconflict serve` binary (env
DECONFLICT_BIN) on a free loopback port with a fresh data directory and
speaks HTTP to it."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

BIN = os.environ.get("DECONFLICT_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "deconflict")
ADMIN = "test-admin-token-0123456789"
SLOW = os.environ.get("DC_SLOW") == "1"
CLOCK = "2030-01-01T00:00:00Z"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir, clock=CLOCK, extra=(), admin=ADMIN, scenario=None):
        self.data = data_dir
        self.clock = clock
        self.extra = list(extra)
        self.admin = admin
        self.scenario = scenario
        self.proc = None
        self.port = None
        self.stdout = ""

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self.port = free_port()
        args = [BIN, "serve", "--data", self.data, "--listen", "127.0.0.1:%d" % self.port,
                "--quiet"] + self.extra
        if self.clock:
            args += ["--clock-start", self.clock]
        if self.scenario:
            args += ["--scenario", self.scenario]
        env = dict(os.environ)
        env.pop("DECONFLICT_ADMIN_TOKEN", None)
        if self.admin:
            env["DECONFLICT_ADMIN_TOKEN"] = self.admin
        self.errf = tempfile.TemporaryFile()
        self.outf = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(args, stdout=self.outf, stderr=self.errf, env=env)
        deadline = time.time() + (60 if SLOW else 20)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: %s" % self.stderr())
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    self.outf.seek(0)
                    self.stdout = self.outf.read().decode()
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not start: %s" % self.stderr())

    def stderr(self):
        self.errf.seek(0)
        return self.errf.read().decode(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
            return rc
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    # -- HTTP helpers --
    def req(self, method, path, token=None, body=None, raw=None, headers=None, timeout=30):
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        return requests.request(method, self.url + path, data=data, headers=h, timeout=timeout)

    def add_party(self, pid, name=None):
        r = self.req("POST", "/v1/parties", token=self.admin, body={"id": pid, "name": name or pid})
        assert r.status_code == 201, r.text
        return r.json()["token"]


@pytest.fixture
def server(tmp_path):
    s = Server(str(tmp_path / "data")).start()
    yield s
    rc = s.stop()
    assert rc == 0, s.stderr()[-3000:]
    assert_clean(s)


def assert_clean(s):
    """No sanitizer report in the server's stderr."""
    err = s.stderr()
    for marker in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
        assert marker not in err, err[err.find(marker) - 200:][:3000]


@pytest.fixture
def parties(server):
    """Three parties: A and B are armed forces, H humanitarian."""
    return {p: server.add_party(p) for p in ("A", "B", "H")}


# -- bodies --
LON, LAT = 37.50, 36.37


def square(lon, lat, d=0.003):
    return {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d],
                                                [lon + d, lat + d], [lon - d, lat + d],
                                                [lon - d, lat - d]]]}


def site_body(sid, lon=LON, lat=LAT, disclose=None, **kw):
    b = {"id": sid, "name": "site " + sid, "category": "hospital",
         "geometry": {"type": "Point", "coordinates": [lon, lat]}, "radius_m": 50,
         "standoff_m": 100}
    if disclose:
        b["disclose"] = disclose
    b.update(kw)
    return b


def op_body(oid, lon=LON, lat=LAT, kind="strike", start="2030-01-01T01:00:00Z",
            end="2030-01-01T02:00:00Z", hazard=500, warning=500):
    return {"id": oid, "name": "op " + oid, "kind": kind, "hazard_m": hazard, "warning_m": warning,
            "volumes": [{"geometry": square(lon, lat), "alt_lower_m": 0, "alt_upper_m": 8000,
                         "start": start, "end": end}]}


def report(unit, lon=LON, lat=LAT, time_="2030-01-01T00:00:00Z", ce=10):
    return {"unit": unit, "lon": lon, "lat": lat, "ce_m": ce, "time": time_}
