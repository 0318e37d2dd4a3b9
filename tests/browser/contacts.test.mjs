// The contact register and the meeting report in a real browser: an
// operator with a PKCS#12 records a contact (without JavaScript, from the
// keyboard), corrects it and deletes it; axe-core on the form, the form
// with errors, the correction and the "Statistiche" page; the report that
// `sportello-inbox report` writes is opened in Chromium (axe, no request
// to anywhere), printed to an A4 PDF, and its CSV files parse with
// Python's csv module.
//
// Environment: SPORTELLO_INBOX_BIN (default target/debug/sportello-inbox), CHROMIUM.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { launchOptions } from './chromium.mjs';
import { startInbox, axe, run } from './inbox-server.mjs';

let inbox, browser;
const NAME = 'Marta Esempio';

before(async () => {
  inbox = await startInbox([{ name: NAME, desk: 'cgil-via-mantova', role: 'referent' }]);
  browser = await chromium.launch(launchOptions());
});

after(async () => {
  await browser?.close();
  await inbox?.stop();
});

function context(options = {}) {
  return browser.newContext({
    ignoreHTTPSErrors: true, // the server certificate comes from the inbox's own test CA
    bypassCSP: true, // for axe's injected script; the CSP itself is checked by the inbox's tests
    clientCertificates: [{ origin: inbox.origin, ...inbox.bundles[NAME] }],
    ...options,
  });
}

/** Fills the contact form as a trained operator would, by keyboard. */
async function record(page, channel) {
  await page.goto(`${inbox.origin}/contatti`);
  // The date is already today's; the first radio group follows it.
  assert.match(await page.locator('#day').inputValue(), /^\d{4}-\d{2}-\d{2}$/);
  await page.locator(`#channel-${channel}`).check();
  await page.locator('#user_category-pensionato').check();
  await page.locator('[id="age_band-75-84"]').check();
  await page.locator('#city_area').selectOption('centro');
  await page.locator('#need_areas-solitudine').check();
  await page.locator('#outcome-informato').check();
  await page.locator('#outcome-informato').focus();
  // Enter submits the form from any of its fields.
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
}

test('record, correct and delete a contact; axe on every state of the form', async () => {
  const js = await context();
  const p = await js.newPage();
  await p.goto(`${inbox.origin}/contatti`);
  await axe(p, 'empty contact form');

  // Nothing chosen: every error at once, linked from the summary.
  await p.locator('#day').fill('');
  await Promise.all([p.waitForNavigation(), p.locator('button[value="salva"]').click()]);
  const errors = await p.locator('.error-summary').innerText();
  for (const what of ['Data', 'Canale', 'Tipologia di utenza', "Fascia d'età", 'Esito']) {
    assert.match(errors, new RegExp(what), what);
  }
  await axe(p, 'contact form with errors');

  // Recorded and corrected without JavaScript: the page needs none.
  const nojs = await context({ javaScriptEnabled: false });
  const q = await nojs.newPage();
  await record(q, 'telefono');
  assert.match(await q.locator('[role="status"]').innerText(), /Contatto registrato/);
  const row = q.locator('tbody tr');
  assert.equal(await row.count(), 1);
  assert.match(await row.innerText(), /Telefono · Pensionato\/a · 75-84 · Informato/);

  // Correct it.
  await Promise.all([q.waitForNavigation(), q.locator('tbody a', { hasText: 'Correggi' }).click()]);
  assert.ok(await q.locator('#channel-telefono').isChecked(), 'the stored values are filled in');
  await nojs.close();
  const ed = await js.newPage();
  await ed.goto(q.url());
  await axe(ed, 'correcting a contact');
  await ed.locator('#channel-a_domicilio').check();
  await Promise.all([ed.waitForNavigation(), ed.locator('button[value="salva"]').click()]);
  assert.match(await ed.locator('[role="status"]').innerText(), /Correzione salvata/);
  assert.match(await ed.locator('tbody tr').innerText(), /A domicilio/);

  // Delete it.
  await Promise.all([ed.waitForNavigation(), ed.locator('tbody a', { hasText: 'Correggi' }).click()]);
  await Promise.all([ed.waitForNavigation(), ed.locator('button[value="elimina"]').click()]);
  assert.match(await ed.locator('[role="status"]').innerText(), /Contatto eliminato/);
  assert.match(await ed.locator('main').innerText(), /Nessun contatto registrato oggi/);
  await js.close();
});

test('a contact by keyboard alone, in few keystrokes', async () => {
  const ctx = await context();
  const page = await ctx.newPage();
  await page.goto(`${inbox.origin}/contatti`);
  // Today's date is already there: the operator starts at the channel, the
  // first radio group (Tab from the date's last part reaches it).
  await page.locator('#channel-in_presenza').focus();
  const keys = [
    'ArrowDown', // channel: telefono
    'Tab', 'ArrowDown', // user category: pensionato/a
    'Tab', 'ArrowDown', 'ArrowDown', 'ArrowDown', // age band: 75-84
    'Tab', 'ArrowDown', // city area: the first one
    'Tab', 'Space', // first need area
    'Tab', 'Tab', 'Tab', 'Tab', 'Tab', // past the other four need areas
    'Space', // outcome: informato
    'Enter',
  ];
  const done = page.waitForNavigation();
  for (const k of keys) await page.keyboard.press(k);
  await done;
  assert.match(await page.locator('[role="status"]').innerText(), /Contatto registrato/);
  assert.match(await page.locator('tbody tr').first().innerText(), /Telefono · Pensionato\/a · 75-84 · Informato/);
  console.log(`# a contact by keyboard: ${keys.length} keystrokes`);
  // Clean up for the next test's counts.
  await Promise.all([page.waitForNavigation(), page.locator('tbody a', { hasText: 'Correggi' }).first().click()]);
  await Promise.all([page.waitForNavigation(), page.locator('button[value="elimina"]').click()]);
  await ctx.close();
});

test('the statistics page and the report file: axe, A4 PDF, CSV', async () => {
  const ctx = await context();
  const page = await ctx.newPage();
  for (let i = 0; i < 6; i += 1) await record(page, i < 5 ? 'telefono' : 'email');
  await page.goto(`${inbox.origin}/statistiche`);
  assert.equal(await page.locator('h1').first().innerText(), 'Statistiche');
  assert.ok(await page.locator('svg').count() > 0, 'charts');
  await axe(page, 'statistics page');
  await ctx.close();

  // The file for the meeting, written by the command line.
  const out = path.join(inbox.tmp, 'resoconto');
  const today = new Date().toISOString().slice(0, 10);
  await run(inbox.bin, ['report', '--config', inbox.config, '--from', '2026-01-01', '--to', today, '--out', out]);
  const files = await fsp.readdir(out);
  const html = files.find((f) => f.endsWith('.html'));
  assert.ok(html, `an HTML file in ${files}`);
  // The report carries its own CSP (a meta tag); axe's script needs it bypassed.
  const file = await browser.newContext({ bypassCSP: true });
  const rp = await file.newPage();
  const requests = [];
  rp.on('request', (r) => requests.push(r.url()));
  await rp.goto(`file://${path.join(out, html)}`);
  assert.deepEqual(requests.filter((u) => !u.startsWith('file://')), [], 'nothing from another origin');
  await axe(rp, 'report file');
  const pdf = await rp.pdf({ format: 'A4', printBackground: false });
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  // A4 is 595 x 842 points.
  assert.match(pdf.toString('latin1'), /\/MediaBox \[0 0 59[45]\.\d* 84[12]\.\d*\]/);
  await fsp.writeFile(path.join(out, 'resoconto.pdf'), pdf);
  await file.close();

  const csvs = files.filter((f) => f.endsWith('.csv'));
  assert.ok(csvs.length >= 5, `CSV files: ${csvs}`);
  // Every file: a header and rows of the same width (a table with no data,
  // such as services when nobody was oriented to one, is its header only).
  let rows = 0;
  for (const f of csvs) {
    const { stdout } = await run('python3', [
      '-c',
      'import csv,sys; rows=list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8"))); '
        + 'assert len(rows) >= 1 and all(len(r) == len(rows[0]) for r in rows), sys.argv[1]; print(len(rows) - 1)',
      path.join(out, f),
    ]);
    rows += Number(stdout);
  }
  assert.ok(rows > csvs.length, `data rows in the CSV files: ${rows}`);
});
