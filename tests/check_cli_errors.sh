#!/usr/bin/env bash
# check_cli_errors: `deconflict check` exits 2 on every invalid scenario in
# DIR (bad-*.json), with stderr naming the object and the field (substrings
# below), exits 2 on usage errors, and exits 0 on the valid ones
# (valid-*.json).
# Usage: tests/check_cli_errors.sh BIN DIR
set -uo pipefail
BIN=${1:?usage: check_cli_errors.sh BIN DIR}
DIR=${2:?usage: check_cli_errors.sh BIN DIR}
ERR=$(mktemp)
trap 'rm -f "$ERR"' EXIT
pass=0
fail=0

# file | substrings that stderr must contain (separated by ';')
CASES='
bad-json.json|bad-json.json;line 1
bad-duplicate-key.json|duplicate;clock
bad-toplevel-array.json|JSON object
bad-missing-clock.json|invalid clock
bad-clock-format.json|invalid clock;RFC 3339
bad-unknown-field.json|bogus
bad-duplicate-party.json|parties[1];RU;already exists
bad-sites-not-array.json|sites;array
bad-self-intersecting.json|sites[0].geometry.coordinates[0];OCHA/bowtie;intersects itself
bad-hole-outside.json|sites[0].geometry.coordinates[1];OCHA/holey;hole
bad-site-category.json|sites[0].category;OCHA/mall-1
bad-unknown-kind.json|operations[0].kind;RU/op-x
bad-start-after-end.json|operations[0].volumes[0].end;RU/op-t;start must be before end
bad-point-volume-radius.json|operations[0].volumes[0].radius_m;RU/op-r
bad-unknown-owner.json|units[0].owner;ghost-1;XX
bad-unit-domain.json|units[0].domain;TR/sub-1
bad-position-future.json|positions[0].time;TR/TR-1;60 s
bad-position-unit.json|positions[0].unit;TR-9
bad-position-lat.json|positions[0].lat;TR/TR-1
'

ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }

expect_exit() { # code description command...
    local want=$1 what=$2
    shift 2
    "$@" >/dev/null 2>"$ERR"
    local rc=$?
    if [ "$rc" = "$want" ]; then ok; else ko "$what: exit $rc, expected $want ($(head -c 300 "$ERR"))"; fi
}

# every bad-*.json must be listed above, and the reverse
for f in "$DIR"/bad-*.json; do
    b=$(basename "$f")
    grep -q "^$b|" <<<"$CASES" || ko "$b has no expected substrings in the table"
done

while IFS='|' read -r file subs; do
    [ -z "$file" ] && continue
    path="$DIR/$file"
    [ -f "$path" ] || { ko "$file: missing"; continue; }
    "$BIN" check "$path" --json >/dev/null 2>"$ERR"
    rc=$?
    [ "$rc" = 2 ] || { ko "$file: exit $rc, expected 2 ($(head -c 300 "$ERR"))"; continue; }
    good=1
    IFS=';' read -ra want <<<"$subs"
    for s in "${want[@]}"; do
        grep -qF -- "$s" "$ERR" || { ko "$file: stderr lacks '$s': $(head -c 300 "$ERR")"; good=0; }
    done
    [ "$good" = 1 ] && ok
done <<<"$CASES"

# usage errors
expect_exit 2 "no arguments" "$BIN"
expect_exit 2 "unknown command" "$BIN" frobnicate
expect_exit 2 "check without a file" "$BIN" check
expect_exit 2 "check with two files" "$BIN" check "$DIR/valid-empty.json" "$DIR/valid-empty.json"
expect_exit 2 "check with an unknown option" "$BIN" check --bogus "$DIR/valid-empty.json"
expect_exit 2 "check a missing file" "$BIN" check "$DIR/does-not-exist.json"
expect_exit 0 "help" "$BIN" --help

# valid scenarios, both output modes; JSON mode prints the documented shape
for f in "$DIR"/valid-*.json; do
    expect_exit 0 "$(basename "$f")" "$BIN" check "$f"
    expect_exit 0 "$(basename "$f") --json" "$BIN" check "$f" --json
    if "$BIN" check "$f" --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert isinstance(d["conflicts"], list)
for c in d["conflicts"]:
    assert {"a", "b", "severity", "distance_m", "stale"} <= set(c), c
    assert c["severity"] in ("critical", "warning"), c
' 2>"$ERR"; then ok; else ko "$(basename "$f"): --json output: $(head -c 300 "$ERR")"; fi
done
# the minimal scenario: its unit sits inside the strike's polygon
n=$("$BIN" check "$DIR/valid-minimal.json" --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["conflicts"]))')
[ "$n" = 1 ] && ok || ko "valid-minimal.json: $n conflicts, expected 1"
# a scenario on stdin
expect_exit 0 "scenario on stdin" sh -c "\"$BIN\" check - <\"$DIR/valid-minimal.json\""

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
