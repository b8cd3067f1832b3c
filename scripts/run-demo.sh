#!/usr/bin/env bash
# run-demo: serve a scenario from a fresh temporary data directory, for
# `make run`. Usage: scripts/run-demo.sh BIN SCENARIO LISTEN
# The data directory is left behind (its path is printed) so the log can be
# inspected with `deconflict audit verify --data DIR` afterwards.
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 BIN SCENARIO ADDR:PORT" >&2
  exit 2
fi
BIN=$1 SCENARIO=$2 LISTEN=$3
DATA=$(mktemp -d "${TMPDIR:-/tmp}/deconflict-demo.XXXXXX")
echo "deconflict demo: data directory $DATA" >&2
exec "$BIN" serve --scenario "$SCENARIO" --listen "$LISTEN" --data "$DATA"
