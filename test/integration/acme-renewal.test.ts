import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { servedCertificate, startAcmeBalancer, waitForIssued } from './helpers/acme-balancer.js';
import { startPebble } from './helpers/pebble.js';
import { freePort } from './helpers/ports.js';
import { waitFor } from './helpers/wait.js';

/** One GET over `agent`; resolves with the status and the serial of the certificate the connection got. */
function get(port: number, agent: Agent): Promise<{ status: number; serial: string; socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, servername: 'www.acme.test', path: '/', headers: { host: 'www.acme.test' }, agent },
      (res) => {
        const socket = res.socket as TLSSocket;
        const serial = socket.getPeerCertificate().serialNumber;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, serial, socket }));
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

test('renewal at two thirds of a short lifetime swaps the certificate in without failing a request', async (t) => {
  const [http, https] = [await freePort(), await freePort()];
  // 30 s certificates: renewal 20 s after issue.
  const pebble = await startPebble({ httpPort: http, tlsPort: https, validitySeconds: 30 });
  t.after(() => pebble.close());
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-acme-renew-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const lb = await startAcmeBalancer({
    acme: { directory: pebble.directory, directoryCa: pebble.directoryCa, agreeToTerms: true, storage: dir },
    listeners: [
      { name: 'web', protocol: 'http', address: `127.0.0.1:${http}` },
      {
        name: 'websecure',
        protocol: 'https',
        address: `127.0.0.1:${https}`,
        tls: { acme: { domains: ['www.acme.test'] } },
      },
    ],
    routes: [{ match: {}, respond: { status: 200, body: 'routed' } }],
  });
  t.after(() => lb.stop());
  const root = await pebble.root();
  const first = await waitForIssued(https, 'www.acme.test', () => pebble.root());
  const [state] = await lb.certificates();
  const lifetime = Date.parse(state!.validUntil) - Date.parse(state!.validFrom);
  assert.ok(lifetime <= 31_000, `lifetime ${lifetime} ms`);

  // A keep-alive connection opened on the first certificate, and a stream of fresh connections (new handshakes).
  const kept = new Agent({ ca: root, keepAlive: true, maxSockets: 1 });
  const fresh = new Agent({ ca: root, keepAlive: false, maxCachedSessions: 0 }); // full handshakes
  t.after(() => {
    kept.destroy();
    fresh.destroy();
  });
  const opened = await get(https, kept);
  assert.equal(opened.serial, first.serialNumber);
  let requests = 0;
  const failures: string[] = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      for (const agent of [fresh, kept]) {
        requests++;
        try {
          const reply = await get(https, agent);
          if (reply.status !== 200) failures.push(`status ${reply.status}`);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    }
  })();
  const renewed = await waitFor(
    async () => {
      const cert = await servedCertificate(https, 'www.acme.test', root);
      return cert.serialNumber !== first.serialNumber && cert;
    },
    90_000,
    'the renewed certificate',
    100,
  );
  // Keep the load on a little after the swap.
  await waitFor(
    () => requests > 0 && lb.logs.filter((l) => l.msg === 'ACME certificate issued and served').length >= 2,
    5_000,
  );
  const afterSwap = requests;
  await waitFor(() => requests >= afterSwap + 20, 30_000, 'requests after the swap');
  stop = true;
  await loop;
  t.diagnostic(`requests during the renewal: ${requests}, failed: ${failures.length}`);
  assert.deepEqual(failures, []);
  // The connection opened on the first certificate is still the one in use; a new one gets the renewed certificate.
  const still = await get(https, kept);
  assert.equal(still.status, 200);
  assert.equal(still.socket, opened.socket);
  assert.equal((await get(https, fresh)).serial, renewed.serialNumber);
  const [after] = await lb.certificates();
  assert.equal(after?.serial, renewed.serialNumber);
  assert.ok(Date.parse(after.nextAttemptAt!) > Date.now());
});
