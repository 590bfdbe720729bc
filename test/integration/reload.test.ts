import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { bodyOf } from './helpers/http.js';
import { configWith, startOrigin } from './helpers/origin.js';
import { startSwitchyard } from './helpers/switchyard.js';
import { sleep, waitFor } from './helpers/wait.js';

/** A free port on 127.0.0.1 (bound and released), for a listener that must move to a known address. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts a GET that the origin holds until `release()`; resolves with the answer's body. */
function slowGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('a listener moved to another port: the new one opens first, a request in flight on the old one finishes', async (t) => {
  const held: (() => void)[] = [];
  const origin = await startOrigin('a', (req, res) => {
    if (req.url === '/slow') held.push(() => res.end('slow done'));
    else res.end('a');
  });
  t.after(() => origin.close());
  const config = configWith([origin.url]);
  const lb = await startSwitchyard(config);
  t.after(() => lb.close());
  const oldPort = lb.port();
  const inFlight = slowGet(oldPort, '/slow');
  await waitFor(() => held.length === 1, 5_000, 'the slow request to reach the origin');
  const newPort = await freePort();
  await lb.apply(configWith([origin.url], {}, { address: `127.0.0.1:${newPort}` }));
  assert.equal(lb.port(), newPort);
  assert.equal(await bodyOf(`http://127.0.0.1:${newPort}/`), 'a', 'the new address answers');
  // The old socket no longer accepts new connections…
  const refused = connect({ host: '127.0.0.1', port: oldPort });
  const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  assert.equal(error.code, 'ECONNREFUSED');
  // …but the request it had in flight completes.
  held[0]!();
  assert.deepEqual(await inFlight, { status: 200, body: 'slow done' });
});

test('a listener replaced on the same port (new socket options): a request in flight finishes, new ones are served', async (t) => {
  const held: (() => void)[] = [];
  const origin = await startOrigin('a', (req, res) => {
    if (req.url === '/slow') held.push(() => res.end('slow done'));
    else res.end('a');
  });
  t.after(() => origin.close());
  const port = await freePort();
  const lb = await startSwitchyard(configWith([origin.url], {}, { address: `127.0.0.1:${port}` }));
  t.after(() => lb.close());
  const inFlight = slowGet(port, '/slow');
  await waitFor(() => held.length === 1, 5_000, 'the slow request to reach the origin');
  // A different header size limit needs a new server (Node fixes maxHeaderSize at creation).
  await lb.apply(configWith([origin.url], {}, { address: `127.0.0.1:${port}`, limits: { headerBytes: 32_768 } }));
  for (let i = 0; i < 3; i++) assert.equal(await bodyOf(`http://127.0.0.1:${port}/`), 'a');
  held[0]!();
  assert.deepEqual(await inFlight, { status: 200, body: 'slow done' });
});

test('a removed listener stops accepting and lets its request in flight finish', async (t) => {
  const held: (() => void)[] = [];
  const origin = await startOrigin('a', (req, res) => {
    if (req.url === '/slow') held.push(() => res.end('slow done'));
    else res.end('a');
  });
  t.after(() => origin.close());
  const two = configWith([origin.url]);
  two.listeners.push({ name: 'second', protocol: 'http', address: '127.0.0.1:0' });
  const lb = await startSwitchyard(two);
  t.after(() => lb.close());
  const secondPort = lb.port('second');
  const inFlight = slowGet(secondPort, '/slow');
  await waitFor(() => held.length === 1, 5_000, 'the slow request to reach the origin');
  await lb.apply(configWith([origin.url]));
  const refused = connect({ host: '127.0.0.1', port: secondPort });
  const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  assert.equal(error.code, 'ECONNREFUSED');
  await sleep(100);
  held[0]!();
  assert.deepEqual(await inFlight, { status: 200, body: 'slow done' });
  assert.equal(await bodyOf(lb.url('/')), 'a', 'the remaining listener is untouched');
});
