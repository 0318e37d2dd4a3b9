// Phone figures of the guide, one page per template, printed as a Markdown table (the README's
// "On a phone" table comes from here):
//
//   SPORTELLO_BIN=target/debug/sportello node tests/browser/measure.mjs [content-dir]
//
// For each page, in headless Debian Chromium at 360x800:
//   - weight before interaction: every response the page loads, each gzip-compressed (level 6,
//     as a web server would send it), summed;
//   - layout shift: the sum of layout-shift entries (PerformanceObserver) while style.css is
//     delayed by 400 ms, 250 ms after `load`;
//   - first-screen positions: the bottom edge, in CSS px from the top of the page, of the search
//     box, and where the template has them of the first category and the first desk's phone and
//     today's hours (home), of the sheet's first action ("Accedi al servizio", booking or
//     "Dove rivolgersi") and of the print button (service sheet).
//
// Environment: SPORTELLO_BIN (default target/debug/sportello), CHROMIUM.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { launchOptions } from './chromium.mjs';
import { start } from './server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const CONTENT = path.resolve(process.argv[2] || path.join(REPO, 'content'));
const BIN = path.resolve(process.env.SPORTELLO_BIN
  || path.join(process.env.CARGO_TARGET_DIR || path.join(REPO, 'target'), 'debug/sportello'));
const CSS_DELAY_MS = 400;

/** The first page of `dir/<section>/` (a sub-directory's index), as an address. */
function firstUnder(dir, section) {
  const subs = fs.readdirSync(path.join(dir, section), { withFileTypes: true })
    .filter((e) => e.isDirectory()).map((e) => e.name).sort();
  return subs.length ? `/${section}/${subs[0]}/` : null;
}

const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sportello-measure-'));
const dir = path.join(tmp, 'site');
const server = await start(dir);
const browser = await chromium.launch(launchOptions());
try {
  await promisify(execFile)(BIN, ['build', '--content', CONTENT, '--theme', path.join(REPO, 'themes/default'),
    '--output', dir, '--base-url', server.url], { cwd: REPO, maxBuffer: 16 << 20 });
  const pageFiles = fs.readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, 'index.html'))
      && !['servizi', 'categorie', 'argomenti', 'destinatari', 'uffici', 'sportelli', 'cerca', 'search'].includes(e.name))
    .map((e) => `/${e.name}/`).sort();
  const templates = [
    ['home', '/'],
    ['service sheet', firstUnder(dir, 'servizi')],
    ['A-Z list', '/servizi/'],
    ['category', firstUnder(dir, 'categorie')],
    ['topics', '/argomenti/'],
    ['topic', firstUnder(dir, 'argomenti')],
    ['audience', firstUnder(dir, 'destinatari')],
    ['offices', '/uffici/'],
    ['office', firstUnder(dir, 'uffici')],
    ['desks', '/sportelli/'],
    ['desk', firstUnder(dir, 'sportelli')],
    ['free page', pageFiles[0] || null],
    ['search page', '/cerca/'],
    ['not found', '/404.html'],
  ].filter(([, p]) => p);

  const ctx = await browser.newContext({ viewport: { width: 360, height: 800 } });
  await ctx.addInitScript(() => {
    window.__cls = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) window.__cls += e.value;
    }).observe({ type: 'layout-shift', buffered: true });
  });
  await ctx.route('**/style.css', async (route) => {
    await new Promise((r) => setTimeout(r, CSS_DELAY_MS));
    await route.continue().catch(() => {});
  });
  const px = (v) => (v == null ? '' : `${Math.round(v)}`);
  console.log('| template | page | weight before interaction (gzip) | layout shift (CSS +400 ms) | search box | first category | desk phone / today | first action | print button |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [name, p] of templates) {
    const page = await ctx.newPage();
    const bodies = [];
    page.on('response', async (res) => {
      try {
        bodies.push(zlib.gzipSync(await res.body(), { level: 6 }).length);
      } catch {
        // a redirect has no body
      }
    });
    await page.goto(server.url + p, { waitUntil: 'load' });
    await page.waitForTimeout(250);
    const m = await page.evaluate(() => {
      const bottom = (sel) => {
        const e = document.querySelector(sel);
        return e ? e.getBoundingClientRect().bottom + window.scrollY : null;
      };
      const cta = document.querySelector('.service-cta .button, .service-cta .cta-place');
      return {
        cls: window.__cls,
        box: bottom('input[name="q"]'),
        category: bottom('[data-element="service-category-link"]'),
        phone: bottom('.desk-cards .desk-phone'),
        today: bottom('.desk-cards .today'),
        cta: cta ? cta.getBoundingClientRect().bottom + window.scrollY : null,
        print: bottom('[data-print]'),
      };
    });
    const weight = bodies.reduce((s, b) => s + b, 0);
    const desk = m.phone == null ? '' : `${px(m.phone)} / ${px(m.today)}`;
    console.log(`| ${name} | \`${p}\` | ${(weight / 1024).toFixed(1)} KB | ${m.cls.toFixed(3)} | ${px(m.box)} | ${px(m.category)} | ${desk} | ${px(m.cta)} | ${px(m.print)} |`);
    await page.close();
  }
  await ctx.close();
} finally {
  await browser.close();
  await server.close();
  await fsp.rm(tmp, { recursive: true, force: true });
}
