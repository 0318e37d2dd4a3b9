// `sportello serve` in a real browser: the open page reloads after a save; an
// edit with an error shows an overlay with the terminal's message (file:line,
// snippet, hint) over the last good page; fixing the error clears it.
//
// Environment: SPORTELLO_BIN (the generator binary), CHROMIUM.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { launchOptions } from './chromium.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const FIXTURE = path.join(REPO, 'generator/tests/fixtures/valid');
const THEME = path.join(REPO, 'themes/default');
const SERVICE_FILE = 'services/trasporto-sociale.md';

function sportelloBin() {
  if (process.env.SPORTELLO_BIN) return path.resolve(process.env.SPORTELLO_BIN);
  for (const p of ['target/debug/sportello', 'target/release/sportello']) {
    const abs = path.join(REPO, p);
    if (fs.existsSync(abs)) return abs;
  }
  throw new Error('no sportello binary: set SPORTELLO_BIN');
}

let tmp, child, origin, browser;

before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sportello-serve-'));
  await fsp.cp(FIXTURE, tmp, { recursive: true });
  child = spawn(sportelloBin(), ['serve', '--content', tmp, '--theme', THEME, '--port', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  origin = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('serve did not start')), 30000);
    readline.createInterface({ input: child.stderr }).on('line', (line) => {
      const m = line.match(/^serving (http:\/\/127\.0\.0\.1:\d+)\//);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  browser = await chromium.launch(launchOptions());
});

after(async () => {
  await browser?.close();
  child?.kill();
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

async function edit(from, to) {
  const file = path.join(tmp, SERVICE_FILE);
  const text = await fsp.readFile(file, 'utf8');
  assert.ok(text.includes(from), `${SERVICE_FILE} lacks ${from}`);
  await fsp.writeFile(file, text.replace(from, to));
}

test('the page reloads after a save, shows errors in an overlay, and clears them on fix', async () => {
  const page = await browser.newPage();
  await page.goto(`${origin}/servizi/trasporto-sociale/`);
  await page.waitForFunction(() => document.readyState === 'complete');
  // Give the EventSource a moment to connect.
  await page.waitForTimeout(300);

  // 1. A valid edit: the open page reloads and shows it.
  await edit('title = "Trasporto sociale"', 'title = "Trasporto sociale amico"');
  await page.waitForFunction(
    () => document.querySelector('h1')?.textContent === 'Trasporto sociale amico',
    null,
    { timeout: 10000 },
  );

  // 2. An invalid edit: the overlay shows the terminal's message over the last good page.
  await edit('title = "Trasporto sociale amico"', 'tittle = "Trasporto sociale amico"');
  const overlay = page.locator('#sportello-errors');
  await overlay.waitFor({ state: 'visible', timeout: 10000 });
  const text = await overlay.textContent();
  assert.match(text, /services\/trasporto-sociale\.md:2:1/);
  assert.match(text, /unknown key `tittle`/);
  assert.match(text, /did you mean `title`\?/);
  assert.match(text, /tittle = "Trasporto sociale amico"/, 'the snippet is shown');
  assert.equal(await page.locator('#sportello-errors').getAttribute('role'), 'alert');
  assert.equal(await page.locator('h1').first().textContent(), 'Trasporto sociale amico');

  // A page opened while the error stands shows the overlay at once.
  const other = await browser.newPage();
  await other.goto(`${origin}/`);
  await other.locator('#sportello-errors').waitFor({ state: 'visible', timeout: 10000 });
  await other.close();

  // 3. The fix: the page reloads without the overlay and with the new text.
  await edit('tittle = "Trasporto sociale amico"', 'title = "Trasporto sociale vicino"');
  await page.waitForFunction(
    () => document.querySelector('h1')?.textContent === 'Trasporto sociale vicino' &&
      !document.getElementById('sportello-errors'),
    null,
    { timeout: 10000 },
  );
  await page.close();
});
