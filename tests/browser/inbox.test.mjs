// The inbox's pages in a real browser presenting an operator certificate:
// axe-core (WCAG 2.0/2.1 A and AA) on the referral form, the form with
// errors, the confirmation and "Le mie segnalazioni"; the form works with the
// keyboard and without JavaScript; a browser without a certificate gets no page.
//
// Environment: SPORTELLO_INBOX_BIN (default target/debug/sportello-inbox), CHROMIUM.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { launchOptions } from './chromium.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const AXE = path.join(HERE, 'node_modules/axe-core/axe.min.js');
const STAFF_KEY = path.join(HERE, 'fixtures/staff-test.asc'); // public key of a synthetic test identity
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const run = promisify(execFile);

function inboxBin() {
  if (process.env.SPORTELLO_INBOX_BIN) return path.resolve(process.env.SPORTELLO_INBOX_BIN);
  const target = process.env.CARGO_TARGET_DIR || path.join(REPO, 'target');
  for (const p of ['debug/sportello-inbox', 'release/sportello-inbox']) {
    const abs = path.join(target, p);
    if (fs.existsSync(abs)) return abs;
  }
  throw new Error('no sportello-inbox binary: run `cargo build -p sportello-inbox` or set SPORTELLO_INBOX_BIN');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

let tmp, child, origin, browser, bundle, passphrase;

before(async () => {
  const bin = inboxBin();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sportello-inbox-browser-'));
  const [https, health] = [await freePort(), await freePort()];
  await run(bin, ['init', '--dir', tmp, '--hostname', '127.0.0.1', '--port', String(https)]);
  const config = path.join(tmp, 'inbox.toml');
  // Tests listen on loopback only.
  let toml = await fsp.readFile(config, 'utf8');
  toml = toml
    .replace(/^listen = ".*"$/m, `listen = "127.0.0.1:${https}"`)
    .replace(/^health_listen = ".*"$/m, `health_listen = "127.0.0.1:${health}"`);
  await fsp.writeFile(config, toml);
  await run(bin, ['staff', 'add', '--config', config, '--name', 'Staff di prova', '--key', STAFF_KEY]);
  bundle = path.join(tmp, 'giulia.p12');
  const { stdout } = await run(bin, [
    'operator', 'add', '--config', config, '--name', 'Giulia Esempio', '--desk', 'cgil-via-mantova', '--out', bundle,
  ]);
  passphrase = stdout.match(/^passphrase: (.+)$/m)[1].trim();
  child = spawn(bin, ['serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  // Ready when /healthz answers.
  const deadline = Date.now() + 30000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${health}/healthz`);
      if (r.ok) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`inbox did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  origin = `https://127.0.0.1:${https}`;
  browser = await chromium.launch(launchOptions());
});

after(async () => {
  await browser?.close();
  child?.kill();
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

async function operatorContext(options = {}) {
  return browser.newContext({
    ignoreHTTPSErrors: true, // the server certificate comes from the inbox's own test CA
    clientCertificates: [{ origin, pfxPath: bundle, passphrase }],
    ...options,
  });
}

async function axe(page, label) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }),
    AXE_TAGS,
  );
  const report = result.violations
    .map((v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) => `   ${n.target.join(' ')} ${n.html}`).join('\n')}`)
    .join('\n');
  assert.equal(result.violations.length, 0, `${label}: axe violations\n${report}`);
}

async function fill(page, name, value) {
  const el = page.locator(`[name="${name}"]`).first();
  const tag = await el.evaluate((e) => `${e.tagName}:${e.type}`);
  if (tag.startsWith('SELECT')) {
    const values = await el.locator('option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
    await el.selectOption(values.includes(value) ? value : values[0]);
  } else if (tag.endsWith(':radio')) {
    await page.locator(`[name="${name}"][value="${value}"]`).check();
  } else if (tag.endsWith(':checkbox')) {
    await el.check();
  } else {
    await el.fill(value);
  }
}

test('the referral pages have no axe violations, with errors, confirmation and list', async () => {
  // The inbox's strict CSP would block axe's injected script: bypass it
  // here, after checking it is there.
  const context = await operatorContext({ bypassCSP: true });
  const page = await context.newPage();
  const res = await page.goto(`${origin}/`);
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-security-policy'] || '', /default-src 'none'/);
  await axe(page, 'form');

  // Submitting the empty form (past the browser's own `required` checks, as
  // an old browser would): the server's errors next to the fields.
  await page.evaluate(() => document.querySelectorAll('form').forEach((f) => { f.noValidate = true; }));
  await Promise.all([
    page.waitForNavigation(),
    page.locator('form button[type="submit"], form input[type="submit"]').first().click(),
  ]);

  assert.ok((await page.locator('[aria-invalid="true"]').count()) > 0, 'fields are marked invalid');
  await axe(page, 'form with errors');

  // A valid referral (synthetic person) leads to its reference.
  for (const [name, value] of [
    ['first_name', 'Maria'], ['last_name', 'Esempio'], ['birth_year', '1941'], ['phone', '0372 000000'],
    ['city_area', 'centro'], ['call_time', 'mattina'], ['need_area', 'non-autosufficienza'],
    ['urgency', 'ordinary'], ['description', 'Vive sola, chiede aiuto per la spesa.'],
    ['privacy_notice', 'yes'], ['consent', 'yes'],
  ]) {
    await fill(page, name, value);
  }
  await Promise.all([
    page.waitForNavigation(),
    page.locator('form button[type="submit"], form input[type="submit"]').first().click(),
  ]);
  const text = await page.locator('main').innerText();
  assert.match(text, /SEG-\d{4}-\d{6}/, 'the confirmation shows the reference');
  await axe(page, 'confirmation');

  await page.goto(`${origin}/segnalazioni`);
  assert.match(await page.locator('main').innerText(), /SEG-\d{4}-\d{6}/);
  assert.doesNotMatch(await page.content(), /Maria|Esempio 1941|Vive sola/, 'the list never shows content');
  await axe(page, 'le mie segnalazioni');
  await context.close();
});

test('the form works without JavaScript and from the keyboard', async () => {
  const context = await operatorContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement?.tagName);
  assert.ok(['A', 'INPUT', 'SELECT', 'TEXTAREA', 'BUTTON'].includes(first), `first Tab stop: ${first}`);
  assert.equal(await page.locator('script').count(), 0, 'no script on the form');
  await context.close();
});

test('a browser without an operator certificate gets no page', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  let failed = false;
  try {
    const res = await page.goto(`${origin}/`, { timeout: 10000 });
    failed = !res || res.status() >= 400;
  } catch {
    failed = true;
  }
  assert.ok(failed, 'the TLS handshake must refuse a client without a certificate');
  await context.close();
});
