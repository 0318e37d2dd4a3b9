// Search tests (node --test): the example guide is built once, then
//
//   a. quality: tests/search/queries.json, top-3 rate per kind, fails under 90% overall;
//   b. round trip: every service is found by its exact title (first, or in the top 3 when two
//      services share the title's words);
//   c. Rust/JS equivalence: the browser's pipeline (search.js) gives the generator's term for
//      every word of the example guide, and the same Snowball stem for those words and for
//      thousands of inflected forms built from them (every suffix rule);
//   d. end to end in headless Chromium under a strict CSP: typing on the home page shows the
//      expected result and the live-region announcement; /cerca/?q= deep links; filters;
//      keyboard; "Forse cercavi"; axe finds no violation; no JavaScript: /cerca/ says so.
//
// Environment: SPORTELLO_BIN (default target/debug/sportello), SEARCH_TOOL (default: the
// `search_tool` example next to it), CHROMIUM (default /usr/lib/chromium/chromium).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import zlib from 'node:zlib';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { launchOptions } from '../browser/chromium.mjs';
import { Pipeline, snowball, snowballEnglish, fold, rawWords, statedAge, statedIsee, statedInvalidity, decodeShard, decodeEndings, fileName, reversed } from '../../search/js/search.js';

import { buildGuide, engineFor, top, sportelloBin, HERE, CONTENT } from './lib.mjs';
import { QUERIES, evaluate, report } from './quality.mjs';
import { start } from '../browser/server.mjs';

const rawWordsCount = (q) => rawWords(q).length;

const AXE = path.join(HERE, 'node_modules/axe-core/axe.min.js');
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'";

function searchTool() {
  if (process.env.SEARCH_TOOL) return path.resolve(process.env.SEARCH_TOOL);
  return path.join(path.dirname(sportelloBin()), 'examples', 'search_tool');
}

function runTool(args, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(searchTool(), args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const chunks = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)))
        : reject(new Error(`search_tool ${args.join(' ')} exited with ${code}`)),
    );
    child.stdin.end(input ?? '');
  });
}

let tmp;
let siteDir;
let server;
let engine;
let meta;

before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sportello-search-'));
  siteDir = path.join(tmp, 'site');
  server = await start(siteDir);
  await buildGuide(siteDir, { baseUrl: server.url });
  engine = engineFor(siteDir);
  meta = await engine.meta();
});

after(async () => {
  await server?.close();
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

// The first query set, held to 90% overall; and the kinds of how people ask (issue 16), each
// held to the share it reaches (tests/search/SCORES.md), never lowered.
const FIRST_SET = new Set(['plain', 'morphology', 'accents', 'typo', 'synonym', 'prefix', 'phrase', 'acronym']);
const PER_KIND = {
  typo2: 1, unfinished: 1, conditions: 1, question: 1, everyday: 14 / 15, situation: 1,
  shorthand: 1, english: 17 / 18,
};

describe('quality', () => {
  test('top-3 over the query set is at least 90% (per kind printed)', async () => {
    const r = await evaluate(async (q, o) => (await top(engine, q, 3, o)).slugs,
      QUERIES.filter((q) => FIRST_SET.has(q.kind)));
    console.log(report(r).replace(/^/gm, '# '));
    assert.ok(r.total >= 60, `${r.total} queries`);
    assert.ok(r.rate >= 0.9, `top-3 rate ${(100 * r.rate).toFixed(1)}% < 90%`);
  });

  test('top-3 per kind of how people ask reaches its floor', async () => {
    const r = await evaluate(async (q, o) => (await top(engine, q, 3, o)).slugs,
      QUERIES.filter((q) => !FIRST_SET.has(q.kind)));
    console.log(report(r).replace(/^/gm, '# '));
    assert.deepEqual([...r.kinds.keys()].sort(), Object.keys(PER_KIND).sort());
    for (const [kind, k] of r.kinds) {
      assert.ok(k.total >= 10, `${kind}: ${k.total} queries`);
      assert.ok(k.pass / k.total >= PER_KIND[kind], `${kind}: ${k.pass}/${k.total} < ${PER_KIND[kind]}`);
    }
  });

  test('the lexicon: the words people use find the guide\'s service', async () => {
    for (const [q, slug] of [['sedia a rotelle', 'ausili-e-protesi'], ['wheelchair', 'ausili-e-protesi'],
      ['la B2', 'misura-b2'], ['meals on wheels', 'pasti-a-domicilio'], ['il RdC', 'assegno-di-inclusione']]) {
      const { slugs, res } = await top(engine, q, 1);
      assert.deepEqual(slugs, [slug], q);
      assert.ok(res.words.some((w) => w.lex), q);
    }
    // a frame's words are left out: "sapere" (Snowball: "sap") is no SAP, "fa" no content
    const r = await engine.search('vorrei sapere come si fa il telesoccorso');
    assert.deepEqual(r.words.map((w) => w.term), ['telesoccors']);
    // ...unless nothing else is left
    assert.deepEqual((await engine.search('vorrei sapere')).words.map((w) => w.term), ['sap']);
  });

  test('question frames never outrank the content words of a long question', async () => {
    for (const [question, words] of [
      ['dove si fa la domanda per il telesoccorso', 'telesoccorso'],
      ["vorrei sapere se spetta il bonus per l'acqua", "bonus per l'acqua"],
      ['quanto tempo ci vuole per avere la carta acquisti', 'carta acquisti'],
      ['cosa serve per fare la domanda di invalidità civile', 'invalidità civile'],
      ['how do I get a wheelchair for my father', 'wheelchair'],
    ]) {
      const long = (await top(engine, question, 1)).slugs;
      assert.deepEqual(long, (await top(engine, words, 1)).slugs, question);
    }
    // "sapere" (Snowball's "sap") no longer finds the SAP housing service
    const { slugs } = await top(engine, "vorrei sapere se spetta il bonus per l'acqua");
    assert.ok(!slugs.includes('case-popolari-sap'), slugs.join());
  });

  test('a stated age ranks the services it admits above those whose age condition excludes it', async () => {
    assert.equal(statedAge('ho 70 anni'), 70);
    assert.equal(statedAge('mia madre è una 76enne'), 76);
    assert.equal(statedAge('father 80 years old'), 80);
    assert.equal(statedAge('legge 104'), null);
    // both sides of a threshold: canone RAI from 75 (age_min = 75), the day centre from 65
    for (const [q, slug, first] of [
      ['canone tv ho 75 anni', 'esenzione-canone-rai', true],
      ['canone tv ho 74 anni', 'esenzione-canone-rai', false],
      ['centro diurno ho 65 anni', 'centro-diurno-integrato', true],
      ['centro diurno ho 64 anni', 'centro-diurno-integrato', false],
      ['ho 17 anni e una disabilità, cerco lavoro', 'collocamento-mirato', true],
      ['ho 15 anni e una disabilità, cerco lavoro', 'collocamento-mirato', false],
    ]) {
      const { slugs, res } = await top(engine, q, 40);
      assert.ok(slugs.includes(slug), `${q}: excluded services are still listed`);
      assert.equal(slugs[0] === slug, first, `${q}: ${slugs.slice(0, 3).join(', ')}`);
      assert.ok(res.conditions.size > 0);
    }
    // without an age the conditions do not rank
    assert.equal((await engine.search('centro diurno')).conditions.size, 0);
  });

  test('a stated invalidity or ISEE ranks like an age (invalidity_min, isee_max)', async () => {
    assert.equal(statedInvalidity('invalidità al 100%'), 100);
    assert.equal(statedInvalidity('invalido 70 per cento'), 70);
    assert.equal(statedInvalidity('sono invalida al 46'), 46);
    assert.equal(statedInvalidity('legge 104'), null);
    assert.equal(statedIsee('ho un ISEE di 5.000 euro'), 5000);
    assert.equal(statedIsee('isee sotto 9000'), 9000);
    assert.equal(statedIsee('isee'), null);
    // indennità di accompagnamento: invalidity_min = 100 in the example guide
    const first = async (e, q) => (await top(e, q, 1)).slugs[0];
    assert.equal(await first(engine, 'aiuto economico INPS invalidità al 100%'), 'indennita-di-accompagnamento');
    assert.notEqual(await first(engine, 'aiuto economico INPS invalidità al 99%'), 'indennita-di-accompagnamento');
    // an ISEE threshold set on a copy of the guide (the example states none in numbers)
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sportello-isee-'));
    try {
      const content = path.join(dir, 'content');
      await fsp.cp(CONTENT, content, { recursive: true });
      const entry = path.join(content, 'services/bonus-sociale-luce-gas.md');
      const text = await fsp.readFile(entry, 'utf8');
      await fsp.writeFile(entry, text.replace('cost = "free"\n', 'cost = "free"\nisee_max = 9530\n'));
      const site = path.join(dir, 'site');
      await buildGuide(site, { content });
      const e = engineFor(site);
      assert.equal(await first(e, 'sconto bollette ISEE 9.530 euro'), 'bonus-sociale-luce-gas');
      const { slugs, res } = await top(e, 'sconto bollette ISEE 9.531 euro', 40);
      assert.notEqual(slugs[0], 'bonus-sociale-luce-gas');
      assert.ok(slugs.includes('bonus-sociale-luce-gas'));
      const id = [...res.conditions.keys()][0];
      assert.deepEqual(res.conditions.get(id), [{ kind: 'isee', fits: false, vars: { max: '9.530' } }]);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  test('a first query with a lexicon hit reads at most 2 KB of lexicon, only its words\' files', async () => {
    const gz = async (f) => zlib.gzipSync(await fsp.readFile(f), { level: 9 }).length;
    let most = 0;
    for (const q of QUERIES.map((x) => x.q)) {
      const e = engineFor(siteDir);
      await e.search(q);
      const lex = [...new Set(e.read.filter((f) => f.includes(`${path.sep}l${path.sep}`)))];
      assert.ok(lex.length <= rawWordsCount(q), `${q}: ${lex.length} lexicon files`);
      let bytes = 0;
      for (const f of lex) bytes += await gz(f);
      if (rawWordsCount(q) <= 3) assert.ok(bytes <= 2048, `${q}: ${bytes} bytes of lexicon`);
      most = Math.max(most, bytes);
    }
    const e = engineFor(siteDir);
    const { res } = await top(e, 'sedia a rotelle');
    assert.ok(res.words[0].lex);
    const lex = e.read.filter((f) => f.includes(`${path.sep}l${path.sep}`));
    let bytes = 0;
    for (const f of lex) bytes += await gz(f);
    console.log(`# «sedia a rotelle»: ${lex.length} lexicon files, ${bytes} B gzip; most for any query: ${most} B`);
    assert.ok(bytes > 0 && bytes <= 2048, `${bytes}`);
  });

  test('an editor\'s lexicon in content/ extends the theme\'s, below an exact match', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sportello-lex-'));
    try {
      const content = path.join(dir, 'content');
      await fsp.cp(CONTENT, content, { recursive: true });
      await fsp.writeFile(path.join(content, 'lexicon.toml'),
        '[entries]\n"zzparolina" = ["telesoccorso"]\n"badante" = ["telesoccorso"]\n');
      const site = path.join(dir, 'site');
      await buildGuide(site, { content });
      const e = engineFor(site);
      assert.deepEqual((await top(e, 'zzparolina', 1)).slugs, ['telesoccorso']);
      // the services that have "badante" come before the one the lexicon adds
      const { slugs } = await top(e, 'badante', 10);
      const withWord = (await top(engine, 'badante', 10)).slugs;
      assert.ok(slugs.includes('telesoccorso'), slugs.join());
      assert.ok(slugs.indexOf('telesoccorso') >= withWord.filter((s) => s !== 'telesoccorso').length, slugs.join());
      assert.equal(slugs[0], withWord[0]);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  test('every service is found by its exact title', async () => {
    const titles = [];
    for (let g = 0; g * meta.group < meta.docs; g++) {
      const rows = JSON.parse(await fsp.readFile(path.join(siteDir, 'search/r', `${g}.json`), 'utf8'));
      titles.push(...rows.map(([title, url]) => ({ title, url })));
    }
    assert.equal(titles.length, meta.docs);
    const notFirst = [];
    for (const { title, url } of titles) {
      const res = await engine.search(title);
      const frags = await engine.fragments(res.ids.slice(0, 3));
      const urls = frags.map((f) => f.url);
      assert.ok(urls.includes(url), `«${title}» not in the top 3: ${urls.join(', ')}`);
      if (urls[0] !== url) notFirst.push(title);
    }
    assert.ok(notFirst.length <= 2, `not first: ${notFirst.join('; ')}`);
  });

  test('a typo gets a "Forse cercavi" suggestion, a known word does not', async () => {
    const typo = await engine.search('telesocorso');
    assert.equal(typo.suggestion, 'telesoccorso');
    const known = await engine.search('telesoccorso');
    assert.equal(known.suggestion, null);
  });

  test('a typo in the first letters is found from the end of the word', async () => {
    const e = engineFor(siteDir);
    const typo = await e.search('vadante');
    assert.equal(typo.suggestion, 'badante');
    const files = e.read.map((f) => path.relative(path.join(siteDir, 'search'), f));
    assert.ok(files.some((f) => f.startsWith('e/')), files.join(' '));
    // a word in the dictionary never needs the ending shards
    const k = engineFor(siteDir);
    await k.search('badante');
    assert.ok(!k.read.some((f) => f.includes('/e/')), k.read.join(' '));
  });

  test('the ending shards hold every term of the dictionary, backwards', async () => {
    const ends = [];
    for (const first of ['', ...meta.ends]) {
      ends.push(...decodeEndings(await fsp.readFile(path.join(siteDir, 'search/e', `${fileName(first)}.bin`))));
    }
    const terms = [];
    for (const first of ['', ...meta.shards]) {
      terms.push(...decodeShard(await fsp.readFile(path.join(siteDir, 'search/t', `${fileName(first)}.bin`))).terms);
    }
    assert.ok(terms.length > 500);
    assert.deepEqual(ends.map(reversed).sort(), [...terms].sort());
    assert.equal(reversed('città'), 'àttic');
  });

  test('filters by category and audience', async () => {
    const all = await engine.search('anziani');
    const cat = await engine.search('anziani', { category: 'mobilita-trasporti' });
    assert.ok(cat.ids.length > 0 && cat.ids.length < all.ids.length);
    for (const f of await engine.fragments(cat.ids)) assert.equal(f.category, 'Mobilità e trasporti');
    const aud = await engine.search('affitto', { audience: 'persone-sole' });
    assert.ok(aud.ids.length < (await engine.search('affitto')).ids.length);
  });

  test('a query reads only the files it needs', async () => {
    const e = engineFor(siteDir);
    await top(e, 'badante');
    const files = e.read.map((f) => path.relative(path.join(siteDir, 'search'), f));
    assert.ok(files.includes('meta.json'));
    assert.ok(files.length <= 6, files.join(' '));
    assert.ok(!files.some((f) => f.startsWith('f/')), 'facets are read only when filtering');
  });
});

describe('the English edition\'s own index (search/en/)', () => {
  const EN_QUERIES = JSON.parse(fs.readFileSync(path.join(HERE, 'queries.en.json'), 'utf8'));
  let en;
  before(async () => {
    en = engineFor(siteDir, 'search/en');
    await en.meta();
  });

  test('an English index, of the English pages; the Italian index unchanged', async () => {
    const m = await en.meta();
    assert.equal(m.language, 'en');
    assert.equal(meta.language, undefined);
    assert.ok(m.stopwords.includes('the') && !m.stopwords.includes('della'));
    assert.deepEqual(m.overrides, {}, 'the Italian families are not applied to English words');
    const { frags } = await top(en, 'meals on wheels', 1);
    assert.match(frags[0].url, /\/en\/services\/pasti-a-domicilio\/$/);
    assert.equal(frags[0].title, 'Pasti a domicilio (meals at home)');
  });

  test('English queries on the English index: top-3 floors (queries.en.json written for it, and the English kind)', async () => {
    const fresh = await evaluate(async (q, o) => (await top(en, q, 3, o)).slugs, EN_QUERIES);
    console.log(report(fresh).replace(/^/gm, '# '));
    assert.ok(fresh.total >= 20 && fresh.pass >= 17, `${fresh.pass}/${fresh.total} < 17/20`);
    const english = await evaluate(async (q, o) => (await top(en, q, 3, o)).slugs,
      QUERIES.filter((q) => q.kind === 'english'));
    console.log(report(english).replace(/^/gm, '# '));
    assert.ok(english.pass >= 18, `${english.pass}/${english.total} < 18/18`);
  });

  test('typing: a service that has the last word as typed is no prefix match because a longer word scores more', async () => {
    // "care" is in every English category name, "carer" in the home care entry's keywords
    const { slugs } = await top(en, 'home care', 3, { typing: true });
    assert.ok(slugs.includes('assistenza-domiciliare'), slugs.join(', '));
  });

  test('Snowball English: inflected forms stem alike', async () => {
    const p = new Pipeline(await en.meta());
    assert.equal(p.term('services'), p.term('service'));
    assert.equal(p.term('living'), p.term('live'));
    assert.equal(p.term('disabilities'), p.term('disability'));
    assert.equal(p.term('the'), null);
  });
});

describe('Rust and JS text pipelines', () => {
  test('English: same term and same Snowball English stem for every word of the English edition', async () => {
    const vocab = await runTool(['vocab-en']);
    assert.ok(vocab.length > 1000, `${vocab.length} words`);
    const p = new Pipeline(JSON.parse(await fsp.readFile(path.join(siteDir, 'search/en/meta.json'), 'utf8')));
    const diff = [];
    for (const [word, term, stem] of vocab) {
      if (p.term(word) !== term) diff.push(`${word}: term rust ${term} js ${p.term(word)}`);
      if (snowballEnglish(word) !== stem) diff.push(`${word}: snowball rust ${stem} js ${snowballEnglish(word)}`);
    }
    assert.deepEqual(diff.slice(0, 20), [], `${diff.length} differences`);
  });

  test('English: same Snowball English stem for inflected forms (every step of the algorithm)', async () => {
    const vocab = await runTool(['vocab-en']);
    const suffixes = ('s es ies ied ed ing ingly edly eed eedly ly ness ful fulness ization ational tional ation ' +
      'ator alism aliti alli ousli ousness iveness iviti biliti bli ogi fulli lessli li alize icate iciti ical ' +
      'ative al ance ence er ic able ible ant ement ment ent ism ate iti ous ive ize ion sion tion e l ll y ' +
      'at bl iz bb dd ff gg mm nn pp rr tt').split(' ');
    const words = new Set();
    for (const [word] of vocab) {
      if (!/^[a-z]+$/.test(word)) continue;
      words.add(word);
      const base = snowballEnglish(word);
      for (const s of suffixes) {
        words.add(base + s);
        words.add(word + s);
      }
    }
    // the exceptions, the prefixes of R1, y after a vowel, short words and syllables
    for (const w of ('skis skies dying lying tying idly gently ugly early only singly sky news howe atlas ' +
      'cosmos bias andes inning innings outing canning herring earring proceed exceed succeed generously ' +
      'communication arsenal yes say says sayy yyy toy toys cry by ab abs gas gaps ties cries hoping hopping ' +
      'hoped bled sized fizzed agreed feed fly flies').split(' ')) words.add(w);
    const list = [...words];
    const rust = await runTool(['stem-en'], list.join('\n') + '\n');
    assert.equal(rust.length, list.length);
    const diff = rust.filter(([w, s]) => snowballEnglish(w) !== s).map(([w, s]) => `${w}: rust ${s} js ${snowballEnglish(w)}`);
    assert.deepEqual(diff.slice(0, 20), [], `${diff.length} of ${list.length} differ`);
    console.log(`# ${list.length} words stemmed identically by Snowball English`);
  });

  test('same term for every word of the example guide', async () => {
    const vocab = await runTool(['vocab']);
    assert.ok(vocab.length > 1000, `${vocab.length} words`);
    const p = new Pipeline(meta);
    const diff = [];
    for (const [word, term, stem] of vocab) {
      if (fold(word) !== word) diff.push(`${word}: fold ${fold(word)}`);
      if (p.term(word) !== term) diff.push(`${word}: term rust ${term} js ${p.term(word)}`);
      if (snowball(word) !== stem) diff.push(`${word}: snowball rust ${stem} js ${snowball(word)}`);
    }
    assert.deepEqual(diff.slice(0, 20), [], `${diff.length} differences`);
  });

  test('same Snowball stem for inflected forms (every suffix rule)', async () => {
    const vocab = await runTool(['vocab']);
    const suffixes = ('a e i o à è ì ò ù ando endo are ere ire arono ato ata ati ate ito ita uto ' +
      'iamo avano evano ivano erebbe irebbe isco iscono ità mente amente ativamente osamente ' +
      'abilmente icità abilità ività azione azioni atrice atore icazione logia logie uzione usione ' +
      'enza enze amento imento ismo ista istà oso osa ivo iva ativo icativo abile ibile anza ' +
      'andogli endola arci erlo irsi arsene glielo ch che chi ghe ghi io ia ie cia gia').split(' ');
    const words = new Set();
    for (const [word] of vocab) {
      if (!/^[a-z]+$/.test(word)) continue;
      words.add(word);
      const base = snowball(word);
      for (const s of suffixes) words.add(base + s);
    }
    for (const w of ['qualità', 'aiuola', 'quieto', 'guardandogli', 'accomodarci', 'crocchi', 'crocchio',
      'ártico', 'perché', 'cucchiaio', 'aiuto', 'buio', 'paura', 'uovo', 'ieri', 'iu', 'a', 'qu']) words.add(w);
    const list = [...words];
    const rust = await runTool(['stem'], list.join('\n') + '\n');
    assert.equal(rust.length, list.length);
    const diff = rust.filter(([w, s]) => snowball(w) !== s).map(([w, s]) => `${w}: rust ${s} js ${snowball(w)}`);
    assert.deepEqual(diff.slice(0, 20), [], `${diff.length} of ${list.length} differ`);
    console.log(`# ${list.length} words stemmed identically`);
  });
});

describe('in the browser', () => {
  let browser;
  let ctx;
  const origin = () => server.url;

  before(async () => {
    browser = await chromium.launch(launchOptions());
  });
  after(async () => {
    await browser?.close();
  });

  /** A page served with a strict CSP, recording errors and foreign requests. */
  async function open(pathname, { js = true } = {}) {
    ctx = await browser.newContext({ javaScriptEnabled: js });
    const page = await ctx.newPage();
    const problems = [];
    const requests = [];
    page.on('request', (r) => requests.push(r));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('request', (r) => {
      if (!r.url().startsWith(origin() + '/')) problems.push(`request to ${r.url()}`);
    });
    await page.route('**/*', async (route) => {
      let response;
      try {
        response = await route.fetch();
      } catch (err) {
        // a request still in flight when a test closes its context (a page
        // opened by the last click loading its styles): nothing to answer
        if (/disposed|closed/.test(String(err))) return;
        throw err;
      }
      const headers = { ...response.headers() };
      if ((headers['content-type'] || '').startsWith('text/html')) headers['content-security-policy'] = CSP;
      await route.fulfill({ response, headers }).catch((err) => {
        if (!/disposed|closed/.test(String(err))) throw err;
      });
    });
    await page.goto(origin() + pathname, { waitUntil: 'load' });
    return { page, problems, requests };
  }

  async function axe(page) {
    // evaluated through the DevTools protocol, which the page's CSP does not block
    await page.evaluate(await fsp.readFile(AXE, 'utf8'));
    const r = await page.evaluate(() =>
      // eslint-disable-next-line no-undef
      axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
    );
    return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }

  test('the English home: an English query reads the English index and finds the English page, announced in English', async () => {
    const { page, problems, requests } = await open('/en/');
    const input = page.getByLabel('Search for a service');
    await input.click();
    await input.pressSequentially('home care', { delay: 60 });
    const hit = page.locator('#q-results .search-item a[href*="/en/services/assistenza-domiciliare/"]').first();
    await hit.waitFor();
    assert.match(await hit.textContent(), /home care/);
    await page.waitForFunction(() => /results? for “home care”/.test(document.querySelector('#q-results [role="status"]').textContent));
    const index = requests.map((r) => new URL(r.url()).pathname).filter((p) => p.startsWith('/search/'));
    assert.ok(index.includes('/search/en/meta.json'), index.join(' '));
    assert.ok(index.every((p) => p.startsWith('/search/en/')), `the Italian index read: ${index.join(' ')}`);
    assert.deepEqual(problems, []);
  });

  test('typing on the home page shows results and announces their number', async () => {
    const { page, problems, requests } = await open('/');
    const input = page.getByLabel('Cerca un servizio');
    await input.click();
    await input.pressSequentially('badante', { delay: 60 });
    const first = page.locator('#q-results .search-item a').first();
    await first.waitFor();
    assert.match(await first.textContent(), /Bonus assistenti familiari/);
    const status = page.locator('#q-results [role="status"]');
    await page.waitForFunction(() => /risultat[io] per «badante»/.test(document.querySelector('#q-results [role="status"]').textContent));
    assert.match(await status.textContent(), /^\d+ risultat[io] per «badante»$/);
    const item = page.locator('#q-results .search-item').first();
    assert.ok((await item.locator('.search-summary').textContent()).length > 20, 'a summary');
    assert.ok((await item.locator('.meta').textContent()).length > 3, 'a category');
    // keyboard: down arrow from the box to the results, Enter opens one
    await input.press('ArrowDown');
    assert.equal(await page.evaluate(() => document.activeElement.closest('.search-item') !== null), true);
    assert.deepEqual(await axe(page), []);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/servizi\//);
    // meta.json is revalidated; every other index file carries its version
    const index = requests.map((r) => ({ r, u: new URL(r.url()) })).filter((x) => x.u.pathname.startsWith('/search/'));
    const metaReq = index.find((x) => x.u.pathname === '/search/meta.json');
    const others = index.filter((x) => x !== metaReq);
    assert.ok(others.length >= 2, index.map((x) => x.u.pathname).join(' '));
    for (const { u } of others) assert.equal(u.searchParams.get('v'), meta.version, u.href);
    assert.match(meta.version, /^[0-9a-f]{16}$/);
    assert.deepEqual(problems, []);
    await ctx.close();
  });

  test('a typo shows "Forse cercavi", and the header box works on any page', async () => {
    const { page, problems } = await open('/servizi/isee/');
    const input = page.locator('#q-header');
    await input.pressSequentially('telesocorso', { delay: 30 });
    const suggest = page.locator('#q-header-results .search-suggest');
    await suggest.waitFor();
    assert.match(await suggest.textContent(), /Forse cercavi telesoccorso/);
    await page.locator('#q-header-results .search-item a', { hasText: 'Telesoccorso' }).first().waitFor();
    assert.deepEqual(await axe(page), []);
    assert.deepEqual(problems, []);
    await ctx.close();
  });

  test('/cerca/?q= deep link, filters, and zero axe violations', async () => {
    const { page, problems } = await open('/cerca/?q=anziani');
    await page.locator('#q-results .search-item').first().waitFor();
    assert.equal(await page.inputValue('#q'), 'anziani');
    assert.equal(await page.locator('[data-nojs]').isHidden(), true);
    await page.waitForFunction(() => /risultati per «anziani»/.test(document.querySelector('#q-results [role="status"]').textContent));
    const before = await page.locator('#q-results [role="status"]').textContent();
    await page.selectOption('#q-category', { label: 'Mobilità e trasporti' });
    await page.waitForFunction((b) => {
      const t = document.querySelector('#q-results [role="status"]').textContent;
      return t && t !== b;
    }, before);
    const cats = await page.locator('#q-results .search-item .meta').allTextContents();
    assert.ok(cats.length > 0 && cats.every((c) => c === 'Mobilità e trasporti'), cats.join());
    assert.match(page.url(), /[?&]c=mobilita-trasporti/);
    assert.deepEqual(await axe(page), []);
    assert.deepEqual(problems, []);
    await ctx.close();
  });

  test('a browser cache never mixes the index files of two builds', async () => {
    // A host that lets browsers keep every file for an hour; the guide is
    // rebuilt with a new title meanwhile. meta.json is revalidated and names
    // the new version, so the result fragments come from the new build.
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sportello-cache-'));
    const content = path.join(dir, 'content');
    const site = path.join(dir, 'site');
    await fsp.cp(CONTENT, content, { recursive: true });
    const caching = await start(site, { cacheControl: 'max-age=3600' });
    try {
      await buildGuide(site, { content, baseUrl: caching.url });
      ctx = await browser.newContext();
      const firstResult = async () => {
        const page = await ctx.newPage();
        await page.goto(`${caching.url}/cerca/?q=badante`);
        const first = page.locator('#q-results .search-item a').first();
        await first.waitFor();
        const title = (await first.textContent()).trim();
        await page.close();
        return title;
      };
      const title = 'Bonus assistenti familiari della Regione Lombardia';
      assert.equal(await firstResult(), title);
      const entry = path.join(content, 'services/bonus-assistenti-familiari.md');
      const text = await fsp.readFile(entry, 'utf8');
      assert.ok(text.includes(`title = "${title}"`));
      await fsp.writeFile(entry, text.replace(`title = "${title}"`, `title = "${title} (nuovo)"`));
      await buildGuide(site, { content, baseUrl: caching.url });
      assert.equal(await firstResult(), `${title} (nuovo)`);
      await ctx.close();
    } finally {
      await caching.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  test('a query stating an age says the age condition on the result', async () => {
    const { page, problems } = await open('/cerca/?q=' + encodeURIComponent('centro diurno ho 70 anni'));
    const first = page.locator('#q-results .search-item').first();
    await first.waitFor();
    assert.match(await first.locator('a').textContent(), /Centro diurno integrato/);
    assert.equal((await first.locator('.search-condition').textContent()).trim(), 'Per chi ha almeno 65 anni');
    assert.deepEqual(await axe(page), []);
    assert.deepEqual(problems, []);
    await ctx.close();
  });

  test('without JavaScript /cerca/ says so and offers categories and the A-Z list', async () => {
    const { page } = await open('/cerca/?q=badante', { js: false });
    const note = page.locator('[data-nojs]');
    assert.equal(await note.isVisible(), true);
    assert.match(await note.textContent(), /JavaScript/);
    assert.ok((await note.locator('a').count()) >= 3);
    assert.deepEqual(await axe2(page), []);
    await ctx.close();
  });

  // axe needs JavaScript in the page: check the no-JS page's static markup in a JS context.
  async function axe2(page) {
    const html = await page.content();
    const c = await browser.newContext();
    const p = await c.newPage();
    await p.route('**/*', (route) => {
      if (route.request().isNavigationRequest()) return route.fulfill({ body: html, contentType: 'text/html' });
      if (route.request().url().endsWith('/search.js')) return route.abort();
      return route.continue();
    });
    await p.goto(origin() + '/cerca/');
    const v = await axe(p);
    await c.close();
    return v;
  }
});
