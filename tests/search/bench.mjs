// Side-by-side benchmark of the guide's search and Pagefind 1.6.0 on the same built HTML:
// the example guide and a synthetic guide of N services (default 10,000). Run it through
// bench.sh. For each guide and engine it prints:
//
//   index     total size of the search files (each counted gzip-compressed, or as stored when
//             that is smaller: Pagefind's files are compressed already)
//   first     bytes a first query downloads, cold cache: client script + index files + the
//             fragments of the 10 results shown (gzip)
//   typing    bytes for typing a two-word query keystroke by keystroke, each keystroke a search
//             that shows 10 results (gzip, the browser cache kept between keystrokes)
//   p50/p95   query latency in Node, warm: search + the 10 fragments shown, over the query set
//   top-3     share of the query set (tests/search/queries.json) with the expected services in
//             the first three; per kind for the example guide
//   build     time to build the index, as a share of the guide's build time
//
// Environment: SPORTELLO_BIN, SEARCH_TOOL (release builds), BENCH_N (10000), BENCH_RUNS (3),
// BENCH_BUILD_RUNS (9: builds with and without the index, for what the index adds).

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { SearchEngine } from '../../search/js/search.js';
import { HERE, CONTENT, THEME, sportelloBin } from './lib.mjs';
import { QUERIES, evaluate } from './quality.mjs';

const N = Number(process.env.BENCH_N || 10000);
const RUNS = Number(process.env.BENCH_RUNS || 3);
const BUILD_RUNS = Number(process.env.BENCH_BUILD_RUNS || 9);
const PAGEFIND = path.join(HERE, 'bench/node_modules/.bin/pagefind');
const FIRST_QUERY = 'badante';
const TYPED_QUERY = 'assistenza domiciliare';
const SHOWN = 10;
const run = promisify(execFile);

const gz = new Map();
function wire(file) {
  let n = gz.get(file);
  if (n === undefined) {
    const raw = fs.readFileSync(file);
    n = Math.min(raw.length, zlib.gzipSync(raw, { level: 9 }).length);
    gz.set(file, n);
  }
  return n;
}
const sum = (files) => [...new Set(files)].reduce((a, f) => a + wire(f), 0);
const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
const ms = (x) => `${x.toFixed(2)} ms`;

function walk(dir, keep = () => true) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, keep));
    else if (keep(p)) out.push(p);
  }
  return out;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

// What the index adds to the build: the same guide built with and without it
// (`--no-search-index`), interleaved, median of each. The index is built on the
// pool's threads while the pages render, so its own duration would overstate it.
async function build(content, out) {
  const withIndex = [];
  const without = [];
  // Each variant rebuilds over its own previous output, as a rebuild does:
  // removing the old site is part of the build's time.
  const once = async (index) => {
    const args = ['build', '--content', content, '--theme', THEME, '--output', index ? out : `${out}-without-index`,
      '--base-url', 'http://127.0.0.1'];
    if (!index) args.push('--no-search-index');
    const t = performance.now();
    await run(sportelloBin(), args, { maxBuffer: 64 << 20 });
    return performance.now() - t; // wall clock of the whole `sportello build`
  };
  for (let i = 0; i < BUILD_RUNS; i++) {
    // alternate which goes first, so neither always meets a warmer machine
    if (i % 2) without.push(await once(false));
    withIndex.push(await once(true));
    if (!(i % 2)) without.push(await once(false));
  }
  await once(true); // leave the guide with its index, for what follows
  const build = median(withIndex);
  const bare = median(without);
  return { build, bare, index: build - bare };
}

async function pagefindIndex(site) {
  await fsp.rm(path.join(site, 'pagefind'), { recursive: true, force: true });
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await run(PAGEFIND, ['--site', site, '--output-subdir', 'pagefind', '--glob', 'servizi/*/index.html'],
      { maxBuffer: 64 << 20 });
    times.push(performance.now() - t);
  }
  return median(times);
}

// --- the two engines behind one interface: search(q, typing) -> slugs, recording files read ---

function ours(site) {
  const read = [];
  const dir = path.join(site, 'search') + '/';
  const engine = new SearchEngine(dir, async (url) => {
    const f = url.replace(/\?v=[0-9a-f]+$/, '');
    read.push(f);
    return new Uint8Array(await fsp.readFile(f));
  });
  return {
    read,
    // the results' CSS is part of style.css, which every page has already
    client: [path.join(HERE, '../../search/js/search.js')],
    async search(q, typing = false) {
      const res = await engine.search(q, { typing });
      const frags = await engine.fragments(res.ids.slice(0, SHOWN));
      return frags.map((f) => f.url.split('/').filter(Boolean).pop());
    },
  };
}

let pfInstance = 0;
async function pagefind(site) {
  const read = [];
  const origin = 'http://127.0.0.1';
  globalThis.window ??= { location: { origin } };
  globalThis.location ??= { href: origin + '/' };
  globalThis.fetch = async (url) => {
    const u = new URL(url, origin + '/');
    const file = path.join(site, decodeURIComponent(u.pathname));
    read.push(file);
    try {
      return new Response(await fsp.readFile(file), { status: 200 });
    } catch {
      return new Response('', { status: 404 });
    }
  };
  const script = path.join(site, 'pagefind/pagefind.js');
  const pf = await import(pathToFileURL(script).href + `?i=${pfInstance++}`);
  await pf.options({ basePath: origin + '/pagefind/' });
  await pf.init();
  return {
    read,
    client: [script],
    async search(q) {
      const r = await pf.search(q);
      const data = await Promise.all(r.results.slice(0, SHOWN).map((x) => x.data()));
      return data.map((d) => d.url.split('/').filter(Boolean).pop());
    },
  };
}

async function measure(make, site, { quality }) {
  // first query, cold
  let e = await make(site);
  e.read.length = 0;
  await e.search(FIRST_QUERY);
  const first = sum([...e.client, ...e.read]);
  // typing, cold, cache kept between keystrokes
  e = await make(site);
  e.read.length = 0;
  for (let i = 1; i <= TYPED_QUERY.length; i++) {
    const prefix = TYPED_QUERY.slice(0, i);
    if (prefix.trim()) await e.search(prefix, true);
  }
  const typing = sum([...e.client, ...e.read]);
  // latency, warm
  e = await make(site);
  for (const q of QUERIES) await e.search(q.q, !!q.typing);
  const times = [];
  for (const q of QUERIES) {
    const t = performance.now();
    await e.search(q.q, !!q.typing);
    times.push(performance.now() - t);
  }
  const out = { first, typing, p50: pct(times, 50), p95: pct(times, 95) };
  if (quality) out.quality = await evaluate((q, o) => e.search(q, o.typing));
  return out;
}

function indexSize(site, which) {
  if (which === 'ours') return sum(walk(path.join(site, 'search')));
  const files = walk(path.join(site, 'pagefind'), (p) => !/pagefind-(ui|modular-ui|component-ui|highlight)\./.test(p));
  return sum(files);
}

async function guide(name, content, quality) {
  const tmp = await fsp.mkdtemp(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'sportello-bench-'));
  const site = path.join(tmp, 'site');
  try {
    process.stderr.write(`${name}: building with and without the index (${BUILD_RUNS} runs each)…\n`);
    const b = await build(content, site);
    process.stderr.write(`${name}: pagefind (${RUNS} runs)…\n`);
    const pfTime = await pagefindIndex(site);
    const services = walk(path.join(site, 'servizi'), (p) => p.endsWith('index.html')).length - 1;
    process.stderr.write(`${name}: measuring…\n`);
    const a = await measure(ours, site, { quality });
    const p = await measure(pagefind, site, { quality });
    return {
      name, services,
      rows: [
        ['', 'sportello', 'Pagefind 1.6.0'],
        ['index size (gzip)', kb(indexSize(site, 'ours')), kb(indexSize(site, 'pf'))],
        [`first query «${FIRST_QUERY}» (gzip, cold, client included)`, kb(a.first), kb(p.first)],
        [`typing «${TYPED_QUERY}» keystroke by keystroke`, kb(a.typing), kb(p.typing)],
        ['query latency p50 / p95 (Node, warm)', `${ms(a.p50)} / ${ms(a.p95)}`, `${ms(p.p50)} / ${ms(p.p95)}`],
        [`time the index adds to the build (${ms(b.bare)} without it)`,
          `+${ms(b.index)} = +${((100 * b.index) / b.bare).toFixed(0)}%`,
          `+${ms(pfTime)} = +${((100 * pfTime) / b.bare).toFixed(0)}%`],
      ],
      quality: quality && [a.quality, p.quality],
    };
  } finally {
    if (!process.env.BENCH_KEEP) await fsp.rm(tmp, { recursive: true, force: true });
    else process.stderr.write(`kept ${tmp}\n`);
  }
}

function table(rows) {
  const out = [`| ${rows[0].join(' | ')} |`, `|${rows[0].map(() => '---').join('|')}|`];
  for (const r of rows.slice(1)) out.push(`| ${r.join(' | ')} |`);
  return out.join('\n');
}

const results = [];
results.push(await guide(`example guide (content/)`, CONTENT, true));
const synthDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sportello-synth-'));
try {
  const tool = process.env.SEARCH_TOOL || path.join(path.dirname(sportelloBin()), 'examples', 'search_tool');
  await run(tool, ['synth', path.join(synthDir, 'content'), String(N)]);
  results.push(await guide(`synthetic guide`, path.join(synthDir, 'content'), false));
} finally {
  await fsp.rm(synthDir, { recursive: true, force: true });
}

console.log(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; median of ${BUILD_RUNS} builds, of ${RUNS} Pagefind runs\n`);
for (const r of results) {
  console.log(`### ${r.name}: ${r.services} services\n`);
  console.log(table(r.rows));
  if (r.quality) {
    const [a, p] = r.quality;
    const rows = [['top-3 on the query set', 'sportello', 'Pagefind 1.6.0']];
    for (const [kind, k] of a.kinds) {
      const pk = p.kinds.get(kind);
      rows.push([kind, `${k.pass}/${k.total}`, `${pk.pass}/${pk.total}`]);
    }
    rows.push(['**overall**', `**${(100 * a.rate).toFixed(1)}%**`, `**${(100 * p.rate).toFixed(1)}%**`]);
    console.log('\n' + table(rows));
  }
  console.log('');
}
