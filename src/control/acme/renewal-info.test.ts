import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parseRenewalWindow, pickInWindow, renewalCertificateId } from './renewal-info.js';

const run = promisify(execFile);

test('the ARI certificate id is the authority key identifier and the serial octets, base64url (RFC 9773 §4.1)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-ari-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const f = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=ARI test CA',
  ]);
  await run('openssl', ['req', ...ec, '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=ari.test']);
  await writeFile(f('ext.cnf'), 'authorityKeyIdentifier=keyid\nsubjectAltName=DNS:ari.test\n');
  // The RFC's example serial: a leading zero octet that the DER encoding keeps.
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    f('leaf.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-set_serial',
    '0x87654321',
    '-days',
    '1',
    '-out',
    f('leaf.pem'),
    '-extfile',
    f('ext.cnf'),
  ]);
  const { stdout } = await run('openssl', ['x509', '-in', f('leaf.pem'), '-noout', '-ext', 'authorityKeyIdentifier']);
  const aki = Buffer.from(/([0-9A-F]{2}(:[0-9A-F]{2})+)/.exec(stdout)![1]!.replace(/:/g, ''), 'hex');
  const id = renewalCertificateId(await readFile(f('leaf.pem'), 'utf8'));
  assert.equal(id, `${aki.toString('base64url')}.AIdlQyE`);
});

test('the suggested window is read, and a renewal time is picked inside it', () => {
  const window = parseRenewalWindow({
    suggestedWindow: { start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z' },
  });
  assert.deepEqual(window, { start: Date.parse('2026-01-01T00:00:00Z'), end: Date.parse('2026-01-02T00:00:00Z') });
  assert.equal(
    pickInWindow(window, () => 0.5),
    Date.parse('2026-01-01T12:00:00Z'),
  );
  assert.equal(parseRenewalWindow({ suggestedWindow: { start: 'x' } }), undefined);
  assert.equal(
    parseRenewalWindow({ suggestedWindow: { start: '2026-01-02T00:00:00Z', end: '2026-01-01T00:00:00Z' } }),
    undefined,
  );
});
