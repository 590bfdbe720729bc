import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { createSwitchyard } from '../../src/main.js';
import { capturedLogger } from './helpers/admin.js';
import { startOrigin } from './helpers/origin.js';
import { waitFor } from './helpers/wait.js';

/** Writes `bytes` on a new connection to `port` and resolves with what came back once the server closed it. */
function exchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
  });
}

test('every listener logs when it listens, drains and closes, the L4 ones as the HTTP ones', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const capture = capturedLogger();
  const lb = await createSwitchyard(
    {
      admin: { enabled: false },
      registry: { store: 'memory' },
      listeners: [
        { name: 'web', protocol: 'http', address: '127.0.0.1:0' },
        { name: 'tcp', protocol: 'tcp', address: '127.0.0.1:0', service: 'app' },
        { name: 'dns', protocol: 'udp', address: '127.0.0.1:0', service: 'app' },
      ],
      routes: [{ match: { path: { prefix: '/' } }, service: 'app' }],
      services: { app: { endpoints: [{ url: origin.url }] } },
    },
    { logger: capture.logger },
  );
  await lb.close(1_000);
  const lines = capture.lines();
  for (const [listener, protocol] of [
    ['web', 'http'],
    ['tcp', 'tcp'],
    ['dns', 'udp'],
  ] as const) {
    const mine = lines.filter((l) => l['listener'] === listener);
    const messages = mine.map((l) => l['msg']);
    assert.deepEqual(
      messages,
      ['listening', 'listener draining', 'listener closed'],
      `${listener}: ${messages.join()}`,
    );
    assert.ok(
      mine.every((l) => l['level'] === 30),
      'at info',
    );
    assert.equal(mine[0]!['protocol'] ?? protocol, protocol);
    assert.equal(typeof mine[0]!['port'], 'number');
    assert.equal(mine[2]!['forced'], false);
  }
});

test('requests the HTTP parser rejects are logged, at most one line per interval with the count left out', async (t) => {
  const origin = await startOrigin('a');
  t.after(() => origin.close());
  const capture = capturedLogger();
  const lb = await createSwitchyard(
    {
      admin: { enabled: false },
      registry: { store: 'memory' },
      listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1:0' }],
      routes: [{ match: { path: { prefix: '/' } }, service: 'app' }],
      services: { app: { endpoints: [{ url: origin.url }] } },
    },
    { logger: capture.logger },
  );
  t.after(() => lb.close(1_000));
  const port = lb.address('web').port;
  for (let i = 0; i < 3; i++) {
    const answer = await exchange(port, 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
  }
  await waitFor(() => capture.lines().some((l) => l['msg'] === 'request rejected by the HTTP parser'));
  const rejected = capture.lines().filter((l) => l['msg'] === 'request rejected by the HTTP parser');
  assert.equal(rejected.length, 1, 'throttled: one line for three rejections within the interval');
  assert.equal(rejected[0]!['level'], 40, 'a warning');
  assert.equal(rejected[0]!['client'], '127.0.0.1');
  assert.match(String(rejected[0]!['code']), /^HPE_/);
  assert.equal(origin.requests.length, 0);
});
