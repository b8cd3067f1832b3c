"""The service as a process: its heap on transparent huge pages
(src/service/heap.h), which it gets by starting itself again in place."""
import json
import os
import re

from conftest import BIN, Server


def proc_env(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return [v.decode(errors="replace") for v in f.read().split(b"\0") if v]


def proc_read(pid, name):
    with open("/proc/%d/%s" % (pid, name)) as f:
        return f.read()


def anon_huge_kb(pid):
    for line in proc_read(pid, "smaps_rollup").splitlines():
        if line.startswith("AnonHugePages:"):
            return int(line.split()[1])
    return 0


def thp_offered():
    """Whether the service's heap can be on huge pages here: the kernel
    offers them, and glibc's malloc is the one in use (AddressSanitizer
    builds have their own allocator, which ignores glibc's tunables)."""
    with open(BIN, "rb") as f:
        if b"__asan_init" in f.read():
            return False
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return "[never]" not in f.read()
    except OSError:
        return False


def big_scenario(path, n):
    sc = {"clock": "2030-01-01T00:00:00Z",
          "parties": [{"id": "A", "name": "A"}],
          "units": [{"owner": "A", "id": "u%d" % i, "callsign": "c%d" % i, "domain": "ground"}
                    for i in range(n)],
          "positions": [{"owner": "A", "unit": "u%d" % i, "lon": 37.0 + (i % 300) * 0.003,
                         "lat": 36.0 + (i // 300) * 0.003, "ce_m": 10,
                         "time": "2030-01-01T00:00:00Z"} for i in range(n)]}
    with open(path, "w") as f:
        json.dump(sc, f)
    return str(path)


def run_big(tmp_path, name, env):
    """Starts a service holding 10,000 units (a heap of tens of MB) with
    env added to the environment; returns its raw environment block, its
    name and its heap's huge pages (kB)."""
    sc = big_scenario(tmp_path / (name + ".json"), 10000)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        s = Server(str(tmp_path / name), clock=None, scenario=sc).start()
    finally:
        for k, v in saved.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v
    try:
        pid = s.proc.pid  # the same process after the restart in place
        tok = re.search(r"#party=A&token=(\S+)", s.stdout).group(1)
        r = s.req("GET", "/v1/units/u9999", token=tok)
        assert r.status_code == 200, r.text
        with open("/proc/%d/environ" % pid, "rb") as f:
            environ = f.read()
        return environ, proc_read(pid, "comm").strip(), anon_huge_kb(pid)
    finally:
        assert s.stop() == 0


def test_heap_on_huge_pages(tmp_path):
    environ, comm, huge = run_big(tmp_path, "on", {})
    assert b"GLIBC_TUNABLES=glibc.malloc.hugetlb=1" in environ
    assert comm == "deconflict"  # not "exe"
    if thp_offered():
        assert huge > 0


def test_huge_pages_off(tmp_path):
    environ, comm, huge = run_big(tmp_path, "off", {"DECONFLICT_HUGEPAGES": "0"})
    assert b"glibc.malloc.hugetlb" not in environ
    assert huge == 0


def test_huge_pages_keep_the_users_tunables(tmp_path):
    # glibc cuts the variable's original text after the first tunable
    # when it reads it (in place: /proc shows the rest as a separate
    # string), so both are looked for in the raw block.
    environ, comm, huge = run_big(tmp_path, "user", {"GLIBC_TUNABLES": "glibc.malloc.arena_max=4"})
    assert b"GLIBC_TUNABLES=glibc.malloc.arena_max=4" in environ
    assert b"glibc.malloc.hugetlb=1" in environ
    if thp_offered():
        assert huge > 0
