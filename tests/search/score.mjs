// Top-3 per kind of query on the example guide, the guide's search beside Pagefind 1.6.0 on
// the same built HTML: the quality half of bench.mjs, quick enough to run after every change.
//
//   node tests/search/score.mjs            # needs tests/search/bench/node_modules (bench.sh)
//
// Environment: SPORTELLO_BIN (default target/debug/sportello). Prints a Markdown table and
// the misses of both engines.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HERE, buildGuide, engineFor, top } from './lib.mjs';
import { QUERIES, evaluate, report } from './quality.mjs';

const PAGEFIND = path.join(HERE, 'bench/node_modules/.bin/pagefind');

async function pagefind(site) {
  await promisify(execFile)(PAGEFIND, ['--site', site, '--output-subdir', 'pagefind', '--glob', 'servizi/*/index.html'],
    { maxBuffer: 64 << 20 });
  const origin = 'http://127.0.0.1';
  globalThis.window ??= { location: { origin } };
  globalThis.location ??= { href: origin + '/' };
  globalThis.fetch = async (url) => {
    const file = path.join(site, decodeURIComponent(new URL(url, origin + '/').pathname));
    try {
      return new Response(await fsp.readFile(file), { status: 200 });
    } catch {
      return new Response('', { status: 404 });
    }
  };
  const pf = await import(pathToFileURL(path.join(site, 'pagefind/pagefind.js')).href);
  await pf.options({ basePath: origin + '/pagefind/' });
  await pf.init();
  return async (q) => {
    const r = await pf.search(q);
    const data = await Promise.all(r.results.slice(0, 3).map((x) => x.data()));
    return data.map((d) => d.url.split('/').filter(Boolean).pop());
  };
}

const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sportello-score-'));
try {
  const site = path.join(tmp, 'site');
  await buildGuide(site, { baseUrl: 'http://127.0.0.1' });
  const engine = engineFor(site);
  const ours = await evaluate(async (q, o) => (await top(engine, q, 3, o)).slugs);
  const pfSearch = await pagefind(site);
  const pf = await evaluate(pfSearch);
  const rows = ['| kind | sportello | Pagefind 1.6.0 |', '|---|---|---|'];
  for (const [kind, k] of ours.kinds) {
    const p = pf.kinds.get(kind);
    rows.push(`| ${kind} | ${k.pass}/${k.total} | ${p.pass}/${p.total} |`);
  }
  rows.push(`| **overall** | **${ours.pass}/${ours.total}** | **${pf.pass}/${pf.total}** |`);
  // queries marked `fresh`: written after the lexicon, never tuned for
  const fresh = QUERIES.filter((q) => q.fresh);
  const oursFresh = await evaluate(async (q, o) => (await top(engine, q, 3, o)).slugs, fresh);
  const pfFresh = await evaluate(pfSearch, fresh);
  rows.push(`| of which fresh | ${oursFresh.pass}/${oursFresh.total} | ${pfFresh.pass}/${pfFresh.total} |`);
  // heldout.json: written after the engine's changes, measured only (never asserted, never tuned for)
  const held = JSON.parse(await fsp.readFile(path.join(HERE, 'heldout.json'), 'utf8'));
  const oursHeld = await evaluate(async (q, o) => (await top(engine, q, 3, o)).slugs, held);
  const pfHeld = await evaluate(pfSearch, held);
  rows.push(`| held out (heldout.json) | ${oursHeld.pass}/${oursHeld.total} | ${pfHeld.pass}/${pfHeld.total} |`);
  for (const [kind, k] of oursHeld.kinds) {
    rows.push(`| held out: ${kind} | ${k.pass}/${k.total} | ${pfHeld.kinds.get(kind).pass}/${k.total} |`);
  }
  held.failures = oursHeld.failures;
  console.log(rows.join('\n'));
  console.log('\n' + report(ours));
  for (const f of held.failures) console.log(`  held-out miss [${f.kind}] «${f.q}»: want ${f.expect.join(', ')}; got ${f.got.join(', ')}`);
  console.log('\n' + report(pf, 'Pagefind').split('\n').filter((l) => !l.startsWith('  miss')).join('\n'));
} finally {
  await fsp.rm(tmp, { recursive: true, force: true });
}
