// The closed loop in a real browser: an operator (PKCS#12 in Chromium)
// submits a referral; the inbox mails it over STARTTLS to a real aiosmtpd
// on 127.0.0.1, which writes a Maildir; the staff's secret key (made here
// with GnuPG) decrypts the mail with gpg and with rnp (Thunderbird's
// engine) and finds the link; Chromium without any client certificate
// opens the staff page and sets "presa in carico"; the operator's list and
// the desk referent's list show it. axe-core on the staff page (before and
// after), its 404 page and both lists.
//
// Environment: SPORTELLO_INBOX_BIN (default target/debug/sportello-inbox), CHROMIUM.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { launchOptions } from './chromium.mjs';
import { startInbox, freePort, axe, run } from './inbox-server.mjs';

let inbox, keys, smtp, maildir, origin, staffOrigin, browser, gnupg;

async function gpg(...args) {
  return run('gpg', ['--homedir', gnupg, '--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', ...args]);
}

/** The Python that has aiosmtpd: python3 on PATH, else Debian's (PEP 668). */
async function aiosmtpdPython() {
  for (const py of [process.env.SPORTELLO_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)) {
    try {
      await run(py, ['-c', 'import aiosmtpd']);
      return py;
    } catch { /* next */ }
  }
  throw new Error('aiosmtpd is missing: apt-get install python3-aiosmtpd');
}

async function waitForPort(port, what) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  // The staff's key pair, as the staff would make it (synthetic identity).
  keys = await fsp.mkdtemp(path.join(os.tmpdir(), 'sportello-care-keys-'));
  gnupg = path.join(keys, 'gnupg');
  await fsp.mkdir(gnupg, { mode: 0o700 });
  await gpg('--quick-gen-key', 'Staff di prova <staff@comune.example>', 'ed25519', 'sign,cert', '1y');
  const { stdout: list } = await gpg('--with-colons', '--list-keys', 'staff@comune.example');
  const fpr = list.match(/^fpr:+([0-9A-F]+):/m)[1];
  await gpg('--quick-add-key', fpr, 'cv25519', 'encr', '1y');
  const { stdout: pub } = await gpg('--armor', '--export', fpr);
  const staffKey = path.join(keys, 'staff.asc');
  await fsp.writeFile(staffKey, pub);

  const [staff, smtpPort] = [await freePort(), await freePort()];
  staffOrigin = `https://127.0.0.1:${staff}`;
  inbox = await startInbox(
    [
      { name: 'Giulia Esempio', desk: 'cgil-via-mantova' },
      { name: 'Marta Esempio', desk: 'cgil-via-mantova', role: 'referent' },
    ],
    {
      staffKey,
      // The mail server: aiosmtpd with STARTTLS, using the certificate
      // `init` issued for 127.0.0.1 (the inbox then trusts only that CA).
      extra: async (tmp) => {
        maildir = path.join(tmp, 'maildir');
        smtp = spawn(await aiosmtpdPython(), [
          '-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${smtpPort}`,
          '--tlscert', path.join(tmp, 'data', 'server.pem'), '--tlskey', path.join(tmp, 'data', 'server.key'),
          '-c', 'aiosmtpd.handlers.Mailbox', maildir,
        ], { stdio: 'ignore' });
        await waitForPort(smtpPort, 'aiosmtpd');
        return `
[staff]
listen = "127.0.0.1:${staff}"
public_url = "${staffOrigin}"
offices = [{ slug = "servizi-territoriali", label = "Servizi sociali territoriali" }]

[mail]
host = "127.0.0.1"
port = ${smtpPort}
security = "starttls"
ca_file = "data/ca.pem"
from = "Sportello Inbox <inbox@comune.example>"
to = ["Staff di prova <staff@comune.example>"]
admin = "admin@comune.example"
`;
      },
    },
  );
  origin = inbox.origin;
  browser = await chromium.launch(launchOptions());
});

after(async () => {
  await browser?.close();
  await inbox?.stop();
  smtp?.kill();
  if (keys) await fsp.rm(keys, { recursive: true, force: true });
});

function operatorContext(name) {
  return browser.newContext({
    ignoreHTTPSErrors: true, // the server certificate comes from the inbox's own test CA
    bypassCSP: true, // for axe's injected script; the CSP itself is checked below
    clientCertificates: [{ origin, ...inbox.bundles[name] }],
  });
}

/** The mail for `reference` in the Maildir, as the staff's server received it. */
async function mailed(reference) {
  const deadline = Date.now() + 30000;
  for (;;) {
    for (const dir of ['new', 'cur']) {
      let names = [];
      try { names = await fsp.readdir(path.join(maildir, dir)); } catch { /* not yet */ }
      for (const n of names) {
        const text = await fsp.readFile(path.join(maildir, dir, n), 'utf8');
        if (text.includes(`Subject: Segnalazione ${reference} `)) return text;
      }
    }
    if (Date.now() > deadline) throw new Error(`no mail for ${reference} in ${maildir}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The decrypted MIME entity of the mail for `reference`, by gpg and by rnp. */
async function decryptMailed(reference) {
  const mail = await mailed(reference);
  assert.match(mail, /^Content-Type: multipart\/encrypted;/m, 'PGP/MIME');
  assert.doesNotMatch(mail.split(/\r?\n\r?\n/)[0], /Maria|Esempio|0372/, 'no personal data in the headers');
  const armored = mail.match(/-----BEGIN PGP MESSAGE-----[\s\S]+?-----END PGP MESSAGE-----/)[0];
  const file = path.join(keys, `${reference}.asc`);
  await fsp.writeFile(file, armored);
  const { stdout } = await gpg('--decrypt', file);
  // rnp (Thunderbird's engine, another implementation) with the staff's
  // secret key exported to a file, as from Thunderbird's key manager.
  const rnpHome = path.join(keys, 'rnp-home');
  await fsp.mkdir(rnpHome, { recursive: true, mode: 0o700 });
  const secret = path.join(keys, 'staff-secret.asc');
  const { stdout: sec } = await gpg('--armor', '--export-secret-keys', 'staff@comune.example');
  await fsp.writeFile(secret, sec);
  const { stdout: byRnp } = await run('rnp', [
    '--homedir', rnpHome, '--keyfile', secret, '--decrypt', file, '--output', '-',
  ]);
  assert.equal(byRnp, stdout, 'rnp decrypts the same entity');
  return stdout;
}

test('the staff take charge from the link and the desk sees it', async () => {
  const op = await operatorContext('Giulia Esempio');
  const page = await op.newPage();
  await page.goto(`${origin}/`);
  for (const [name, value] of [
    ['first_name', 'Maria'], ['last_name', 'Esempio'], ['birth_year', '1941'], ['phone', '0372 000000'],
    ['description', 'Vive sola, chiede aiuto per la spesa.'],
  ]) {
    await page.locator(`[name="${name}"]`).fill(value);
  }
  for (const name of ['city_area', 'call_time', 'need_area']) {
    const el = page.locator(`select[name="${name}"]`);
    const values = await el.locator('option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
    await el.selectOption(values[0]);
  }
  await page.locator('[name="urgency"][value="urgent"]').check();
  await page.locator('[name="privacy_notice"]').check();
  await page.locator('[name="consent"]').check();
  await Promise.all([page.waitForNavigation(), page.locator('form button[type="submit"]').first().click()]);
  const reference = (await page.locator('main').innerText()).match(/SEG-\d{4}-\d{6}/)[0];

  // What only the staff can read: the link, after the text.
  const entity = await decryptMailed(reference);
  assert.match(entity, /multipart\/mixed/);
  const link = entity.match(/https:\/\/127\.0\.0\.1:\d+\/presa-in-carico\/[0-9a-f]{32}/)[0];
  assert.ok(link.startsWith(staffOrigin), link);

  // Chromium without any client certificate opens the staff page.
  const staff = await browser.newContext({ ignoreHTTPSErrors: true, bypassCSP: true });
  const sp = await staff.newPage();
  const res = await sp.goto(link);
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-security-policy'] || '', /default-src 'none'/);
  const before = await sp.locator('main').innerText();
  assert.match(before, new RegExp(reference));
  assert.match(before, /Urgente/);
  assert.match(before, /In attesa di presa in carico/);
  assert.doesNotMatch(await sp.content(), /Maria|Vive sola|0372/, 'no content on the staff page');
  await axe(sp, 'staff page');

  await sp.locator('#staff_name').fill('Anna Verdi');
  await sp.locator('#planned_contact').fill('2030-03-04');
  await Promise.all([sp.waitForNavigation(), sp.getByRole('button', { name: 'Prendi in carico' }).click()]);
  const after = await sp.locator('main').innerText();
  assert.match(after, /Presa in carico da Anna Verdi \(primo contatto previsto il 2030-03-04\)/);
  await axe(sp, 'staff page after presa in carico');

  // A link with one character changed: the plain 404 page.
  const last = link.at(-1) === '0' ? '1' : '0';
  const bad = await sp.goto(link.slice(0, -1) + last);
  assert.equal(bad.status(), 404);
  assert.doesNotMatch(await sp.content(), /SEG-/);
  await axe(sp, 'staff 404');
  await staff.close();

  // The operator's list shows who took it.
  await page.goto(`${origin}/segnalazioni`);
  const mine = await page.locator('main').innerText();
  assert.match(mine, /presa in carico da Anna Verdi/);
  await axe(page, 'le mie segnalazioni with the state');
  await op.close();

  // The desk's referent sees it too, with who sent it.
  const ref = await operatorContext('Marta Esempio');
  const rp = await ref.newPage();
  await rp.goto(`${origin}/segnalazioni`);
  const desk = await rp.locator('main').innerText();
  assert.match(desk, new RegExp(reference));
  assert.match(desk, /Giulia Esempio/);
  assert.match(desk, /presa in carico da Anna Verdi/);
  await axe(rp, 'the referent\'s list');
  await ref.close();
});
