import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { connect, type ConnectionOptions } from 'node:tls';
import { promisify } from 'node:util';
import { startAcmeBalancer } from './helpers/acme-balancer.js';
import { freePort } from './helpers/ports.js';
import { waitFor } from './helpers/wait.js';

const run = promisify(execFile);

/** A CA, a leaf for ocsp.test naming `responder` as its OCSP responder, and openssl's index of what it issued. */
async function ocspCa(t: TestContext, responder: string) {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-ocsp-'));
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
    '2',
    '-subj',
    '/CN=Switchyard OCSP test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  await run('openssl', ['req', ...ec, '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=ocsp.test']);
  await writeFile(f('ext.cnf'), `subjectAltName=DNS:ocsp.test\nauthorityInfoAccess=OCSP;URI:${responder}\n`);
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
    '0x5eed',
    '-days',
    '1',
    '-out',
    f('leaf.pem'),
    '-extfile',
    f('ext.cnf'),
  ]);
  const expiry = new Date(Date.now() + 86_400_000).toISOString().replace(/[-:T]/g, '').slice(2, 14);
  await writeFile(f('index.txt'), `V\t${expiry}Z\t\t5EED\tunknown\t/CN=ocsp.test\n`);
  // The served chain: leaf, then its issuer (how the stapler finds the issuer).
  await writeFile(f('chain.pem'), (await readFile(f('leaf.pem'), 'utf8')) + (await readFile(f('ca.pem'), 'utf8')));
  return f;
}

/**
 * openssl's OCSP responder answering on 127.0.0.1:`port` (nextUpdate a minute ahead). `openssl ocsp -port` binds
 * every address, so the HTTP side is a loopback Node server and each request is answered by `openssl ocsp -reqin`.
 */
async function startResponder(t: TestContext, f: (name: string) => string, port: number) {
  let served = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const n = ++served;
      void (async () => {
        await writeFile(f(`req-${n}.der`), Buffer.concat(chunks));
        await run('openssl', [
          'ocsp',
          '-index',
          f('index.txt'),
          '-rsigner',
          f('ca.pem'),
          '-rkey',
          f('ca.key'),
          '-CA',
          f('ca.pem'),
          '-nmin',
          '1',
          '-reqin',
          f(`req-${n}.der`),
          '-respout',
          f(`resp-${n}.der`),
        ]);
        const body = await readFile(f(`resp-${n}.der`));
        res.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': body.length });
        res.end(body);
      })().catch(() => res.writeHead(500).end());
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const stop = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  t.after(() => (server.listening ? stop() : undefined));
  return { stop, served: () => served };
}

/** The OCSP response stapled to a handshake for ocsp.test (null when none was). */
function stapled(port: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    let response: Buffer | null = null;
    // `requestOCSP` is a documented tls.connect option that @types/node lacks.
    const options = { host: '127.0.0.1', port, servername: 'ocsp.test', requestOCSP: true, rejectUnauthorized: false };
    const socket = connect(options as ConnectionOptions);
    socket.on('OCSPResponse', (r: Buffer) => (response = r));
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve(response);
    });
    socket.on('error', reject);
  });
}

test('ocspStapling staples the responder’s answer fetched in the background; the handshake never waits on it', async (t) => {
  const [ocspPort, https] = [await freePort(), await freePort()];
  const f = await ocspCa(t, `http://127.0.0.1:${ocspPort}`);
  const responder = await startResponder(t, f, ocspPort);
  const lb = await startAcmeBalancer({
    listeners: [
      {
        name: 'websecure',
        protocol: 'https',
        address: `127.0.0.1:${https}`,
        tls: { certificates: [{ cert: f('chain.pem'), key: f('leaf.key') }], ocspStapling: true },
      },
    ],
    routes: [{ match: {}, respond: { status: 200, body: 'routed' } }],
  });
  t.after(() => lb.stop());
  const response = await waitFor(
    async () => (await stapled(https)) ?? undefined,
    30_000,
    'a stapled OCSP response',
    200,
  ).catch((error: unknown) => {
    t.diagnostic(JSON.stringify(lb.logs.filter((l) => l['component'] === 'ocsp')));
    throw error;
  });
  // openssl verifies the stapled response: signed by the CA, for this certificate, status good.
  await writeFile(f('stapled.der'), response);
  const { stdout } = await run('openssl', [
    'ocsp',
    '-respin',
    f('stapled.der'),
    '-CAfile',
    f('ca.pem'),
    '-issuer',
    f('ca.pem'),
    '-cert',
    f('leaf.pem'),
  ]);
  assert.match(stdout, /leaf\.pem: good/);
  assert.ok(lb.logs.some((l) => l.msg === 'OCSP response stapled'));

  // The responder goes away: handshakes go on, stapled from the cache, with no wait.
  await responder.stop();
  const started = Date.now();
  assert.ok((await stapled(https)) !== null);
  assert.ok(Date.now() - started < 5_000);
});

test('without ocspStapling nothing is stapled', async (t) => {
  const [ocspPort, https] = [await freePort(), await freePort()];
  const f = await ocspCa(t, `http://127.0.0.1:${ocspPort}`);
  await startResponder(t, f, ocspPort);
  const lb = await startAcmeBalancer({
    listeners: [
      {
        name: 'websecure',
        protocol: 'https',
        address: `127.0.0.1:${https}`,
        tls: { certificates: [{ cert: f('chain.pem'), key: f('leaf.key') }] },
      },
    ],
    routes: [{ match: {}, respond: { status: 200, body: 'routed' } }],
  });
  t.after(() => lb.stop());
  await waitFor(() => lb.logs.some((l) => l.msg === 'listening'), 30_000);
  assert.equal(await stapled(https), null);
});
