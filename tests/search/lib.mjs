// Shared helpers of the search tests: build the guide, load the engine from disk.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SearchEngine } from '../../search/js/search.js';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../..');
export const CONTENT = path.resolve(process.env.SPORTELLO_CONTENT || path.join(REPO, 'content'));
export const THEME = path.resolve(process.env.SPORTELLO_THEME || path.join(REPO, 'themes/default'));

export function sportelloBin() {
  const bin = process.env.SPORTELLO_BIN || path.join(REPO, 'target/debug/sportello');
  if (!fs.existsSync(bin)) throw new Error(`no sportello binary at ${bin}: build it or set SPORTELLO_BIN`);
  return path.resolve(bin);
}

/** Builds `content` into `out`; returns the build's stderr (timings). */
export async function buildGuide(out, { content = CONTENT, baseUrl, timings = false } = {}) {
  const args = ['build', '--content', content, '--theme', THEME, '--output', out];
  if (baseUrl) args.push('--base-url', baseUrl);
  if (timings) args.push('--timings');
  try {
    const { stderr } = await promisify(execFile)(sportelloBin(), args, { cwd: REPO, maxBuffer: 64 << 20 });
    return stderr;
  } catch (err) {
    throw new Error(`sportello build failed:\n${err.stderr || err.message}`);
  }
}

/** A search engine reading the index of a built site from disk; counts what it reads. */
export function engineFor(siteDir, dir = 'search') {
  const read = [];
  const engine = new SearchEngine(path.join(siteDir, dir) + '/', async (url) => {
    const file = url.replace(/\?v=[0-9a-f]+$/, '');
    read.push(file);
    return new Uint8Array(await fsp.readFile(file));
  });
  engine.read = read;
  return engine;
}

/** Slugs of the top `k` results of a query. */
export async function top(engine, query, k = 3, opts = {}) {
  const res = await engine.search(query, opts);
  const frags = await engine.fragments(res.ids.slice(0, k));
  return { slugs: frags.map((f) => f.url.split('/').filter(Boolean).pop()), res, frags };
}
