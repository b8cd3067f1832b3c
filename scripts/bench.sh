#!/usr/bin/env bash
# bench.sh: `make bench` (and, with BENCH_SMOKE=1, the smoke run inside
# `make test`). Starts PostgreSQL+PostGIS and Redis on loopback in
# temporary directories, the deconflict service when it is built, runs
# every contender on the same seeded workload (bench/README), prints a
# table and writes bench/results/latest.json (smoke: bench/results/smoke.json).
# Fails loudly when a contender fails or disagrees with the engine's counts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SMOKE=${BENCH_SMOKE:-0}
SEED=${BENCH_SEED:-20170209}
BUILD=${BENCH_BUILD:-build}
JOBS=${JOBS:-2}
PY=/usr/bin/python3
SM=(); [ "$SMOKE" = 1 ] && SM=(--smoke)

say() { printf '[bench] %s\n' "$*" >&2; }
fail() { printf '[bench] FAIL: %s\n' "$*" >&2; exit 1; }

# Build (the Makefile builds first; this makes the script usable alone).
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$JOBS" >/dev/null || fail "build failed"
for b in bench_engine dc_pgbench dc_redisbench; do
  [ -x "$BUILD/$b" ] || fail "$BUILD/$b was not built (libpq-dev installed?)"
done

WORK=$(mktemp -d /tmp/dc-bench.XXXXXX)
chmod 755 "$WORK"
PGDATA=$WORK/pg; RDIR=$WORK/redis; OUT=$WORK/out
mkdir -p "$OUT" "$RDIR"
PGBIN=/usr/lib/postgresql/15/bin
PG_STARTED=0; REDIS_PID=""; SVC_PID=""
cleanup() {
  set +e
  [ -n "$SVC_PID" ] && kill "$SVC_PID" 2>/dev/null && wait "$SVC_PID" 2>/dev/null
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  [ "$PG_STARTED" = 1 ] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# PostgreSQL refuses to run as root: run its tools as the postgres user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# ---- in-process engine (also writes the expected counts) ----
say "deconflict in-process (engine API, one core)"
# D (restart) writes a data directory under $OUT with the service's own
# code and times the service's restart of it.
"$BUILD/bench_engine" "${SM[@]}" --seed "$SEED" --out "$OUT" ${BENCH_REPLAY_RECORDS:+--replay-records "$BENCH_REPLAY_RECORDS"} \
  --scale-steps "${BENCH_SCALE_STEPS:-$([ "$SMOKE" = 1 ] && echo 2 || echo 3)}" >"$OUT/engine.json" \
  || fail "bench_engine failed"
# Report cost against the number of operations alone (same local picture,
# 1k / 10k / 100k operations in all): issue 2's flatness check.
say "report cost vs number of operations (bench_flat)"
"$BUILD/bench_flat" "${SM[@]}" --seed "$SEED" || fail "bench_flat failed"

# ---- PostgreSQL + PostGIS ----
PGPORT=$(free_port)
mkdir -p "$PGDATA"; [ "$(id -u)" = 0 ] && chown postgres "$PGDATA" "$WORK"
as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --no-sync >/dev/null \
  || fail "initdb failed"
cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$WORK'
shared_buffers = '2GB'
work_mem = '64MB'
maintenance_work_mem = '1GB'
effective_cache_size = '8GB'
max_wal_size = '8GB'
checkpoint_timeout = '30min'
random_page_cost = 1.1
jit = off
CONF
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/pg.log" -w -t 60 start >/dev/null \
  || { cat "$WORK/pg.log" >&2; fail "PostgreSQL did not start"; }
PG_STARTED=1
CONN="host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres"
PGCAP=${BENCH_PG_CAP:-150}
say "PostGIS $(as_pg psql -h 127.0.0.1 -p "$PGPORT" -U postgres -Atc 'select version()' | cut -d' ' -f1-2) on port $PGPORT"
"$BUILD/dc_pgbench" "$CONN" "${SM[@]}" --seed "$SEED" --expect "$OUT" --cap "$PGCAP" --conns 2 \
  >"$OUT/pg.json" || fail "PostGIS contender failed"
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null; PG_STARTED=0

# ---- Redis GEO ----
RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$RDIR" --save '' --appendonly no \
  --daemonize no --loglevel warning >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for i in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$RPORT" ping >/dev/null 2>&1 || fail "Redis did not start"
say "Redis $(redis-server --version | awk '{print $3}') on port $RPORT"
"$BUILD/dc_redisbench" 127.0.0.1 "$RPORT" "${SM[@]}" --seed "$SEED" --expect "$OUT" \
  >"$OUT/redis.json" || fail "Redis contender failed"
kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=""

# start_service DIR LOG: a fresh deconflict service on a free port, as the
# tests start it; sets SPORT and SVC_PID.
start_service() {
  SPORT=$(free_port)
  "$BUILD/deconflict" serve --data "$1" --listen "127.0.0.1:$SPORT" \
    --clock-start 2017-02-09T04:00:00Z >"$2" 2>&1 &
  SVC_PID=$!
  # a restart replays the data directory first (about 7 s for the HTTP
  # template below): wait up to 2 minutes
  local t0=$SECONDS
  for i in $(seq 1200); do curl -sf "http://127.0.0.1:$SPORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$SPORT/healthz" >/dev/null 2>&1 || { tail "$2" >&2; fail "service did not start"; }
  say "deconflict service on port $SPORT (up in $((SECONDS - t0)) s)"
}
stop_service() { kill "$SVC_PID"; wait "$SVC_PID" 2>/dev/null || true; SVC_PID=""; }

# ---- deconflict over HTTP ----
# One fresh service is brought to the theatre's state and B's submits by
# dc_loadclient (setup and B are measured there), then stopped; its data
# directory is the template. A then runs REPS times for each of the two
# clients, alternating dc_loadclient (the contender) and
# scripts/http_check.py (the independent check: Python's http.client, no
# code shared with dc_loadclient), each time on a service restarted from a
# fresh copy of the template, so both post the very same batches
# (batches.tsv) to services in the very same state, and which client goes
# first alternates from one repetition to the next. Each run checks the
# conflicts opened against the engine's. The figures are the medians: a
# single ~6 s window on this shared 2-core machine moved by up to 40% from
# one run to the next (bench/README).
if [ -x "$BUILD/dc_loadclient" ] && [ -f "$BUILD/libdcservice.a" ] && [ -f src/service/http.c ]; then
  export DECONFLICT_ADMIN_TOKEN=bench-admin-$RANDOM$RANDOM
  IX=$WORK/ix; mkdir -p "$IX"
  start_service "$WORK/data0" "$WORK/svc0.log"
  "$BUILD/dc_loadclient" 127.0.0.1 "$SPORT" "${SM[@]}" --seed "$SEED" --expect "$OUT" --conns 2 \
    --no-ingest --save-last "$IX" >"$OUT/http_setup.json" \
    || { tail -20 "$WORK/svc0.log" >&2; fail "HTTP contender failed (setup and B)"; }
  stop_service
  REPS=${BENCH_HTTP_REPS:-$([ "$SMOKE" = 1 ] && echo 1 || echo 5)}
  for r in $(seq "$REPS"); do
    ORDER="lc py"; [ $((r % 2)) = 0 ] && ORDER="py lc"
    for who in $ORDER; do
      rm -rf "$WORK/data"; cp -a "$WORK/data0" "$WORK/data"; sync  # no writeback during A
      start_service "$WORK/data" "$WORK/svc.log"
      if [ "$who" = lc ]; then
        say "HTTP A, run $r of $REPS: dc_loadclient, 2 connections"
        "$BUILD/dc_loadclient" 127.0.0.1 "$SPORT" "${SM[@]}" --expect "$OUT" --conns 2 \
          --batches "$IX" >"$OUT/http_lc_$r.json" \
          || { tail -20 "$WORK/svc.log" >&2; fail "HTTP contender failed"; }
      else
        say "HTTP A, run $r of $REPS: independent check, scripts/http_check.py, 2 connections"
        $PY scripts/http_check.py "$SPORT" "$IX" "$OUT" >"$OUT/http_py_$r.json" \
          || { tail -20 "$WORK/svc.log" >&2; fail "independent HTTP check failed"; }
      fi
      stop_service
    done
  done
  rm -rf "$WORK/data" "$WORK/data0"
else
  say "deconflict service not built: HTTP contender skipped"
fi

# ---- results ----
mkdir -p bench/results
NAME=latest.json; [ "$SMOKE" = 1 ] && NAME=smoke.json
$PY scripts/bench_report.py "$OUT" "bench/results/$NAME" "$SMOKE"
