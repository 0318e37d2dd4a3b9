// A real sportello-inbox for the browser tests: `init` into a temporary
// folder, loopback ports only, operators with PKCS#12 bundles, `serve`
// until /healthz answers. Also axe-core, run the same way by every test.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const AXE = path.join(HERE, 'node_modules/axe-core/axe.min.js');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
export const STAFF_KEY = path.join(HERE, 'fixtures/staff-test.asc'); // a synthetic test identity
export const run = promisify(execFile);

export function inboxBin() {
  if (process.env.SPORTELLO_INBOX_BIN) return path.resolve(process.env.SPORTELLO_INBOX_BIN);
  const target = process.env.CARGO_TARGET_DIR || path.join(REPO, 'target');
  for (const p of ['debug/sportello-inbox', 'release/sportello-inbox']) {
    const abs = path.join(target, p);
    if (fs.existsSync(abs)) return abs;
  }
  throw new Error('no sportello-inbox binary: run `cargo build -p sportello-inbox` or set SPORTELLO_INBOX_BIN');
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * Starts an inbox with the given operators ({ name, desk, role }) and
 * returns { bin, tmp, config, origin, bundles, stop }; `bundles[name]` is
 * { pfxPath, passphrase } for Chromium's clientCertificates. Options:
 * `staffKey` (a public key file; default a synthetic test key), and
 * `extra(tmp)`, called after `init`, returning TOML to append (sections
 * such as [staff] and [mail]).
 */
export async function startInbox(operators, { staffKey = STAFF_KEY, extra } = {}) {
  const bin = inboxBin();
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sportello-inbox-browser-'));
  const [https, health] = [await freePort(), await freePort()];
  await run(bin, ['init', '--dir', tmp, '--hostname', '127.0.0.1', '--port', String(https)]);
  const config = path.join(tmp, 'inbox.toml');
  let toml = await fsp.readFile(config, 'utf8');
  toml = toml
    .replace(/^listen = ".*"$/m, `listen = "127.0.0.1:${https}"`)
    .replace(/^health_listen = ".*"$/m, `health_listen = "127.0.0.1:${health}"`);
  if (extra) toml += await extra(tmp);
  await fsp.writeFile(config, toml);
  await run(bin, ['staff', 'add', '--config', config, '--name', 'Staff di prova', '--key', staffKey]);
  const bundles = {};
  for (const { name, desk, role } of operators) {
    const out = path.join(tmp, `${name.split(' ')[0].toLowerCase()}.p12`);
    const { stdout } = await run(bin, [
      'operator', 'add', '--config', config, '--name', name, '--desk', desk, '--out', out, '--role', role || 'operator',
    ]);
    bundles[name] = { pfxPath: out, passphrase: stdout.match(/^passphrase: (.+)$/m)[1].trim() };
  }
  const child = spawn(bin, ['serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const deadline = Date.now() + 30000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${health}/healthz`);
      if (r.ok) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`inbox did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    bin,
    tmp,
    config,
    origin: `https://127.0.0.1:${https}`,
    bundles,
    async stop() {
      child.kill();
      await fsp.rm(tmp, { recursive: true, force: true });
    },
  };
}

/** axe-core (WCAG 2.0/2.1 A and AA) on the page: 0 violations. */
export async function axe(page, label) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }),
    AXE_TAGS,
  );
  const report = result.violations
    .map((v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) => `   ${n.target.join(' ')} ${n.html}`).join('\n')}`)
    .join('\n');
  assert.equal(result.violations.length, 0, `${label}: axe violations\n${report}`);
}
