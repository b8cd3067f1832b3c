// build.mjs: bundles the page into dist/ with esbuild: app.js (all code,
// Leaflet and topojson-client included), app.css (Leaflet's CSS and ours),
// index.html, the favicon and the Natural Earth borders from world-atlas.
// Nothing in dist/ loads anything from outside the service at run time.

import { build } from 'esbuild';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const require = createRequire(import.meta.url);

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

await build({
  entryPoints: { app: join(here, 'src/main.js') },
  outdir: dist,
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15'],
  loader: { '.png': 'file', '.svg': 'file' },
  assetNames: '[name]-[hash]',
  legalComments: 'none',
  logLevel: 'warning',
});

cpSync(join(here, 'index.html'), join(dist, 'index.html'));
cpSync(join(here, 'favicon.svg'), join(dist, 'favicon.svg'));
cpSync(require.resolve('world-atlas/countries-10m.json'), join(dist, 'countries-10m.json'));
console.log(`web: built ${dist}`);
