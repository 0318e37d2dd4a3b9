// The guide on an old phone, and in the Designers Italia model (node --test, Debian's chromium).
//
// On every page of two guides (the example in content/ and tests/browser/fixtures/long-guide,
// whose service has very long words, addresses and a wide table):
//   a. at 360x800 the search box is in the first screen (and on a service sheet its first
//      action: "Accedi al servizio", booking or "Dove rivolgersi", before the print button); no
//      heading skips a level, no list is empty (the header's results list is created on search); layout shift (PerformanceObserver,
//      style.css delayed by 400 ms) under 0.05; the page before any interaction weighs at most
//      10 KB gzip and has not loaded search.js; axe-core and HTML_CodeSniffer (WCAG2AA, the
//      engine pa11y runs) find nothing; at 320 px nothing scrolls sideways;
//   b. at 360x400 (a phone with its keyboard open) the first result is visible after typing;
//   c. the home page's first screen holds the desks (phone, today's hours) and the first
//      categories; Escape from a result closes the list and returns to the box; a browser that
//      cannot run search.js gets a truthful note on /cerca/, its query kept, the categories;
//   d. search.js parses as ES2017 and sportello.js as ES5 (acorn);
//   e. every service sheet passes the Designers Italia checks re-implemented from the published
//      criteria: C.SI.1.3 (items and their order, breadcrumb "Servizi" then the category),
//      R.SI.1.1 (JSON-LD fields), C.SI.1.5 (at least half the topics in the model's vocabulary),
//      C.SI.3.2-3.3 (footer links; the accessibility statement on AgID's form site when named).
//
// Environment: SPORTELLO_BIN, CHROMIUM as in site.test.mjs.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import * as acorn from 'acorn';
import { launchOptions } from './chromium.mjs';
import { start } from './server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const THEME = path.join(REPO, 'themes/default');
const AXE = fs.readFileSync(path.join(HERE, 'node_modules/axe-core/axe.min.js'), 'utf8');
const HTMLCS = fs.readFileSync(path.join(HERE, 'node_modules/html_codesniffer/build/HTMLCS.js'), 'utf8');
const GUIDES = [
  { name: 'example guide', content: path.join(REPO, 'content'), query: 'badante' },
  { name: 'long-words fixture', content: path.join(HERE, 'fixtures/long-guide'), query: 'assistenza' },
];
const WEIGHT_LIMIT = 10 * 1024;
const CLS_LIMIT = 0.05;
const CSS_DELAY_MS = 400;

// The 64 "argomenti" of the Designers Italia Modello Comuni (C.SI.1.5), as its checker lists them.
const MODEL_TOPICS = new Set([
  "Accesso all'informazione", 'Acqua', 'Agricoltura', 'Animale domestico', 'Aria',
  'Assistenza agli invalidi', 'Assistenza sociale', 'Associazioni', 'Bilancio',
  "Commercio all'ingrosso", 'Commercio al minuto', 'Commercio ambulante',
  'Comunicazione istituzionale', 'Comunicazione politica', 'Concorsi', 'Covid-19', 'Elezioni',
  'Energie rinnovabili', 'Estero', 'Foreste', 'Formazione professionale', 'Gemellaggi',
  'Gestione rifiuti', 'Giustizia', 'Igiene pubblica', 'Immigrazione', 'Imposte', 'Imprese',
  'Inquinamento', 'Integrazione sociale', 'Isolamento termico', 'Istruzione', 'Lavoro',
  'Matrimonio', 'Mercato', 'Mobilità sostenibile', 'Morte', 'Nascita', 'Parcheggi',
  'Patrimonio culturale', 'Pesca', 'Piano di sviluppo', 'Pista ciclabile', 'Politica commerciale',
  'Polizia', 'Prodotti alimentari', 'Protezione civile', 'Residenza', 'Risposta alle emergenze',
  'Sistema giuridico', 'Spazio Verde', 'Sport', 'Sviluppo sostenibile', 'Tassa sui servizi',
  'Tempo libero', 'Trasparenza amministrativa', 'Trasporto pubblico', 'Turismo', 'Urbanizzazione',
  'Viaggi', 'Zone pedonali', 'ZTL',
].map((t) => t.toLowerCase()));

function sportelloBin() {
  if (process.env.SPORTELLO_BIN) return path.resolve(process.env.SPORTELLO_BIN);
  for (const p of ['target/release/sportello', 'target/debug/sportello']) {
    const abs = path.join(REPO, p);
    if (fs.existsSync(abs)) return abs;
  }
  throw new Error('no sportello binary: set SPORTELLO_BIN');
}

/** Every page of a built site, as paths: `/x/` for `x/index.html`, and `/404.html`. */
function pagesOf(dir, rel = '') {
  const out = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    if (e.isDirectory() && !(rel === '' && e.name === 'search')) out.push(...pagesOf(dir, path.join(rel, e.name)));
    else if (e.name === 'index.html') out.push('/' + (rel ? rel.split(path.sep).join('/') + '/' : ''));
    else if (rel === '' && e.name === '404.html') out.push('/404.html');
  }
  return out.sort();
}

/** Runs `fn` over `items`, `n` at a time. */
async function pool(items, n, fn) {
  const queue = [...items];
  const failures = [];
  await Promise.all(Array.from({ length: n }, async () => {
    while (queue.length) {
      const item = queue.shift();
      try {
        await fn(item);
      } catch (err) {
        failures.push(`${item}: ${err.message}`);
      }
    }
  }));
  assert.deepEqual(failures, [], failures.join('\n'));
}

let tmp;
let browser;
const built = []; // {name, dir, server, pages, query}

before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sportello-phone-'));
  browser = await chromium.launch(launchOptions());
  for (const [i, g] of GUIDES.entries()) {
    const dir = path.join(tmp, `site${i}`);
    const server = await start(dir);
    await promisify(execFile)(sportelloBin(), ['build', '--content', g.content, '--theme', THEME,
      '--output', dir, '--base-url', server.url], { cwd: REPO, maxBuffer: 16 << 20 });
    built.push({ ...g, dir, server, pages: pagesOf(dir) });
  }
});

after(async () => {
  await browser?.close();
  for (const b of built) await b.server.close();
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

// Layout shifts not caused by input, summed as Chrome's CLS does for a short page load.
const CLS_OBSERVER = () => {
  window.__cls = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (!e.hadRecentInput) window.__cls += e.value;
  }).observe({ type: 'layout-shift', buffered: true });
};

async function runAxe(page) {
  await page.evaluate(AXE);
  const r = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

async function runHtmlcs(page) {
  await page.evaluate(HTMLCS);
  return page.evaluate(() => new Promise((resolve) => {
    // eslint-disable-next-line no-undef
    HTMLCS.process('WCAG2AA', document, () => {
      // eslint-disable-next-line no-undef
      const msgs = HTMLCS.getMessages().filter((m) => m.type === 1); // errors, as pa11y reports them
      resolve(msgs.map((m) => `${m.code}: ${m.element.outerHTML.slice(0, 120)}`));
    });
  }));
}

for (const [gi, g] of GUIDES.entries()) {
  describe(`${g.name}: every page on a phone`, () => {
    const site = () => built[gi];

    test('360x800: search box in the first screen, CLS < 0.05 with CSS delayed, <= 10 KB before interaction, axe and HTML_CodeSniffer clean, no sideways scroll at 320 px', async () => {
      const ctx = await browser.newContext({ viewport: { width: 360, height: 800 } });
      await ctx.addInitScript(CLS_OBSERVER);
      await ctx.route('**/style.css', async (route) => {
        await new Promise((r) => setTimeout(r, CSS_DELAY_MS));
        await route.continue().catch(() => {});
      });
      const report = [];
      await pool(site().pages, 2, async (p) => {
        const page = await ctx.newPage();
        const bodies = [];
        page.on('response', async (res) => {
          try {
            bodies.push({ url: res.url(), bytes: zlib.gzipSync(await res.body()).length });
          } catch {
            // a redirect has no body
          }
        });
        await page.goto(site().server.url + p, { waitUntil: 'load' });
        await page.waitForTimeout(250);
        const m = await page.evaluate(() => {
          const box = document.querySelector('input[name="q"]');
          const r = box && box.getBoundingClientRect();
          // a service sheet leads with its action: the online or booking button, or where to go
          const cta = document.querySelector('.service-cta .button, .service-cta .cta-place a');
          const print = document.querySelector('[data-print]');
          return {
            cls: window.__cls,
            box: r && { top: r.top, bottom: r.bottom },
            sheet: !!document.querySelector('[data-element="service-title"]'),
            cta: cta && cta.getBoundingClientRect().bottom,
            ctaFirst: !!(cta && print && (cta.compareDocumentPosition(print) & Node.DOCUMENT_POSITION_FOLLOWING)),
            // headings that skip a level (h1 then h3), and lists with nothing in them
            skips: [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map((h) => +h.tagName[1])
              .filter((l, i, all) => i > 0 && l > all[i - 1] + 1).length,
            emptyLists: [...document.querySelectorAll('ul, ol')].filter((l) => !l.children.length)
              .map((l) => l.outerHTML.slice(0, 80)),
          };
        });
        assert.equal(m.skips, 0, 'a heading skips a level');
        assert.deepEqual(m.emptyLists, [], 'an empty list');
        if (m.sheet) {
          assert.ok(m.cta != null && m.cta <= 800, `the sheet's first action at ${m.cta} px`);
          assert.ok(m.ctaFirst, 'the print button comes before the action');
        }
        assert.ok(m.box, 'no search box');
        assert.ok(m.box.top >= 0 && m.box.bottom <= 800, `search box at ${m.box.top}-${m.box.bottom} px`);
        assert.ok(m.cls < CLS_LIMIT, `layout shift ${m.cls.toFixed(3)}`);
        assert.ok(!bodies.some((b) => /\/search\.js$/.test(b.url)), 'search.js loaded before any interaction');
        const weight = bodies.reduce((s, b) => s + b.bytes, 0);
        assert.ok(weight <= WEIGHT_LIMIT, `${weight} B gzip before interaction: ${bodies.map((b) => `${new URL(b.url).pathname} ${b.bytes}`).join(', ')}`);
        report.push({ p, weight, cls: m.cls });
        assert.deepEqual(await runAxe(page), [], 'axe');
        assert.deepEqual(await runHtmlcs(page), [], 'HTML_CodeSniffer');
        await page.setViewportSize({ width: 320, height: 640 });
        const sw = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(sw <= 320, `scrollWidth ${sw} at 320 px`);
        await page.close();
      });
      await ctx.close();
      const max = report.reduce((a, b) => (b.weight > a.weight ? b : a));
      const cls = report.reduce((a, b) => (b.cls > a.cls ? b : a));
      console.log(`# ${g.name}: ${report.length} pages; heaviest ${max.p} ${(max.weight / 1024).toFixed(1)} KB gzip; largest shift ${cls.cls.toFixed(4)} (${cls.p})`);
    });

    test('360x400 (keyboard open): the first result is visible after typing', async () => {
      const ctx = await browser.newContext({ viewport: { width: 360, height: 400 } });
      await pool(site().pages.filter((p) => p !== '/cerca/'), 2, async (p) => {
        const page = await ctx.newPage();
        await page.goto(site().server.url + p);
        const input = page.locator('input[name="q"]');
        await input.click();
        await input.pressSequentially(g.query, { delay: 20 });
        // the results of the whole word: announced once typing stops, the query quoted as the
        // page's language quotes it (« » in Italian, “ ” on the English edition)
        await page.locator('.search-status').filter({ hasText: new RegExp(`[«“]${g.query}[»”]`) })
          .waitFor({ timeout: 10000 });
        const first = page.locator('.search-item a').first();
        const r = await first.boundingBox();
        assert.ok(r && r.y >= 0 && r.y + r.height <= 400, `first result at ${r && r.y} px`);
        await page.close();
      });
      await ctx.close();
    });
  });
}

describe('phone: home, keyboard, old browsers', () => {
  const origin = () => built[0].server.url;

  test('home at 360x800: the desks with phone and today\'s hours, and the first categories', async () => {
    const ctx = await browser.newContext({ viewport: { width: 360, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(origin() + '/');
    const m = await page.evaluate(() => {
      const bottom = (e) => e && e.getBoundingClientRect().bottom;
      const desk = document.querySelector('.desk-cards .card');
      return {
        category: bottom(document.querySelector('[data-element="service-category-link"]')),
        phone: bottom(desk && desk.querySelector('.desk-phone')),
        today: desk && desk.querySelector('.today') && desk.querySelector('.today').textContent,
        todayBottom: bottom(desk && desk.querySelector('.today')),
        desks: document.querySelectorAll('.desk-cards .card').length,
      };
    });
    assert.ok(m.desks >= 1);
    assert.ok(m.phone <= 800, `desk phone at ${m.phone}`);
    assert.match(m.today, /^Oggi/);
    assert.ok(m.todayBottom <= 800, `today's hours at ${m.todayBottom}`);
    assert.ok(m.category <= 800, `first category at ${m.category}`);
    await ctx.close();
  });

  test('Escape from a focused result closes the list and returns to the box', async () => {
    const ctx = await browser.newContext({ viewport: { width: 360, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(origin() + '/servizi/isee/');
    const input = page.locator('#q-header');
    await input.click();
    await input.pressSequentially('badante', { delay: 20 });
    await page.locator('#q-header-results .search-item a').first().waitFor();
    await input.press('ArrowDown');
    assert.equal(await page.evaluate(() => !!document.activeElement.closest('.search-item')), true);
    await page.keyboard.press('Escape');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'q-header');
    assert.equal(await page.locator('#q-header-results').isHidden(), true);
    assert.equal(await input.inputValue(), 'badante');
    await ctx.close();
  });

  test('filters appear only once there are results, after them', async () => {
    const ctx = await browser.newContext({ viewport: { width: 360, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(origin() + '/');
    assert.equal(await page.locator('.search-filters').count(), 0, 'filters before any search');
    assert.equal(await page.locator('.search-results').count(), 0, 'an empty results list before any search');
    const input = page.locator('#q');
    await input.click();
    await input.pressSequentially('badante', { delay: 20 });
    await page.locator('#q-results .search-item a').first().waitFor();
    const order = await page.evaluate(() => {
      const list = document.querySelector('#q-results .search-list');
      const f = document.querySelector('#q-results .search-filters');
      return !f.hidden && !!(list.compareDocumentPosition(f) & Node.DOCUMENT_POSITION_FOLLOWING);
    });
    assert.equal(order, true);
    await ctx.close();
  });

  test('a browser that cannot run search.js: /cerca/ says so, keeps the query, offers the categories', async () => {
    const ctx = await browser.newContext();
    // what an old browser lacks: ES modules
    await ctx.addInitScript(() => { delete HTMLScriptElement.prototype.noModule; });
    const page = await ctx.newPage();
    const requests = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(origin() + '/cerca/?q=badante');
    await page.locator('#q').focus();
    const note = page.locator('[data-nojs]');
    assert.equal(await note.isVisible(), true);
    assert.match(await note.textContent(), /troppo vecchio/);
    assert.equal(await page.locator('[data-nojs-off]').isVisible(), false, 'says JavaScript is off when it is not');
    assert.equal(await page.inputValue('#q'), 'badante');
    assert.ok((await note.locator('a').count()) >= 3);
    assert.ok(!requests.some((u) => u.endsWith('/search.js')), 'search.js requested');
    await ctx.close();
  });

  test('search.js parses as ES2017, sportello.js as ES5', () => {
    const src = (f) => fs.readFileSync(path.join(THEME, 'static', f), 'utf8');
    acorn.parse(fs.readFileSync(path.join(REPO, 'search/js/search.js'), 'utf8'), { ecmaVersion: 2017, sourceType: 'module' });
    acorn.parse(src('sportello.js'), { ecmaVersion: 5, sourceType: 'script' });
    // the parser does hold the line: a private method is later than ES2017
    assert.throws(() => acorn.parse('class A { #a() {} }', { ecmaVersion: 2017 }));
  });
});

describe('Designers Italia criteria on every service sheet', () => {
  for (const [gi, g] of GUIDES.entries()) {
    test(`${g.name}: C.SI.1.3, R.SI.1.1, C.SI.1.5, C.SI.3.2-3.3`, async () => {
      const site = built[gi];
      const ctx = await browser.newContext({ javaScriptEnabled: false });
      const sheets = site.pages.filter((p) => /^\/servizi\/[^/]+\/$/.test(p));
      assert.ok(sheets.length > 0);
      const INDEX = ['A chi è rivolto', 'Come fare', 'Cosa serve', 'Cosa si ottiene', 'Tempi e scadenze',
        'Accedi al servizio', 'Condizioni di servizio', 'Contatti'];
      await pool(sheets, 2, async (p) => {
        const page = await ctx.newPage();
        await page.goto(site.server.url + p);
        const d = await page.evaluate(() => {
          const q = (s) => document.querySelector(`[data-element="${s}"]`);
          const text = (e) => (e ? e.textContent.replace(/\s+/g, ' ').trim() : '');
          const crumbs = [...document.querySelectorAll('[data-element="breadcrumb"] li')].map(text);
          const index = [...document.querySelectorAll('ul[data-element="page-index"] li a')].map(text);
          const order = ['service-title', 'service-description', 'service-status', 'page-index',
            'service-addressed', 'service-how-to', 'service-needed', 'service-achieved',
            'service-calendar-text', 'service-generic-access', 'service-file', 'service-area', 'service-topic']
            .map((s) => q(s));
          const positions = order.map((e) => e && [...document.querySelectorAll('*')].indexOf(e));
          const ld = document.querySelector('script[type="application/ld+json"][data-element="metatag"]');
          return {
            crumbs, index, positions,
            texts: order.map(text),
            areaTag: q('service-area') && q('service-area').tagName,
            topicTag: q('service-topic') && q('service-topic').tagName,
            ld: ld && ld.textContent,
          };
        });
        // the breadcrumb's separators are not read out
        const spoken = await page.locator('nav.breadcrumb').ariaSnapshot();
        assert.ok(!spoken.includes('›'), spoken);
        // C.SI.1.3: breadcrumb reads "Servizi" then the category
        const at = d.crumbs.indexOf('Servizi');
        assert.ok(at >= 0 && d.crumbs[at + 1], `breadcrumb ${d.crumbs.join(' > ')}`);
        // the thirteen items, present and in order
        d.positions.forEach((pos, i) => assert.ok(pos !== null && pos >= 0, `item ${i + 1} missing`));
        for (let i = 1; i < d.positions.length; i++) assert.ok(d.positions[i] > d.positions[i - 1], `item ${i + 1} out of order`);
        d.texts.forEach((t, i) => assert.ok(t.length > 0, `item ${i + 1} empty`));
        assert.match(d.texts[2].toLowerCase(), /attivo|disattivo|non attivo/, 'service-status');
        assert.equal(d.areaTag, 'A');
        assert.equal(d.topicTag, 'A');
        // the page index holds the eight voices in order
        const found = INDEX.map((v) => d.index.findIndex((x) => x.toLowerCase() === v.toLowerCase()));
        assert.ok(found.every((i) => i >= 0), `page index ${d.index.join(', ')}`);
        assert.deepEqual([...found].sort((a, b) => a - b), found, 'page index order');
        // R.SI.1.1: objects, not arrays
        assert.ok(d.ld, 'no JSON-LD with data-element="metatag"');
        const v = JSON.parse(d.ld);
        for (const k of ['name', 'serviceType']) assert.equal(typeof v[k], 'string', k);
        for (const [o, k] of [['serviceOperator', 'name'], ['areaServed', 'name'], ['audience', 'audienceType'], ['availableChannel', 'serviceUrl']]) {
          assert.ok(v[o] && !Array.isArray(v[o]) && typeof v[o][k] === 'string' && v[o][k], `${o}.${k}`);
        }
        const loc = v.availableChannel.serviceLocation;
        assert.ok(loc && !Array.isArray(loc) && loc.address, 'availableChannel.serviceLocation with an address');
        await page.close();
      });
      // C.SI.1.5: at least half of the topics on the topics page are model terms
      const page = await ctx.newPage();
      await page.goto(site.server.url + '/argomenti/');
      const topics = await page.$$eval('[data-element="topic-element"]', (as) => as.map((a) => a.textContent.trim()));
      const inModel = topics.filter((t) => MODEL_TOPICS.has(t.toLowerCase()));
      assert.ok(topics.length > 0 && inModel.length * 2 >= topics.length, `${inModel.length}/${topics.length} topics in the model's vocabulary`);
      console.log(`# ${g.name}: ${sheets.length} service sheets pass; ${inModel.length}/${topics.length} topics in the model's vocabulary`);
      // C.SI.3.2, C.SI.3.3: footer links
      await page.goto(site.server.url + '/');
      // (the fixture has a privacy page and names its statement on AgID's form site; the example
      // guide has all three pages, and no AgID address to name)
      const footer = await page.$$eval('footer a[data-element]', (as) => as.map((a) => [a.dataset.element, a.getAttribute('href')]));
      const want = gi === 0 ? ['accessibility-link', 'privacy-policy-link', 'legal-notes'] : ['accessibility-link', 'privacy-policy-link'];
      for (const el of want) assert.ok(footer.some(([e, h]) => e === el && h && h !== '#'), `footer ${el}: ${JSON.stringify(footer)}`);
      if (gi === 1) {
        // C.SI.3.2: the statement is the one published with AgID's form
        const [, href] = footer.find(([e]) => e === 'accessibility-link');
        assert.ok(href.startsWith('https://form.agid.gov.it/view/'), `accessibility-link ${href}`);
      }
      await ctx.close();
    });
  }
});
