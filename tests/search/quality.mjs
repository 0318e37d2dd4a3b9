// The quality measure: top-3 rate per kind of query over tests/search/queries.json.

import fs from 'node:fs';
import path from 'node:path';
import { HERE } from './lib.mjs';

export const QUERIES = JSON.parse(fs.readFileSync(path.join(HERE, 'queries.json'), 'utf8'));

/**
 * Runs every query through `search(query, {typing}) -> Promise<slug[]>` (best first).
 * A query passes when every expected slug is among the first three.
 */
export async function evaluate(search, queries = QUERIES) {
  const kinds = new Map();
  const failures = [];
  for (const q of queries) {
    const got = (await search(q.q, { typing: !!q.typing })).slice(0, 3);
    const ok = q.expect.every((s) => got.includes(s));
    const k = kinds.get(q.kind) || { pass: 0, total: 0 };
    k.total++;
    if (ok) k.pass++;
    else failures.push({ ...q, got });
    kinds.set(q.kind, k);
  }
  const pass = [...kinds.values()].reduce((a, k) => a + k.pass, 0);
  return { kinds, pass, total: queries.length, rate: pass / queries.length, failures };
}

export function report({ kinds, pass, total, failures }, name = 'sportello') {
  const lines = [`top-3 (${name}):`];
  for (const [kind, k] of kinds) {
    lines.push(`  ${kind.padEnd(11)} ${String(k.pass).padStart(3)}/${String(k.total).padEnd(3)} ${((100 * k.pass) / k.total).toFixed(0)}%`);
  }
  lines.push(`  ${'overall'.padEnd(11)} ${String(pass).padStart(3)}/${String(total).padEnd(3)} ${((100 * pass) / total).toFixed(1)}%`);
  for (const f of failures) lines.push(`  miss [${f.kind}] «${f.q}»: want ${f.expect.join(', ')}; got ${f.got.join(', ')}`);
  return lines.join('\n');
}
