// Real-browser tests of the built guide (node --test, playwright-core driving Debian's chromium).
//
//   a. axe-core (WCAG 2.0/2.1 A and AA) on one page of every template, and reflow at 320 px;
//   b. a crawler over the whole site: links, #fragments, same-origin resources, one <h1>, <title>,
//      lang="it" (lang="en" under /en/, the English edition), no cookie and no request to
//      another origin;
//   c. without JavaScript: home -> category -> service in two clicks, the print button hidden;
//   d. keyboard: the skip link is the first Tab stop, visible, and moves focus to <main>.
//
// Environment: SPORTELLO_BIN (the generator binary), SPORTELLO_CONTENT and SPORTELLO_THEME (default
// ../../content and ../../themes/default), CHROMIUM (the browser, default
// /usr/lib/chromium/chromium), KEEP_SITE=1 keeps the built site in its temp dir.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { launchOptions } from './chromium.mjs';
import { start } from './server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const CONTENT = path.resolve(process.env.SPORTELLO_CONTENT || path.join(REPO, 'content'));
const THEME = path.resolve(process.env.SPORTELLO_THEME || path.join(REPO, 'themes/default'));
const AXE = path.join(HERE, 'node_modules/axe-core/axe.min.js');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

const SERVICE = '/servizi/assistenza-domiciliare/';
const SUSPENDED = '/servizi/spesa-a-domicilio/';

function sportelloBin() {
  if (process.env.SPORTELLO_BIN) return path.resolve(process.env.SPORTELLO_BIN);
  for (const p of ['target/release/sportello', 'target/debug/sportello']) {
    const abs = path.join(REPO, p);
    if (fs.existsSync(abs)) return abs;
  }
  throw new Error(
    'no sportello binary: run `cargo build --release -p sportello` or set SPORTELLO_BIN',
  );
}

// ---------------------------------------------------------------------------------------------
// Shared state, set up once for the whole file.

let tmp; // temp dir
let siteDir; // the built guide
let server; // {url, close}
let origin; // "http://127.0.0.1:PORT"
let browser;
let topicPath; // first topic linked from the service page, found in `before`

before(async () => {
  const bin = sportelloBin();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sportello-browser-'));
  siteDir = path.join(tmp, 'site');
  // Serve first (the server reads files per request) so the build knows its base URL.
  server = await start(siteDir);
  origin = server.url;
  try {
    await promisify(execFile)(
      bin,
      ['build', '--content', CONTENT, '--theme', THEME, '--output', siteDir, '--base-url', origin],
      { cwd: REPO, maxBuffer: 16 << 20 },
    );
  } catch (err) {
    throw new Error(`sportello build failed (${bin}):\n${err.stderr || err.message}`);
  }
  browser = await chromium.launch(launchOptions());
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(origin + SERVICE);
  const href = await page.getAttribute('a[data-element="service-topic"]', 'href');
  await ctx.close();
  assert.ok(href, `${SERVICE} links no topic (a[data-element="service-topic"])`);
  topicPath = new URL(href, origin + SERVICE).pathname;
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (tmp && !process.env.KEEP_SITE) await fsp.rm(tmp, { recursive: true, force: true });
  else if (tmp) console.log(`# built site kept in ${siteDir}`);
});

// ---------------------------------------------------------------------------------------------
// Helpers.

/** Opens `pathname` in a new page of `ctx`, recording every request the page makes. */
async function visit(ctx, pathname) {
  const page = await ctx.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const res = await page.goto(origin + pathname, { waitUntil: 'load' });
  return { page, res, requests };
}

function isLocal(u) {
  return u.startsWith(origin + '/') || u === origin || u.startsWith('data:');
}

function assertLocalRequests(requests, where) {
  const foreign = requests.filter((u) => !isLocal(u));
  assert.deepEqual(foreign, [], `${where}: the browser requested another origin`);
}

function formatViolations(pathname, violations) {
  const lines = [`${pathname}: ${violations.length} axe violation(s)`];
  for (const v of violations) {
    lines.push(`- ${v.id} [${v.impact}] ${v.help}`);
    lines.push(`  ${v.helpUrl}`);
    for (const n of v.nodes) {
      lines.push(`  * target: ${n.target.join(' ')}`);
      lines.push(`    html:   ${n.html.replace(/\s+/g, ' ').slice(0, 300)}`);
      if (n.failureSummary) {
        lines.push(`    why:    ${n.failureSummary.replace(/\s+/g, ' ').slice(0, 400)}`);
      }
    }
  }
  return lines.join('\n');
}

// One page of every template.
const TEMPLATE_PAGES = [
  ['home (index)', () => '/'],
  ['active service (service)', () => SERVICE],
  ['suspended service (service)', () => SUSPENDED],
  ['category (term)', () => '/categorie/salute-benessere-assistenza/'],
  ['topic (term)', () => topicPath],
  ['audience (term)', () => '/destinatari/anziani/'],
  ['topics index (topics)', () => '/argomenti/'],
  ['A-Z (services)', () => '/servizi/'],
  ['office (place)', () => '/uffici/servizio-sociale/'],
  ['desk (place)', () => '/sportelli/cgil-via-mantova/'],
  ['page (page)', () => '/privacy/'],
  ['search (search)', () => '/cerca/'],
  ['not found (404)', () => '/404.html'],
  // The English edition (content/**/*.en.md), same templates in English.
  ['English home (index)', () => '/en/'],
  ['English active service (service)', () => '/en' + SERVICE.replace('/servizi/', '/services/')],
  ['English suspended service (service)', () => '/en' + SUSPENDED.replace('/servizi/', '/services/')],
  ['English category (term)', () => '/en/categories/salute-benessere-assistenza/'],
  ['English audience (term)', () => '/en/audiences/anziani/'],
  ['English topics index (topics)', () => '/en/topics/'],
  ['English A-Z (services)', () => '/en/services/'],
  ['English office (place)', () => '/en/offices/servizio-sociale/'],
  ['English desk (place)', () => '/en/desks/cgil-via-mantova/'],
  ['English offices (places)', () => '/en/offices/'],
  ['English page (page)', () => '/en/privacy/'],
  ['English search (search)', () => '/en/search/'],
  ['English not found (404)', () => '/en/404.html'],
];

// ---------------------------------------------------------------------------------------------
// a. Accessibility.

describe('a. accessibility (axe-core, WCAG 2.1 AA)', () => {
  let ctx;
  before(async () => {
    ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  });
  after(async () => ctx?.close());

  for (const [name, pathOf] of TEMPLATE_PAGES) {
    test(`axe: ${name}`, async (t) => {
      const pathname = pathOf();
      const { page, res, requests } = await visit(ctx, pathname);
      try {
        assert.equal(res.status(), 200, `${pathname}: HTTP ${res.status()}`);
        await page.addScriptTag({ path: AXE });
        const result = await page.evaluate(async (tags) => {
          // eslint-disable-next-line no-undef
          const r = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
          const slim = (v) => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            helpUrl: v.helpUrl,
            nodes: v.nodes.map((n) => ({
              target: n.target.map(String),
              html: n.html,
              failureSummary: n.failureSummary,
            })),
          });
          return {
            violations: r.violations.map(slim),
            incomplete: r.incomplete.map((v) => v.id),
            passes: r.passes.length,
          };
        }, AXE_TAGS);
        if (result.incomplete.length) {
          t.diagnostic(`${pathname}: needs review: ${result.incomplete.join(', ')}`);
        }
        assert.ok(result.passes > 0, `${pathname}: axe ran no rule`);
        if (result.violations.length) {
          const msg = formatViolations(pathname, result.violations);
          assert.fail(msg);
        }
        assertLocalRequests(requests, pathname);
      } finally {
        await page.close();
      }
    });
  }
});

describe('a. reflow at 320 CSS px (WCAG 1.4.10)', () => {
  let ctx;
  before(async () => {
    ctx = await browser.newContext({ viewport: { width: 320, height: 640 } });
  });
  after(async () => ctx?.close());

  for (const [name, pathOf] of TEMPLATE_PAGES) {
    test(`no horizontal scroll: ${name}`, async () => {
      const pathname = pathOf();
      const { page } = await visit(ctx, pathname);
      try {
        const m = await page.evaluate(() => {
          const vw = document.documentElement.clientWidth;
          const wide = [];
          for (const el of document.body.querySelectorAll('*')) {
            const r = el.getBoundingClientRect();
            if (r.width > 0 && r.right > vw + 1) {
              const id = el.id ? `#${el.id}` : '';
              const cls = el.classList.length ? `.${[...el.classList].join('.')}` : '';
              wide.push(`${el.tagName.toLowerCase()}${id}${cls} (right=${Math.round(r.right)})`);
            }
          }
          return { scrollWidth: document.documentElement.scrollWidth, vw, wide: wide.slice(0, 10) };
        });
        assert.ok(
          m.scrollWidth <= 320 + 1,
          `${pathname}: scrollWidth ${m.scrollWidth} > 320; too wide: ${m.wide.join(', ')}`,
        );
      } finally {
        await page.close();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// b. Crawler.

/** Runs in the browser: parses a page and lists everything the crawler checks. */
function extract(html) {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const urlsInCss = (css) => {
    const out = [];
    for (const m of css.matchAll(/url\(\s*(['"]?)(.*?)\1\s*\)/g)) out.push(m[2]);
    for (const m of css.matchAll(/@import\s+(['"])(.*?)\1/g)) out.push(m[2]);
    return out;
  };
  const resources = []; // {what, url}
  const add = (what, url) => {
    if (url != null) resources.push({ what, url: url.trim() });
  };
  for (const el of doc.querySelectorAll('[src]')) add(`<${el.localName} src>`, el.getAttribute('src'));
  for (const el of doc.querySelectorAll('[srcset]')) {
    for (const cand of el.getAttribute('srcset').split(',')) {
      const u = cand.trim().split(/\s+/)[0];
      if (u) add(`<${el.localName} srcset>`, u);
    }
  }
  for (const el of doc.querySelectorAll('link[href]')) {
    add(`<link rel="${el.getAttribute('rel') ?? ''}">`, el.getAttribute('href'));
  }
  for (const el of doc.querySelectorAll('[poster]')) add(`<${el.localName} poster>`, el.getAttribute('poster'));
  for (const el of doc.querySelectorAll('object[data]')) add('<object data>', el.getAttribute('data'));
  for (const el of doc.querySelectorAll('form')) add('<form action>', el.getAttribute('action') ?? '');
  for (const el of doc.querySelectorAll('[formaction]')) add('formaction', el.getAttribute('formaction'));
  for (const el of doc.querySelectorAll('base[href]')) add('<base href>', el.getAttribute('href'));
  for (const el of doc.querySelectorAll('use, image')) {
    const h = el.getAttribute('href') ?? el.getAttribute('xlink:href');
    if (h) add(`<${el.localName} href>`, h);
  }
  for (const el of doc.querySelectorAll('[style]')) {
    for (const u of urlsInCss(el.getAttribute('style'))) add('style="url()"', u);
  }
  for (const el of doc.querySelectorAll('style')) {
    for (const u of urlsInCss(el.textContent)) add('<style> url()', u);
  }
  for (const el of doc.querySelectorAll('meta[http-equiv="refresh" i]')) {
    const m = /url\s*=\s*['"]?([^'"]+)/i.exec(el.getAttribute('content') ?? '');
    if (m) add('<meta refresh>', m[1]);
  }
  const ids = [...doc.querySelectorAll('[id]')].map((e) => e.id);
  ids.push(...[...doc.querySelectorAll('a[name]')].map((e) => e.getAttribute('name')));
  const stylesheets = [...doc.querySelectorAll('link[href]')]
    .filter((l) => /(^|\s)stylesheet(\s|$)/i.test(l.getAttribute('rel') ?? ''))
    .map((l) => l.getAttribute('href'));
  const forms = [...doc.querySelectorAll('form')]
    .filter((f) => (f.getAttribute('method') ?? 'get').toLowerCase() === 'get')
    .map((f) => f.getAttribute('action') ?? '');
  return {
    lang: doc.documentElement.getAttribute('lang'),
    titles: [...doc.querySelectorAll('title')].map((e) => e.textContent.trim()),
    h1: [...doc.querySelectorAll('h1')].map((e) => e.textContent.trim().replace(/\s+/g, ' ')),
    ids,
    anchors: [...doc.querySelectorAll('a[href], area[href]')].map((e) => e.getAttribute('href').trim()),
    resources,
    stylesheets,
    forms,
    writesCookie: [...doc.querySelectorAll('script:not([src])')].some((s) =>
      /document\s*\.\s*cookie\s*=/.test(s.textContent),
    ),
  };
}

async function get(url) {
  const res = await fetch(url, { redirect: 'manual' });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body };
}

describe('b. crawler', () => {
  let crawl; // { pages: Map<path, info>, problems: {kind, msg}[], assets: Map<path, status> }

  before(async () => {
    const ctx = await browser.newContext({ javaScriptEnabled: false });
    const parser = await ctx.newPage();
    await parser.goto('about:blank');

    const pages = new Map(); // path -> {status, type, info?, from}
    const problems = [];
    // `where` is the page (or file) it was found on; the same `msg` on many pages is reported once.
    const problem = (kind, where, msg) => problems.push({ kind, where, msg });
    const fragments = []; // {target, id, from}
    const assets = new Map(); // same-origin non-page URLs: path -> {status, type}
    const queue = [];
    let external = 0;

    const enqueue = (pathname, from) => {
      if (!pages.has(pathname)) {
        pages.set(pathname, { from });
        queue.push(pathname);
      }
    };

    const checkAsset = async (u, where, what) => {
      const key = u.pathname + u.search;
      if (!assets.has(key)) {
        const r = await get(u.href);
        assets.set(key, { status: r.status, type: r.headers.get('content-type'), body: r.body });
        if (r.headers.get('set-cookie')) problem('cookie', key, 'the server sets a cookie');
      }
      const a = assets.get(key);
      if (a.status !== 200) problem('status', where, `${what} ${key}: HTTP ${a.status}`);
      return a;
    };

    enqueue('/', '(start)');
    while (queue.length) {
      const pathname = queue.shift();
      const entry = pages.get(pathname);
      const pageUrl = origin + pathname;
      const r = await get(pageUrl);
      entry.status = r.status;
      entry.type = r.headers.get('content-type') ?? '';
      if (r.headers.get('set-cookie')) problem('cookie', pathname, 'the server sets a cookie');
      if (r.status !== 200) {
        problem('status', entry.from, `link to ${pathname}: HTTP ${r.status}`);
        continue;
      }
      if (!entry.type.startsWith('text/html')) continue; // feed.xml and friends: status only
      const info = await parser.evaluate(extract, r.body.toString('utf8'));
      entry.info = info;

      // Page structure.
      const lang = pathname.startsWith('/en/') ? 'en' : 'it';
      if (info.lang !== lang) problem('lang', pathname, `<html lang="${info.lang}">`);
      if (info.titles.length !== 1 || !info.titles[0]) {
        problem('title', pathname, `<title>s: ${JSON.stringify(info.titles)}`);
      }
      if (info.h1.length !== 1) problem('h1', pathname, `${info.h1.length} <h1>: ${JSON.stringify(info.h1)}`);
      if (info.writesCookie) problem('cookie', pathname, 'an inline script writes document.cookie');

      // Links.
      for (const href of info.anchors) {
        let u;
        try {
          u = new URL(href, pageUrl);
        } catch {
          problem('link', pathname, `unparsable href ${JSON.stringify(href)}`);
          continue;
        }
        if (u.origin === origin) {
          const target = u.pathname;
          if (u.hash.length > 1) {
            fragments.push({ target, id: decodeURIComponent(u.hash.slice(1)), from: pathname, href });
          }
          enqueue(target, pathname);
        } else if (u.protocol === 'mailto:' || u.protocol === 'tel:') {
          // contact links
        } else if (u.protocol === 'https:') {
          external += 1;
        } else {
          problem('external', pathname, `external link is not https: ${href}`);
        }
      }
      // A GET search form is a way to reach its target page too.
      for (const action of info.forms) {
        const u = new URL(action, pageUrl);
        if (u.origin === origin) enqueue(u.pathname, `${pathname} (form)`);
      }

      // Resources: same origin (or data:) only, and they exist.
      for (const { what, url } of info.resources) {
        let u;
        try {
          u = new URL(url, pageUrl);
        } catch {
          problem('resource', pathname, `${what} unparsable ${JSON.stringify(url)}`);
          continue;
        }
        if (u.protocol === 'data:') continue;
        if (u.origin !== origin) {
          problem('origin', pathname, `${what} from another origin: ${url}`);
          continue;
        }
        if (what === '<form action>' || what === 'formaction') continue; // followed as a page
        if (what.startsWith('<link rel="canonical"')) {
          enqueue(u.pathname, `${pathname} (canonical)`);
          continue;
        }
        await checkAsset(u, pathname, what);
      }
    }

    // Stylesheets: every url() and @import same-origin and present.
    for (const [key, a] of [...assets]) {
      if (!(a.type ?? '').startsWith('text/css') || a.status !== 200) continue;
      const css = a.body.toString('utf8').replace(/\/\*[\s\S]*?\*\//g, '');
      const cssUrl = new URL(key, origin);
      const refs = [
        ...[...css.matchAll(/url\(\s*(['"]?)(.*?)\1\s*\)/g)].map((m) => m[2]),
        ...[...css.matchAll(/@import\s+(['"])(.*?)\1/g)].map((m) => m[2]),
      ];
      for (const ref of refs) {
        const u = new URL(ref, cssUrl);
        if (u.protocol === 'data:') continue;
        if (u.origin !== origin) problem('origin', key, `url(${ref}) from another origin`);
        else await checkAsset(u, key, 'url()');
      }
    }
    // SVG images: no reference to another origin.
    for (const [key, a] of [...assets]) {
      if (!(a.type ?? '').startsWith('image/svg') || a.status !== 200) continue;
      const svg = a.body.toString('utf8');
      for (const m of svg.matchAll(/(?:xlink:)?href\s*=\s*["']([^"']+)["']/g)) {
        const u = new URL(m[1], new URL(key, origin));
        if (u.protocol !== 'data:' && u.origin !== origin) {
          problem('origin', key, `references another origin: ${m[1]}`);
        }
      }
    }

    // Fragments name an element id of their target page.
    for (const f of fragments) {
      const target = pages.get(f.target);
      if (!target?.info) continue; // its status is already reported
      if (!target.info.ids.includes(f.id)) {
        problem('fragment', f.from, `${f.href}: no id="${f.id}" on ${f.target}`);
      }
    }

    await ctx.close();
    crawl = { pages, problems, assets, fragments: fragments.length, external };
  });

  /** Asserts no problem of these kinds; the report groups the pages of each problem. */
  const assertNone = (...kinds) => {
    const byMsg = new Map();
    for (const p of crawl.problems.filter((q) => kinds.includes(q.kind))) {
      if (!byMsg.has(p.msg)) byMsg.set(p.msg, []);
      byMsg.get(p.msg).push(p.where);
    }
    if (!byMsg.size) return;
    const lines = [...byMsg].slice(0, 40).map(([msg, where]) => {
      const pages = [...new Set(where)];
      const shown = pages.slice(0, 3).join(', ') + (pages.length > 3 ? `, … (${pages.length} pages)` : '');
      return `- ${msg}
    on ${shown}`;
    });
    if (byMsg.size > 40) lines.push(`… and ${byMsg.size - 40} more`);
    assert.fail(`${byMsg.size} problem(s):\n${lines.join('\n')}`);
  };

  test('the crawl reaches the whole site', async (t) => {
    const html = [...crawl.pages.values()].filter((p) => p.info).length;
    t.diagnostic(
      `${html} HTML pages, ${crawl.pages.size - html} other link targets, ${crawl.assets.size} resources, ` +
        `${crawl.fragments} #fragment links, ${crawl.external} external https links`,
    );
    assert.ok(crawl.fragments > 0, 'no #fragment link checked (the service page index has some)');
    assert.ok(html >= 50, `only ${html} HTML pages reached from /`);
    // Every page the generator wrote is reachable from the home (404.html excepted).
    const built = [];
    const walk = async (dir, rel) => {
      for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(path.join(dir, e.name), `${rel}${e.name}/`);
        else if (e.name === 'index.html') built.push(rel);
        else if (e.name.endsWith('.html') && !['/404.html', '/en/404.html'].includes(`${rel}${e.name}`)) built.push(`${rel}${e.name}`);
      }
    };
    await walk(siteDir, '/');
    const orphans = built.filter((p) => !crawl.pages.get(p)?.info);
    assert.deepEqual(orphans, [], 'pages no link reaches');
  });

  test('every internal link answers 200 (no redirect, no 404)', () => {
    assertNone('status', 'link');
  });

  test('every #fragment names an id on its target page', () => {
    assertNone('fragment');
  });

  test('every resource is same-origin (src, srcset, link href, form action, CSS url())', () => {
    assertNone('origin', 'resource');
  });

  test('external links are https', () => {
    assertNone('external');
  });

  test('the crawl covers the English edition under /en/, reached by the language switch', () => {
    const en = [...crawl.pages.entries()].filter(([p, e]) => p.startsWith('/en/') && e.info);
    assert.ok(en.length >= 20, `only ${en.length} English pages reached`);
    assert.ok(crawl.pages.get('/en/')?.info, '/en/ not reached');
  });

  test('every page: exactly one <h1>, one non-empty <title>, <html lang="it"> (lang="en" under /en/)', () => {
    assertNone('h1', 'title', 'lang');
  });

  test('no cookie: none set by the server, none written by inline scripts', () => {
    assertNone('cookie');
  });

  test('the 404 page: a missing URL answers 404 with the site 404 page', async () => {
    const r = await get(origin + '/non-esiste/');
    assert.equal(r.status, 404);
    const info = await (async () => {
      const ctx = await browser.newContext({ javaScriptEnabled: false });
      const p = await ctx.newPage();
      const i = await p.evaluate(extract, r.body.toString('utf8'));
      await ctx.close();
      return i;
    })();
    assert.equal(info.lang, 'it');
    assert.equal(info.h1.length, 1);
    // Served at any depth, so its links and resources must not be relative to its own folder.
    for (const { what, url } of info.resources) {
      if (/^(data:|\/|https?:)/.test(url)) continue;
      if (what.startsWith('<form')) continue;
      assert.fail(`404.html: ${what} ${url} is relative: it breaks when served at /a/b/`);
    }
  });

  for (const pathname of ['/', SERVICE]) {
    test(`in the browser ${pathname}: no cookie, no request to another origin`, async () => {
      const ctx = await browser.newContext();
      try {
        const { page, requests } = await visit(ctx, pathname);
        await page.waitForLoadState('networkidle');
        assert.equal(await page.evaluate(() => document.cookie), '');
        assert.deepEqual((await ctx.cookies()).map((c) => c.name), []);
        assert.ok(requests.length >= 2, `only ${requests.length} request(s) recorded`);
        assertLocalRequests(requests, pathname);
      } finally {
        await ctx.close();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// c. Without JavaScript.

describe('c. without JavaScript', () => {
  test('home lists categories; home -> category -> service in two clicks; no print button', async () => {
    const ctx = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await ctx.newPage();
      await page.goto(origin + '/');
      const cats = page.locator('a[data-element="service-category-link"]');
      assert.ok((await cats.count()) > 0, 'the home lists no category');
      assert.ok(await cats.first().isVisible(), 'the first category link is not visible');

      await Promise.all([page.waitForURL(/\/categorie\/[^/]+\/$/), cats.first().click()]); // click 1
      const services = page.locator('a[data-element="service-link"]');
      assert.ok((await services.count()) > 0, `${page.url()} lists no service`);
      await Promise.all([page.waitForURL(/\/servizi\/[^/]+\/$/), services.first().click()]); // click 2

      assert.ok(
        await page.locator('h1[data-element="service-title"]').isVisible(),
        `${page.url()} is not a service page`,
      );
      const print = page.locator('[data-print]');
      assert.equal(await print.count(), 1, 'a service page has one print button');
      assert.equal(await print.isVisible(), false, 'the print button shows without JavaScript');
    } finally {
      await ctx.close();
    }
  });

  test('with JavaScript the print button is visible', async () => {
    const ctx = await browser.newContext();
    try {
      const { page } = await visit(ctx, SERVICE);
      await page.locator('[data-print]').waitFor({ state: 'visible', timeout: 5000 });
      assert.ok(await page.locator('[data-print]').isVisible());
    } finally {
      await ctx.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// d. Keyboard.

describe('d. keyboard', () => {
  test('Tab focuses the visible skip link first; Enter moves focus to main#contenuto', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const { page } = await visit(ctx, SERVICE);
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const el = document.activeElement;
        return {
          tag: el?.localName,
          text: el?.textContent.trim(),
          href: el?.getAttribute('href'),
          className: el?.className,
        };
      });
      assert.equal(focused.tag, 'a', `first Tab stop: ${JSON.stringify(focused)}`);
      assert.equal(focused.text, 'Vai al contenuto');
      assert.equal(focused.href, '#contenuto');

      const box = await page.locator(':focus').boundingBox();
      const vp = page.viewportSize();
      assert.ok(box && box.width > 1 && box.height > 1, `skip link has no size: ${JSON.stringify(box)}`);
      assert.ok(
        box.x >= 0 && box.y >= 0 && box.x + box.width <= vp.width && box.y + box.height <= vp.height,
        `focused skip link outside the viewport: ${JSON.stringify(box)}`,
      );
      assert.ok(await page.locator(':focus').isVisible(), 'focused skip link is not visible');

      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.activeElement?.id === 'contenuto', null, { timeout: 3000 })
        .catch(() => {});
      const after = await page.evaluate(() => ({
        tag: document.activeElement?.localName,
        id: document.activeElement?.id,
      }));
      assert.deepEqual(after, { tag: 'main', id: 'contenuto' }, 'Enter on the skip link');
    } finally {
      await ctx.close();
    }
  });
});
