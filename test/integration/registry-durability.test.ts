import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  adminConfigWith,
  adminToken,
  callApi,
  endpointsOf,
  eventually,
  spawnCli,
  startWithAdmin,
  type CliProcess,
} from './helpers/admin.js';
import { startOrigin } from './helpers/origin.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-durability-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `switchyard start -c FILE` as a process; resolves with it and its admin base URL once the API listens. */
async function startProcess(t: TestContext, file: string): Promise<{ cli: CliProcess; base: string }> {
  const cli = spawnCli(['start', '-c', file]);
  t.after(() => {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  });
  let port: number | undefined;
  await eventually(
    'the admin API listens',
    () => {
      const line = cli.stdout.find((l) => l.includes('"admin API listening"'));
      if (line !== undefined) port = (JSON.parse(line) as { port: number }).port;
      return port !== undefined;
    },
    15_000,
  );
  return { cli, base: `http://127.0.0.1:${port}` };
}

async function killed(cli: CliProcess): Promise<void> {
  cli.child.kill('SIGKILL');
  assert.equal(await cli.exited, 'SIGKILL');
}

test('kill -9 right after a 201 loses no registration, and no drain or weight change either', async (t) => {
  const dir = await tempDir(t);
  const instance = await startOrigin('instance');
  t.after(() => instance.close());
  const file = join(dir, 'switchyard.yaml');
  const registry = join(dir, 'registry.json');
  await writeFile(
    file,
    `admin: { address: 127.0.0.1:0, tokens: { admin: ${adminToken} } }
registry: { store: file, path: ${registry} }
listeners: [ { name: web, protocol: http, address: 127.0.0.1:0, service: app } ]
services: { app: { endpoints: [] } }
`,
  );
  const expected: string[] = [];
  for (let round = 0; round < 3; round++) {
    const { cli, base } = await startProcess(t, file);
    // Every registration made before the kill is there after the restart.
    const listed = (await callApi(base, 'GET', '/api/services/app')).json as { endpoints: { id: string }[] };
    assert.deepEqual(listed.endpoints.map((e) => e.id).sort(), [...expected].sort(), `round ${round}`);
    const id = `r${round}`;
    const created = await callApi(base, 'POST', '/api/services/app/endpoints', {
      body: { id, url: instance.url, ttlSeconds: 60 },
    });
    assert.equal(created.status, 201);
    // SIGKILL the moment the answer is in: no exit handler, no flush, nothing but what was on disk already.
    await killed(cli);
    expected.push(id);
  }

  const { cli, base } = await startProcess(t, file);
  const drained = await callApi(base, 'PUT', '/api/services/app/endpoints/r0/state', { body: { state: 'drain' } });
  assert.equal(drained.status, 200);
  const weighted = await callApi(base, 'PUT', '/api/services/app/endpoints/r1/weight', { body: { weight: 7 } });
  assert.equal(weighted.status, 200);
  assert.equal((await callApi(base, 'DELETE', '/api/services/app/endpoints/r2')).status, 204);
  await killed(cli);

  const after = await startProcess(t, file);
  const endpoints = (await callApi(after.base, 'GET', '/api/services/app')).json as {
    endpoints: { id: string; state: string; weight: number }[];
  };
  assert.deepEqual(
    endpoints.endpoints.map((e) => [e.id, e.state, e.weight]),
    [
      ['r0', 'drain', 1],
      ['r1', 'ready', 7],
    ],
  );
  after.cli.child.kill('SIGTERM');
  assert.equal(await after.cli.exited, 0);
});

test('heartbeats renew leases without writing the registry file; a real change writes it', async (t) => {
  const dir = await tempDir(t);
  const registry = join(dir, 'registry.json');
  const instance = await startOrigin('instance');
  t.after(() => instance.close());
  const lb = await startWithAdmin(adminConfigWith([], {}, { registry: { store: 'file', path: registry } }));
  t.after(() => lb.close());
  for (const id of ['a', 'b', 'c']) {
    const created = await lb.api('POST', '/api/services/app/endpoints', {
      body: { id, url: instance.url, ttlSeconds: 5 },
    });
    assert.equal(created.status, 201);
  }
  const before = { text: await readFile(registry, 'utf8'), stat: await stat(registry) };
  let lastLease = '';
  for (let i = 0; i < 30; i++) {
    for (const id of ['a', 'b', 'c']) {
      const beat = await lb.api('PUT', `/api/services/app/endpoints/${id}/heartbeat`, { body: { load: i } });
      assert.equal(beat.status, 200);
      lastLease = (beat.json as { leaseExpiresAt: string }).leaseExpiresAt;
    }
  }
  const after = await stat(registry);
  assert.equal(after.ino, before.stat.ino, 'the file was not replaced');
  assert.equal(after.mtimeMs, before.stat.mtimeMs, 'the file was not written');
  assert.equal(await readFile(registry, 'utf8'), before.text);
  // The renewed lease is live in memory all the same.
  const c = (await endpointsOf(lb)).find((e) => e.id === 'c');
  assert.equal(c?.lease?.expiresAt, lastLease);
  assert.equal(c?.load, 29);

  assert.equal((await lb.api('PUT', '/api/services/app/endpoints/b/weight', { body: { weight: 3 } })).status, 200);
  const changed = JSON.parse(await readFile(registry, 'utf8')) as { registrations: { id: string; weight: number }[] };
  assert.deepEqual(
    changed.registrations.map((r) => [r.id, r.weight]),
    [
      ['a', 1],
      ['b', 3],
      ['c', 1],
    ],
  );
});
