#!/usr/bin/env bash
# build.sh: builds the browser page into web/dist/. Runs `npm ci` only when
# node_modules is missing or package-lock.json changed since the last
# install (the only network it needs is the npm registry, and only then),
# then bundles with esbuild. Needs Node >= 18 and npm (Debian 12: apt-get
# install nodejs npm; `make` installs them when missing).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "web/build.sh: Node.js and npm are required to build the page." >&2
  echo "  On Debian/Ubuntu: apt-get install -y nodejs npm" >&2
  exit 2
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "web/build.sh: Node.js >= 18 is required (found $(node --version))." >&2
  exit 2
fi

stamp=node_modules/.deconflict-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "web/build.sh: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

node build.mjs
