"""The bad-input corpus (tests/service/corpus/*.req: first line "METHOD
PATH", the rest the body). Every case must get a JSON 4xx, and the server
must stay up."""
import glob
import os

import pytest
import requests

from conftest import Server, op_body

CORPUS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "corpus", "*.req")))


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("corpus") / "d")).start()
    s.A = s.add_party("A")
    assert s.req("PUT", "/v1/units/u1", token=s.A,
                 body={"callsign": "u", "domain": "ground"}).status_code in (200, 201)
    assert s.req("POST", "/v1/operations", token=s.A, body=op_body("x1")).status_code == 201
    yield s
    assert s.alive(), s.stderr()[-2000:]
    assert s.stop() == 0


def check_4xx(s, r, what):
    assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:300])
    assert r.headers.get("Content-Type", "").startswith("application/json"), what
    e = r.json()["error"]
    assert isinstance(e["code"], str) and isinstance(e["message"], str) and "field" in e
    assert requests.get(s.url + "/healthz", timeout=5).status_code == 200, what


def test_corpus_not_empty():
    assert len(CORPUS) >= 50


@pytest.mark.parametrize("path", CORPUS, ids=[os.path.basename(p)[:-4] for p in CORPUS])
def test_corpus_case(srv, path):
    with open(path, "rb") as f:
        line, _, body = f.read().partition(b"\n")
    method, target = line.decode().split(" ", 1)
    r = requests.request(method, srv.url + target, data=body or None, timeout=30,
                         headers={"Authorization": "Bearer " + srv.A,
                                  "Content-Type": "application/json"})
    check_4xx(srv, r, os.path.basename(path))


def test_oversize_body(srv):
    big = b"[" + b"1," * (9 * 1024 * 1024) + b"1]"
    r = requests.post(srv.url + "/v1/sites", data=big, timeout=60,
                      headers={"Authorization": "Bearer " + srv.A})
    check_4xx(srv, r, "oversize")
    assert r.status_code == 413


def test_oversize_chunked(srv):
    def gen():
        chunk = b" " * (1024 * 1024)
        for _ in range(18):
            yield chunk
    r = requests.post(srv.url + "/v1/operations", data=gen(), timeout=60,
                      headers={"Authorization": "Bearer " + srv.A})
    check_4xx(srv, r, "oversize chunked")
    assert r.status_code == 413


def test_bad_auth_headers(srv):
    for h in ({"Authorization": "Bearer"}, {"Authorization": "Bearer " + "x" * 5000},
              {"Authorization": "Token abc"}, {"Authorization": ""}):
        r = requests.get(srv.url + "/v1/sites", headers=h, timeout=10)
        check_4xx(srv, r, str(h)[:40])
        assert r.status_code == 401
