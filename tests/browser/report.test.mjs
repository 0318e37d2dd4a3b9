// The inbox's meeting report in a real browser: axe-core (WCAG 2.0/2.1 A
// and AA) finds no violation in the HTML file, for every desk and for one,
// and opening it asks nothing of any origin.
//
// Environment: REPORT_SAMPLE_BIN (default target/debug/examples/report_sample,
// built by `cargo test -p sportello-inbox`), CHROMIUM.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { launchOptions } from './chromium.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const AXE = path.join(HERE, 'node_modules/axe-core/axe.min.js');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const run = promisify(execFile);

function sampleBin() {
  if (process.env.REPORT_SAMPLE_BIN) return path.resolve(process.env.REPORT_SAMPLE_BIN);
  const target = process.env.CARGO_TARGET_DIR || path.join(REPO, 'target');
  const p = path.join(target, 'debug/examples/report_sample');
  if (!fs.existsSync(p)) throw new Error(`no ${p}: run \`cargo test -p sportello-inbox\` (it builds the example)`);
  return p;
}

let tmp, browser;

before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sportello-report-'));
  await run(sampleBin(), [path.join(tmp, 'all')]);
  await run(sampleBin(), [path.join(tmp, 'one'), '--desk', 'stazione']);
  browser = await chromium.launch(launchOptions());
});

after(async () => {
  await browser?.close();
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

async function check(folder) {
  // The report's own CSP would block the injected axe script: bypass it
  // for the audit only.
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
  await page.goto(pathToFileURL(path.join(tmp, folder, 'report.html')).href);
  assert.equal(await page.locator('script').count(), 0, 'no script in the report');
  assert.ok(await page.locator('svg[role="img"]').count() >= 10, 'the charts');
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }),
    AXE_TAGS,
  );
  const report = result.violations
    .map((v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) => `   ${n.target.join(' ')} ${n.html.slice(0, 200)}`).join('\n')}`)
    .join('\n');
  assert.equal(result.violations.length, 0, `${folder}: axe violations\n${report}`);
  assert.deepEqual(requests, [], 'nothing asked of any origin');
  await context.close();
}

test('the meeting report of every desk has no axe violations', async () => {
  await check('all');
});

test('the meeting report of one desk has no axe violations', async () => {
  await check('one');
});
