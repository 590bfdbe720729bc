import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { callApi, eventually, spawnCli, type CliProcess } from './helpers/admin.js';
import { startOrigin } from './helpers/origin.js';
import { runCli } from './helpers/switchyard.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-defaults-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A CLI process that is killed at the end of the test if it still runs. */
function spawned(t: TestContext, args: readonly string[], env: NodeJS.ProcessEnv): CliProcess {
  const cli = spawnCli(args, env);
  t.after(() => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  });
  return cli;
}

/** The admin port a `start` process logged, once it wrote its token file. */
async function adminPortOf(cli: CliProcess): Promise<number> {
  const logged = (message: string): { port?: number } | undefined => {
    const line = cli.stdout.find((l) => l.startsWith('{') && l.includes(`"msg":"${message}"`));
    return line === undefined ? undefined : (JSON.parse(line) as { port?: number });
  };
  await eventually('the admin token file is written', () => logged('admin token written') !== undefined, 15_000);
  return logged('admin API listening')!.port!;
}

test('the one-liner makes a random admin token, prints it and keeps it in an owner-only file the CLI finds', async (t) => {
  const runtime = await tempDir(t);
  const origin = await startOrigin('o');
  t.after(() => origin.close());
  // No token in the environment: the default case.
  const env = { XDG_RUNTIME_DIR: runtime, SWITCHYARD_ADMIN_TOKEN: '' };
  const lb = spawned(t, ['start', '--listen', '127.0.0.1:0', '--to', origin.url, '--admin', '127.0.0.1:0'], env);
  const port = await adminPortOf(lb);
  const base = `http://127.0.0.1:${port}`;

  const printed = /admin API http:\/\/127\.0\.0\.1:\d+ token: (\S+)/.exec(lb.stderr())?.[1];
  assert.ok(printed !== undefined && printed.length >= 32, lb.stderr());
  const file = join(runtime, 'switchyard', `admin-${port}.token`);
  assert.equal((await readFile(file, 'utf8')).trim(), printed);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(join(runtime, 'switchyard'))).mode & 0o777, 0o700);
  assert.ok(lb.stderr().includes(file), 'the file is named where the token is printed');
  assert.ok(!lb.stdout.join('\n').includes(printed), 'the JSON log never carries the token');

  // Not open: without the token nothing is shown or changed.
  assert.equal((await callApi(base, 'GET', '/api/services', { token: null })).status, 401);
  const drain = { token: null, body: { state: 'drain' } };
  assert.equal(
    (await callApi(base, 'PUT', `/api/services/default/endpoints/127.0.0.1:${origin.port}/state`, drain)).status,
    401,
  );
  assert.equal((await callApi(base, 'GET', '/api/services', { token: printed })).status, 200);

  // status, reload and register find the token by themselves.
  const status = await runCli(['status', '--admin', base], env);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`default\\s+127\\.0\\.0\\.1:${origin.port}\\s+ready`));
  const reload = await runCli(['reload', '--admin', base], env);
  assert.match(reload.stderr, /409 Nothing to reload/, 'authenticated: the one-liner has no file to reload');
  const registered = spawned(
    t,
    ['register', '--admin', base, '--service', 'default', '--url', 'http://127.0.0.1:9'],
    env,
  );
  await eventually('register found the token', () => registered.stdout.some((l) => l.includes('"registered"')), 15_000);
  registered.child.kill('SIGTERM');
  assert.equal(await registered.exited, 0, registered.stderr());

  const named = await runCli(['status', '--admin', `http://localhost:${port}`], env);
  assert.equal(named.code, 0, 'localhost is a loopback URL too');

  lb.child.kill('SIGTERM');
  assert.equal(await lb.exited, 0);
  await assert.rejects(stat(file), /ENOENT/, 'removed at stop');
});

test('a token file that other users can read is not used', async (t) => {
  const runtime = await tempDir(t);
  const origin = await startOrigin('o');
  t.after(() => origin.close());
  const env = { XDG_RUNTIME_DIR: runtime, SWITCHYARD_ADMIN_TOKEN: '' };
  const lb = spawned(t, ['start', '--listen', '127.0.0.1:0', '--to', origin.url, '--admin', '127.0.0.1:0'], env);
  const port = await adminPortOf(lb);
  const file = join(runtime, 'switchyard', `admin-${port}.token`);
  const token = (await readFile(file, 'utf8')).trim();
  await writeFile(file, `${token}\n`);
  await chmod(file, 0o644);
  const status = await runCli(['status', '--admin', `http://127.0.0.1:${port}`], env);
  assert.equal(status.code, 1);
  assert.match(status.stderr, /not using the token file .*other users can read it/);
  assert.match(status.stderr, /refused the request \(401/);
});

test('SWITCHYARD_ADMIN_TOKEN chooses the one-liner token: nothing is printed or written', async (t) => {
  const runtime = await tempDir(t);
  const origin = await startOrigin('o');
  t.after(() => origin.close());
  const env = { XDG_RUNTIME_DIR: runtime, SWITCHYARD_ADMIN_TOKEN: 'chosen-token-123' };
  const lb = spawned(t, ['start', '--listen', '127.0.0.1:0', '--to', origin.url, '--admin', '127.0.0.1:0'], env);
  let port: number | undefined;
  await eventually(
    'listening',
    () => {
      const line = lb.stdout.find((l) => l.includes('"admin API listening"'));
      if (line !== undefined) port = (JSON.parse(line) as { port: number }).port;
      return port !== undefined;
    },
    15_000,
  );
  const base = `http://127.0.0.1:${port}`;
  assert.equal((await callApi(base, 'GET', '/api/services', { token: null })).status, 401);
  assert.equal((await callApi(base, 'GET', '/api/services', { token: 'chosen-token-123' })).status, 200);
  assert.doesNotMatch(lb.stderr(), /token:/);
  await assert.rejects(stat(join(runtime, 'switchyard', `admin-${port}.token`)), /ENOENT/);
});

test('the demo has a token file too, and its instances register with a registration-only token', async (t) => {
  const runtime = await tempDir(t);
  const env = { XDG_RUNTIME_DIR: runtime, SWITCHYARD_ADMIN_TOKEN: '' };
  const demo = spawned(t, ['demo', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--instances', '2'], env);
  let base: string | undefined;
  await eventually(
    'the demo printed its admin URL',
    () => (base = /The admin API is on (http:\/\/127\.0\.0\.1:\d+)/.exec(demo.stdout.join('\n'))?.[1]) !== undefined,
    20_000,
  );
  const port = Number(new URL(base!).port);
  const file = join(runtime, 'switchyard', `admin-${port}.token`);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await callApi(base!, 'GET', '/api/services/demo', { token: null })).status, 401);
  const status = await runCli(['status', '--admin', base!], env);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /demo\s+instance-a/);
  assert.match(status.stdout, /demo\s+instance-b/);
  demo.child.kill('SIGTERM');
  assert.equal(await demo.exited, 0, demo.stderr());
  await assert.rejects(stat(file), /ENOENT/);
});

test('start with a configuration file that sets no admin token warns that the admin API is open', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'open.yaml');
  await writeFile(
    file,
    `admin: { address: 127.0.0.1:0 }
registry: { store: memory }
listeners: [ { name: web, protocol: http, address: 127.0.0.1:0, service: app } ]
services: { app: { endpoints: [ { url: http://127.0.0.1:9 } ] } }
`,
  );
  const lb = spawned(t, ['start', '-c', file], {});
  await eventually('the warning', () => lb.stdout.some((line) => line.includes('the admin API has no token')), 15_000);
  const warning = JSON.parse(lb.stdout.find((line) => line.includes('the admin API has no token'))!) as {
    level: number;
  };
  assert.equal(warning.level, 40);
  // An answer from the admin API means start() got past createSwitchyard and has its signal handlers.
  let port: number | undefined;
  await eventually(
    'the admin API answers',
    async () => {
      const listening = lb.stdout.find((line) => line.includes('"admin API listening"'));
      port ??= listening === undefined ? undefined : (JSON.parse(listening) as { port: number }).port;
      if (port === undefined) return false;
      return (await callApi(`http://127.0.0.1:${port}`, 'GET', '/ping').catch(() => ({ status: 0 }))).status === 200;
    },
    15_000,
  );
  lb.child.kill('SIGTERM');
  assert.equal(await lb.exited, 0);
});
