import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { adminConfigWith, eventually, readToken, startWithAdmin, type AdminSwitchyard } from './helpers/admin.js';
import { DelayedOrigins } from './helpers/balancing-load.js';
import { send } from './helpers/http.js';
import { configWith } from './helpers/origin.js';
import { freePort } from './helpers/ports.js';
import { spawnSwitchyard } from './helpers/switchyard.js';
import { waitFor } from './helpers/wait.js';

/** The load fields of an endpoint in `GET /api/services/{service}`. */
interface LoadJson {
  readonly id: string;
  readonly load: number | null;
  readonly loadReport: { source: string; at: string; ageMs: number; stale: boolean } | null;
}

async function loadsOf(lb: AdminSwitchyard): Promise<Map<string, LoadJson>> {
  const reply = await lb.api('GET', '/api/services/app', { token: readToken });
  assert.equal(reply.status, 200, reply.body);
  return new Map((reply.json as { endpoints: LoadJson[] }).endpoints.map((e) => [e.id, e]));
}

test('the admin API shows each reported load with its source and age: X-Load headers and heartbeats', async (t) => {
  const xLoad: Record<string, string> = { a: '3', b: '7' };
  const set = await DelayedOrigins.start(t, ['a', 'b', 'c'], (name): Record<string, string> => {
    const value = xLoad[name];
    return value === undefined ? {} : { 'x-load': value };
  });
  const lb = await startWithAdmin(
    adminConfigWith([], { algorithm: 'least-load', slowStartMs: 0, balancing: { leastLoad: { staleMs: 60_000 } } }),
  );
  t.after(() => lb.close());
  const path = '/api/services/app/endpoints';
  for (const [i, id] of ['a', 'b', 'c'].entries()) {
    assert.equal((await lb.api('POST', path, { body: { id, url: set.urls[i] } })).status, 201);
  }
  // Nothing reported yet.
  for (const endpoint of (await loadsOf(lb)).values()) {
    assert.equal(endpoint.load, null);
    assert.equal(endpoint.loadReport, null);
  }
  // c reports in heartbeats only; a and b answer with X-Load.
  assert.equal((await lb.api('PUT', `${path}/c/heartbeat`, { body: { load: 0.5 } })).status, 200);
  await eventually('c shows its heartbeat load', async () => (await loadsOf(lb)).get('c')?.load === 0.5);
  const seen = new Set<string>();
  for (let i = 0; i < 30 && seen.size < 3; i++) seen.add((await send(lb.url('/?ms=1'))).body);
  assert.equal(seen.size, 3, 'each origin answered');

  const loads = await loadsOf(lb);
  assert.deepEqual(
    ['a', 'b', 'c'].map((id) => [id, loads.get(id)?.load, loads.get(id)?.loadReport?.source]),
    [
      ['a', 3, 'header'],
      ['b', 7, 'header'],
      ['c', 0.5, 'heartbeat'],
    ],
  );
  for (const endpoint of loads.values()) {
    const report = endpoint.loadReport!;
    assert.ok(report.ageMs >= 0 && report.ageMs < 30_000, `${endpoint.id}: age ${report.ageMs}`);
    assert.ok(Math.abs(Date.parse(report.at) + report.ageMs - Date.now()) < 5_000, `${endpoint.id}: at ${report.at}`);
    assert.equal(report.stale, false);
  }

  // A heartbeat newer than the last header wins, and the age starts again.
  assert.equal((await lb.api('PUT', `${path}/a/heartbeat`, { body: { load: 9 } })).status, 200);
  await eventually(
    'a shows its newer heartbeat',
    async () => (await loadsOf(lb)).get('a')?.loadReport?.source === 'heartbeat',
  );
  assert.equal((await loadsOf(lb)).get('a')?.load, 9);
});

test('a report older than leastLoad.staleMs is shown as stale', async (t) => {
  const set = await DelayedOrigins.start(t, ['a'], () => ({ 'x-load': '2' }));
  const lb = await startWithAdmin(
    adminConfigWith(set.urls, { algorithm: 'least-load', slowStartMs: 0, balancing: { leastLoad: { staleMs: 200 } } }),
  );
  t.after(() => lb.close());
  assert.equal((await send(lb.url('/?ms=1'))).status, 200);
  const id = [...(await loadsOf(lb)).keys()][0]!;
  await eventually('the report turns stale', async () => (await loadsOf(lb)).get(id)?.loadReport?.stale === true);
  const report = (await loadsOf(lb)).get(id)!;
  assert.equal(report.load, 2);
  assert.ok(report.loadReport!.ageMs > 200, `age ${report.loadReport!.ageMs}`);
});

test('with workers: 2 the admin API shows the X-Load a worker saw, with its source', async (t) => {
  const set = await DelayedOrigins.start(t, ['a'], () => ({ 'x-load': '4' }));
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-load-report-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const adminPort = await freePort();
  const file = join(dir, 'switchyard.yaml');
  const config = {
    ...configWith(set.urls, { algorithm: 'least-load', slowStartMs: 0 }),
    workers: 2,
    admin: { address: `127.0.0.1:${adminPort}`, tokens: { admin: 'adm', read: readToken } },
  };
  await writeFile(file, stringify(config));
  const lb = await spawnSwitchyard(['start', '-c', file]);
  t.after(() => lb.stop('SIGKILL'));
  const admin = `http://127.0.0.1:${adminPort}`;
  const report = await waitFor(
    async () => {
      // Fresh connections, so that cluster's round-robin spreads them over both workers.
      await send(`http://127.0.0.1:${lb.port}/?ms=1`);
      const reply = await send(`${admin}/api/services/app`, { headers: { authorization: `Bearer ${readToken}` } });
      const endpoint = (JSON.parse(reply.body) as { endpoints: LoadJson[] }).endpoints[0];
      return endpoint?.load === 4 && endpoint.loadReport !== null && endpoint.loadReport;
    },
    30_000,
    'the X-Load of the origin in the admin API',
    100,
  );
  assert.equal(report.source, 'header');
  assert.ok(report.ageMs < 30_000, `age ${report.ageMs}`);
  assert.equal(await lb.stop(), 0);
});
