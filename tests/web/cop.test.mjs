// cop.test.mjs: end-to-end tests of the common operating picture, in
// Debian's chromium driven by playwright-core, against a server that
// tests/web/run.sh started on the al-Bab exercise. Each test leaves
// screenshots in test-artifacts/web/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.DC_WEB_BASE;
const ART = process.env.DC_WEB_ARTIFACTS || 'test-artifacts/web';
const LINK = /(http:\/\/[^\s/]+)\/#party=([^&\s]+)&token=([^\s"']+)/g;

mkdirSync(ART, { recursive: true });

// The party links the server printed, as {party: {url, token}}, pointed at
// the address the server was started on.
function party_links() {
  const text = readFileSync(process.env.DC_WEB_SERVER_LOG, 'utf8');
  const links = {};
  for (const m of text.matchAll(LINK)) {
    links[m[2]] = { url: `${BASE}/#party=${m[2]}&token=${m[3]}`, token: m[3] };
  }
  return links;
}

let browser;
let links;
const pages = {};

async function open_party(party, viewport = { width: 1366, height: 768 }) {
  const context = await browser.newContext({ viewport, hasTouch: viewport.width < 1024 });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${party}] page error: ${e.message}`));
  await page.goto(links[party].url);
  await page.waitForSelector('body[data-ready="yes"]', { timeout: 20000 });
  return page;
}

function entries(page) {
  return page.locator('#conflict-list li[data-testid="conflict"]');
}

// entry_about finds the panel entry whose other side's object is id.
function entry_about(page, otherId) {
  return page.locator('#conflict-list li[data-testid="conflict"]', {
    has: page.locator('[data-testid="other-object"]', { hasText: new RegExp(`\\b${otherId.replace(/[-.]/g, '\\$&')}\\b`) }),
  });
}

async function shot(page, name) {
  await page.screenshot({ path: join(ART, `${name}.png`) });
}

before(async () => {
  assert.ok(BASE, 'DC_WEB_BASE is set by tests/web/run.sh');
  links = party_links();
  for (const p of ['RU', 'TR', 'OCHA']) assert.ok(links[p], `the server printed a link for ${p}`);
  browser = await chromium.launch({
    executablePath: process.env.DC_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  if (browser) await browser.close();
});

test('RU signs in from its demo link and sees its four conflicts', async () => {
  const page = await open_party('RU');
  pages.RU = page;

  // The token left the address bar and lives in sessionStorage.
  assert.ok(!page.url().includes('token='), `token stripped from ${page.url()}`);
  const stored = await page.evaluate(() => sessionStorage.getItem('deconflict.session'));
  assert.ok(stored && stored.includes(links.RU.token), 'token kept in sessionStorage');

  await page.waitForFunction(() => document.querySelectorAll('#conflict-list li[data-testid="conflict"]').length >= 4, null, { timeout: 15000 });
  assert.equal(await entries(page).count(), 4);
  for (const id of ['TR-OP-3', 'school-1', 'uav-7', 'hosp-1']) {
    assert.equal(await entry_about(page, id).count(), 1, `a conflict with ${id}`);
  }
  // Ids are DOM text, on the map too (labels), not only canvas pixels.
  for (const id of ['TR-OP-3', 'school-1', 'uav-7', 'hosp-1', 'strike-1']) {
    assert.ok(await page.locator('#map .leaflet-tooltip', { hasText: id }).count() >= 1, `map label ${id}`);
  }
  const severities = await entries(page).evaluateAll((els) => els.map((e) => e.dataset.severity));
  assert.ok(severities.includes('critical'), 'some conflict is critical');
  assert.ok(await page.locator('#map path.dc-critical').count() >= 1, 'a critical conflict drawn in red on the map');

  await shot(page, '01-ru-conflicts');

  // Selecting a conflict zooms the map to it.
  const zoomBefore = await page.evaluate(() => document.querySelector('#map').dataset.selected || '');
  await entry_about(page, 'school-1').click();
  await page.waitForFunction((before) => (document.querySelector('#map').dataset.selected || '') !== before, zoomBefore);
  await page.waitForTimeout(400);
  await shot(page, '02-ru-selected-school');
});

test("the header shows the service's clock (the exercise's, not the browser's)", async () => {
  const page = pages.RU;
  const clock = page.locator('#clock');
  await page.waitForFunction(() => document.getElementById('clock').textContent.startsWith('2017-02-09'), null, { timeout: 10000 })
    .catch(async () => assert.fail(`clock shows "${await clock.innerText()}", want the exercise clock 2017-02-09 (GET /healthz "clock")`));
  const first = await clock.innerText();
  await page.waitForTimeout(2100);
  assert.notEqual(await clock.innerText(), first, 'the clock runs');
});

test("TR sees its conflict with strike-1 and RU's acknowledgement arrives live", async () => {
  const tr = await open_party('TR');
  pages.TR = tr;
  await tr.waitForSelector('[data-testid="stream-status"][data-state="live"]', { timeout: 15000 });
  const entry = tr.locator('#conflict-list li[data-testid="conflict"]', {
    has: tr.locator('[data-testid="mine-object"]', { hasText: 'TR-OP-3' }),
  });
  await entry.waitFor({ timeout: 15000 });
  assert.match(await entry.locator('[data-testid="other-object"]').innerText(), /strike-1/);
  assert.equal(await entry.locator('[data-testid="other-party"]').innerText(), 'RU');
  assert.equal(await entry.locator('[data-testid="ack-RU"]').getAttribute('data-acked'), 'no');
  await tr.evaluate(() => { window.__sameDocument = true; });
  await shot(tr, '03-tr-before-ack');

  // RU acknowledges its conflict with TR-OP-3.
  const ru = pages.RU;
  const ruEntry = entry_about(ru, 'TR-OP-3');
  await ruEntry.locator('[data-testid="ack-button"]').click();
  await ruEntry.locator('[data-testid="ack-RU"][data-acked="yes"]').waitFor({ timeout: 10000 });
  assert.equal(await ruEntry.locator('[data-testid="ack-button"]').innerText(), 'Acknowledged');
  await shot(ru, '04-ru-acknowledged');

  // TR's page shows it without a reload.
  await entry.locator('[data-testid="ack-RU"][data-acked="yes"]').waitFor({ timeout: 15000 });
  assert.equal(await tr.evaluate(() => window.__sameDocument), true, 'no reload');
  await shot(tr, '05-tr-sees-ru-ack');
});

test('a draft drawn over a TR unit shows its conflict before it is filed', async () => {
  const page = pages.RU;
  // Bring the unit into view from the object list, then draft.
  await page.click('#tabbtn-objects');
  await page.click('#unit-list li[data-id="TR-COY-1"]');
  await page.waitForTimeout(500);
  await page.click('#tabbtn-draft');
  const unit = page.locator('#map path.dc-unit[data-id="TR-COY-1"]');
  await unit.waitFor({ timeout: 10000 });
  const box = await unit.boundingBox();
  const mapBox = await page.locator('#map').boundingBox();
  assert.ok(box && box.x > mapBox.x + 60 && box.x < mapBox.x + mapBox.width - 60 &&
    box.y > mapBox.y + 60 && box.y < mapBox.y + mapBox.height - 60, 'TR-COY-1 is on screen');
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;

  await page.click('#draw-polygon');
  const d = 30;
  for (const [dx, dy] of [[-d, -d], [d, -d], [d, d], [-d, d]]) {
    await page.mouse.click(cx + dx, cy + dy);
    await page.waitForTimeout(80);
  }
  await page.mouse.click(cx - d, cy - d); // back on the first vertex closes the ring
  await page.waitForFunction(() => document.getElementById('draft-geom').textContent.startsWith('Polygon'));
  await page.fill('#draft-form input[name="id"]', 'ru-draft-over-coy1');
  await page.selectOption('#draft-form select[name="kind"]', 'artillery');

  await page.click('#draft-check');
  const summary = page.locator('[data-testid="check-summary"]');
  await summary.waitFor({ timeout: 10000 });
  const result = page.locator('#draft-result');
  const unitEntry = result.locator('li[data-testid="conflict"]', {
    has: page.locator('[data-testid="other-object"]', { hasText: 'TR-COY-1' }),
  });
  assert.equal(await unitEntry.count(), 1, `the check lists TR-COY-1: ${await result.innerText()}`);
  assert.equal(await unitEntry.getAttribute('data-severity'), 'critical');
  await shot(page, '06-ru-draft-check');

  // A circle drawn over TR-COY-2 conflicts with it too.
  await page.click('#tabbtn-objects');
  await page.click('#unit-list li[data-id="TR-COY-2"]');
  await page.waitForTimeout(500);
  await page.click('#tabbtn-draft');
  const unit2 = page.locator('#map path.dc-unit[data-id="TR-COY-2"]');
  const b2 = await unit2.boundingBox();
  await page.click('#draw-circle');
  await page.mouse.click(b2.x + b2.width / 2 + 10, b2.y + b2.height / 2);
  await page.mouse.click(b2.x + b2.width / 2 + 50, b2.y + b2.height / 2);
  await page.waitForFunction(() => document.getElementById('draft-geom').textContent.startsWith('Circle'));
  assert.ok(Number(await page.inputValue('#draft-form input[name="radius_m"]')) > 0, 'radius set from the rim click');
  await page.fill('#draft-form input[name="id"]', 'ru-draft-circle-coy2');
  await page.click('#draft-check');
  await result.locator('li[data-testid="conflict"]', {
    has: page.locator('[data-testid="other-object"]', { hasText: 'TR-COY-2' }),
  }).waitFor({ timeout: 10000 });
  await shot(page, '06b-ru-draft-circle-check');

  // Back to the polygon over TR-COY-1 for the next test.
  await page.click('#tabbtn-objects');
  await page.click('#unit-list li[data-id="TR-COY-1"]');
  await page.waitForTimeout(500);
  await page.click('#tabbtn-draft');
  const box1 = await unit.boundingBox();
  await page.click('#draw-polygon');
  const c1x = box1.x + box1.width / 2;
  const c1y = box1.y + box1.height / 2;
  for (const [dx, dy] of [[-d, -d], [d, -d], [d, d], [-d, d]]) {
    await page.mouse.click(c1x + dx, c1y + dy);
    await page.waitForTimeout(80);
  }
  await page.click('#draw-finish');
  await page.fill('#draft-form input[name="id"]', 'ru-draft-over-coy1');

  // Nothing was filed by the checks.
  const listed = await page.evaluate(async (token) => {
    const r = await fetch('/v1/operations', { headers: { Authorization: `Bearer ${token}` } });
    return (await r.json()).operations.map((o) => o.id);
  }, links.RU.token);
  assert.ok(!listed.includes('ru-draft-over-coy1') && !listed.includes('ru-draft-circle-coy2'), 'check stores nothing');
});

test('filing the draft, the interlock refuses activation until overridden with a reason', async () => {
  const page = pages.RU;
  await page.click('#draft-file');
  await page.locator('[data-testid="filed-summary"]').waitFor({ timeout: 10000 });
  await page.click('#draft-activate');
  const dialog = page.locator('#interlock');
  await dialog.waitFor({ state: 'visible', timeout: 10000 });
  assert.ok(await dialog.locator('[data-testid="other-object"]', { hasText: 'TR-COY-1' }).count() >= 1,
    'the refusal names the blocking conflict');
  await shot(page, '07-ru-interlock');
  await page.click('#interlock-override');
  assert.match(await page.locator('#interlock-error').innerText(), /reason/);
  await page.fill('#interlock-reason', 'Exercise: TR confirmed by phone that Kartal 1 has withdrawn.');
  await page.click('#interlock-override');
  await dialog.waitFor({ state: 'hidden', timeout: 10000 });
  await page.click('#tabbtn-objects');
  const row = page.locator('#op-list li', { hasText: 'ru-draft-over-coy1' });
  await row.locator('[data-testid="op-state"]', { hasText: 'ACTIVE' }).waitFor({ timeout: 10000 });
  await shot(page, '08-ru-override-active');
});

test('the page works on a tablet and signs in with a typed token', async () => {
  const context = await browser.newContext({ viewport: { width: 820, height: 1180 }, hasTouch: true, isMobile: true });
  const page = await context.newPage();
  await page.goto(`${BASE}/`);
  await page.locator('#signin').waitFor({ state: 'visible' });
  await page.fill('#signin-token', links.OCHA.token);
  // No party id typed: the page works out who it is from the service's answers.
  await page.click('#signin-form button[type="submit"]');
  await page.waitForSelector('body[data-ready="yes"]', { timeout: 20000 });
  assert.equal(await page.locator('[data-testid="party-id"]').innerText(), 'OCHA');
  for (const id of ['school-1', 'hosp-1']) {
    await entry_about(page, 'strike-1').first().waitFor({ timeout: 10000 });
    assert.ok(await page.locator('#conflict-list [data-testid="mine-object"]', { hasText: id }).count() >= 1, `OCHA sees ${id}`);
  }
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, 'no horizontal scrolling');
  const mapBox = await page.locator('#map').boundingBox();
  const sideBox = await page.locator('#side').boundingBox();
  assert.ok(mapBox.height > 300 && sideBox.y >= mapBox.y + mapBox.height - 1, 'map above, panel below');
  await shot(page, '09-ocha-tablet');

  // A bad token is refused with a message, not a blank page.
  await page.click('#signout');
  await page.locator('#signin').waitFor({ state: 'visible' });
  await page.fill('#signin-token', 'not-a-token');
  await page.click('#signin-form button[type="submit"]');
  await page.locator('#signin-error', { hasText: /refused/ }).waitFor({ timeout: 10000 });
  await context.close();
});
