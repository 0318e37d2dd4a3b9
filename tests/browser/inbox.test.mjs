// The inbox's pages in a real browser presenting an operator certificate:
// axe-core (WCAG 2.0/2.1 A and AA) on the referral form, the form with
// errors, the confirmation and "Le mie segnalazioni"; the form works with the
// keyboard and without JavaScript; a browser without a certificate gets no page.
//
// Environment: SPORTELLO_INBOX_BIN (default target/debug/sportello-inbox), CHROMIUM.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { launchOptions } from './chromium.mjs';
import { startInbox, axe } from './inbox-server.mjs';

const NAME = 'Giulia Esempio';
let inbox, origin, browser;

before(async () => {
  inbox = await startInbox([{ name: NAME, desk: 'cgil-via-mantova' }]);
  origin = inbox.origin;
  browser = await chromium.launch(launchOptions());
});

after(async () => {
  await browser?.close();
  await inbox?.stop();
});

async function operatorContext(options = {}) {
  return browser.newContext({
    ignoreHTTPSErrors: true, // the server certificate comes from the inbox's own test CA
    clientCertificates: [{ origin, ...inbox.bundles[NAME] }],
    ...options,
  });
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
