#!/usr/bin/env bash
# run.sh BIN: the browser tests. Builds the page (web/build.sh), starts
# `BIN serve` on the al-Bab exercise on a free loopback port, reads the
# party links it prints, runs the Playwright tests (playwright-core driving
# Debian's chromium) with node's test runner, and stops the server.
# Screenshots go to test-artifacts/web/.
#   BIN=mock runs against tests/web/mock-server.mjs instead (development).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${1:?usage: tests/web/run.sh PATH/TO/deconflict | mock}
SCENARIO=${DC_WEB_SCENARIO:-examples/al-bab.json}
CHROMIUM=${DC_CHROMIUM:-/usr/bin/chromium}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "tests/web/run.sh: Node.js and npm are required (Debian: apt-get install -y nodejs npm)." >&2
  exit 2
fi
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "tests/web/run.sh: installing Debian's chromium"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  else
    echo "tests/web/run.sh: $CHROMIUM is missing (Debian: apt-get install -y chromium)." >&2
    exit 2
  fi
fi

web/build.sh

# The test runner's own dependency (playwright-core), installed like the page's.
(
  cd tests/web
  stamp=node_modules/.deconflict-lock.sha256
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  fi
)

PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
DATA=$(mktemp -d)
LOG=$(mktemp)
mkdir -p test-artifacts/web
if [ "$BIN" = mock ]; then
  node tests/web/mock-server.mjs serve --scenario "$SCENARIO" --listen "127.0.0.1:$PORT" --data "$DATA" --web web/dist >"$LOG" 2>&1 &
else
  "$BIN" serve --scenario "$SCENARIO" --listen "127.0.0.1:$PORT" --data "$DATA" --web web/dist >"$LOG" 2>&1 &
fi
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  cp "$LOG" test-artifacts/web/server.log 2>/dev/null || true
  rm -rf "$DATA" "$LOG"
}
trap cleanup EXIT

# Wait for the party links and for /healthz.
for _ in $(seq 1 100); do
  if ! kill -0 "$SERVER" 2>/dev/null; then
    echo "tests/web/run.sh: the server exited:" >&2
    cat "$LOG" >&2
    exit 1
  fi
  if [ "$(grep -Ec "http://[^ ]+/#party=[^& ]+&token=" "$LOG" || true)" -ge 3 ] &&
     curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
    break
  fi
  sleep 0.2
done
if [ "$(grep -Ec "http://[^ ]+/#party=[^& ]+&token=" "$LOG" || true)" -lt 3 ]; then
  echo "tests/web/run.sh: no party links printed by the server:" >&2
  cat "$LOG" >&2
  exit 1
fi

DC_WEB_BASE="http://127.0.0.1:$PORT" DC_WEB_SERVER_LOG="$LOG" DC_CHROMIUM="$CHROMIUM" \
  DC_WEB_ARTIFACTS="$ROOT/test-artifacts/web" \
  node --test tests/web/unit.test.mjs tests/web/cop.test.mjs
