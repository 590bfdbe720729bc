import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { send } from './helpers/http.js';
import { startOrigin } from './helpers/origin.js';
import { runCli, spawnSwitchyard } from './helpers/switchyard.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const configFor = (urls: readonly string[], address = '127.0.0.1:0') => `admin: { enabled: false }
registry: { store: memory }
listeners:
  - { name: web, protocol: http, address: "${address}" }
routes:
  - { match: { path: { prefix: / } }, service: app }
services:
  app:
    endpoints:
${urls.map((url) => `      - url: ${url}`).join('\n')}
`;

test('validate prints ok and exits 0 for a valid file', async (t) => {
  const file = join(await tempDir(t), 'ok.yaml');
  await writeFile(file, configFor(['http://127.0.0.1:3000']));
  const result = await runCli(['validate', '-c', file]);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, 'ok\n');
});

test('validate prints every problem as file:line:col and exits 1; SWITCHYARD_CONFIG names the file', async (t) => {
  const file = join(await tempDir(t), 'bad.yaml');
  await writeFile(file, configFor(['ftp://nope']).replace('protocol: http', 'protocol: http, typo: 1'));
  const result = await runCli(['validate'], { SWITCHYARD_CONFIG: file });
  assert.equal(result.code, 1);
  assert.deepEqual(result.stderr.trim().split('\n'), [
    `${file}:4:34 listeners.0.typo: unknown key 'typo'`,
    `${file}:10:14 services.app.endpoints.0.url: expected an http://, https://, tcp:// or udp:// URL`,
  ]);
  assert.equal(result.stdout, '');
});

test('validate of a missing file exits 1', async () => {
  const result = await runCli(['validate', '-c', '/nonexistent/switchyard.yaml']);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /file not found/);
});

test('usage errors exit 2', async () => {
  assert.equal((await runCli(['frobnicate'])).code, 2);
  assert.equal((await runCli(['start', '--no-such-flag'])).code, 2);
  assert.equal((await runCli(['start', '--listen', ':0'])).code, 2);
  assert.equal((await runCli(['start', '--to', 'http://127.0.0.1:1', '--algorithm', 'coin-toss'])).code, 2);
});

test('version prints the package and Node versions', async () => {
  const result = await runCli(['version']);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^switchyard \d+\.\d+\.\d+ \(node v\d+/);
});

test('start with an invalid file reports every problem, starts nothing and exits 1', async (t) => {
  const file = join(await tempDir(t), 'bad.yaml');
  await writeFile(file, 'listeners: []\nservices: { a: { endpoints: [{ url: 1 }] } }\n');
  const result = await runCli(['start', '-c', file]);
  assert.equal(result.code, 1);
  assert.equal(result.stderr.trim().split('\n').length, 2);
  assert.match(result.stderr, /bad\.yaml:1:12 listeners: at least one listener is needed/);
});

test('start exits 1 with a clear message when its port is taken', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const { port } = blocker.address() as AddressInfo;
  const result = await runCli([
    'start',
    '--admin',
    'off',
    '--listen',
    `127.0.0.1:${port}`,
    '--to',
    'http://127.0.0.1:1',
  ]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /cannot listen: .*EADDRINUSE/);
});

test('the config-less one-liner balances round-robin and SIGTERM stops it with exit 0', async (t) => {
  const [a, b] = await Promise.all([startOrigin('a'), startOrigin('b')]);
  t.after(() => Promise.all([a.close(), b.close()]));
  const lb = await spawnSwitchyard([
    'start',
    '--admin',
    'off',
    '--listen',
    '127.0.0.1:0',
    '--to',
    a.url,
    '--to',
    b.url,
  ]);
  t.after(() => lb.stop('SIGKILL'));
  const bodies: string[] = [];
  for (let i = 0; i < 4; i++) bodies.push((await send(`http://127.0.0.1:${lb.port}/`)).body);
  assert.deepEqual(bodies, ['a', 'b', 'a', 'b']);
  assert.equal(await lb.stop('SIGTERM'), 0);
});

test('SIGTERM lets an in-flight request finish before the process exits 0', async (t) => {
  const slow = await startOrigin('slow', (req, res) => {
    req.resume();
    setTimeout(() => res.end('finished'), 700);
  });
  t.after(() => slow.close());
  const lb = await spawnSwitchyard(['start', '--admin', 'off', '--listen', '127.0.0.1:0', '--to', slow.url]);
  t.after(() => lb.stop('SIGKILL'));
  const inFlight = send(`http://127.0.0.1:${lb.port}/`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const exit = lb.stop('SIGTERM');
  const reply = await inFlight;
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'finished');
  assert.equal(await exit, 0);
});

test('start -c runs a file; SIGHUP reloads it, and an invalid edit keeps the running config', async (t) => {
  const [a, b] = await Promise.all([startOrigin('a'), startOrigin('b')]);
  t.after(() => Promise.all([a.close(), b.close()]));
  const dir = await tempDir(t);
  const file = join(dir, 'switchyard.yaml');
  await writeFile(file, configFor([a.url]));
  const lb = await spawnSwitchyard(['start', '-c', file]);
  t.after(() => lb.stop('SIGKILL'));
  const url = `http://127.0.0.1:${lb.port}/`;
  assert.equal((await send(url)).body, 'a');

  // An editor's atomic save: write a temporary file, then rename it over the config.
  await writeFile(join(dir, 'tmp.yaml'), configFor([b.url]).replace('127.0.0.1:0', `127.0.0.1:${lb.port}`));
  await rename(join(dir, 'tmp.yaml'), file);
  lb.child.kill('SIGHUP');
  await waitFor(async () => (await send(url)).body === 'b');

  await writeFile(file, 'listeners: not-a-list\n');
  lb.child.kill('SIGHUP');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal((await send(url)).body, 'b');
  assert.equal(await lb.stop('SIGTERM'), 0);
});

test('start --watch reloads when the file changes (an atomic save by rename too), and only when its content does', async (t) => {
  const [a, b] = await Promise.all([startOrigin('a'), startOrigin('b')]);
  t.after(() => Promise.all([a.close(), b.close()]));
  const dir = await tempDir(t);
  const file = join(dir, 'switchyard.yaml');
  await writeFile(file, configFor([a.url]));
  const lb = await spawnSwitchyard(['start', '-c', file, '--watch']);
  t.after(() => lb.stop('SIGKILL'));
  const url = `http://127.0.0.1:${lb.port}/`;
  assert.equal((await send(url)).body, 'a');
  const pinned = (urls: readonly string[]): string => configFor(urls).replace('127.0.0.1:0', `127.0.0.1:${lb.port}`);
  await writeFile(join(dir, 'tmp.yaml'), pinned([b.url]));
  await rename(join(dir, 'tmp.yaml'), file);
  await waitFor(async () => (await send(url)).body === 'b');
  await writeFile(file, pinned([a.url]));
  await waitFor(async () => (await send(url)).body === 'a');
  // A broken edit changes nothing; fixing it applies.
  await writeFile(file, 'listeners: not-a-list\n');
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal((await send(url)).body, 'a');
  await writeFile(file, pinned([b.url]));
  await waitFor(async () => (await send(url)).body === 'b');
  assert.equal(await lb.stop('SIGTERM'), 0);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
