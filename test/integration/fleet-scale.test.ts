import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { createEtcdClient } from '../../src/control/registry/etcd-client.js';
import { etcdSchema } from '../../src/config/registry-schema.js';
import type { Etcd3 } from 'etcd3';
import { startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';
import { startFleetNode, uniquePrefix, type FleetNode } from './helpers/fleet.js';
import { sleep, waitFor } from './helpers/wait.js';

const endpoints = 1_000;
const changes = 100;
let etcd: EtcdCluster;
let client: Etcd3;
let node: FleetNode;
let prefix: string;

before(async () => {
  etcd = await startEtcdCluster();
  prefix = uniquePrefix('scale');
  client = createEtcdClient(etcdSchema.parse({ endpoints: etcd.endpoints, prefix }));
  node = await startFleetNode('lb-scale', { endpoints: etcd.endpoints, prefix });
});
after(async () => {
  await node?.stop('SIGKILL');
  client?.close();
  await etcd?.close();
});

/** CPU time (user + system, ms) the process has used, from /proc (clock ticks of 10 ms). */
async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const count = async (): Promise<number> =>
  ((await node.api('GET', '/api/services/app')).json as { endpoints: unknown[] }).endpoints.length;
const weightOf = async (id: string): Promise<number | undefined> =>
  ((await node.api('GET', '/api/services/app')).json as { endpoints: { id: string; weight: number }[] }).endpoints.find(
    (e) => e.id === id,
  )?.weight;

test(`the CPU a node spends applying one change with ${endpoints} endpoints registered`, async () => {
  // Registrations written straight to the store, as a thousand instances through other nodes would.
  for (let i = 0; i < endpoints; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) => {
        const id = `ep-${i + j}`;
        const value = {
          url: `http://127.0.0.1:${30_000 + i + j}`,
          weight: 1,
          state: 'ready',
          registeredAt: Date.now(),
        };
        return client.put(`${prefix}registrations/app/${id}`).value(JSON.stringify(value)).exec();
      }),
    );
  }
  await waitFor(async () => (await count()) === endpoints, 30_000, `${endpoints} endpoints on the node`, 200);
  const pid = node.child.pid!;
  await sleep(1_000);
  // What the node spends doing nothing (its stats sampling walks every endpoint each second).
  const idleStart = [performance.now(), await cpuMs(pid)] as const;
  await sleep(3_000);
  const idleRate = ((await cpuMs(pid)) - idleStart[1]) / (performance.now() - idleStart[0]);

  const started = [performance.now(), await cpuMs(pid)] as const;
  for (let i = 1; i <= changes; i++) {
    await client
      .put(`${prefix}overrides/app/ep-${i % 10}`)
      .value(JSON.stringify({ service: 'app', id: `ep-${i % 10}`, weight: i + 1 }))
      .exec();
    // One change at a time (a burst would be coalesced into fewer snapshots).
    await sleep(30);
  }
  await waitFor(async () => (await weightOf(`ep-${changes % 10}`)) === changes + 1, 10_000, 'the last change applied');
  const wallMs = performance.now() - started[0];
  const spentMs = (await cpuMs(pid)) - started[1] - idleRate * wallMs;
  const perChange = spentMs / changes;
  console.log(
    `# CPU per applied change with ${endpoints} endpoints: ${perChange.toFixed(2)} ms (${changes} changes, ${spentMs.toFixed(0)} ms above an idle ${(idleRate * 1000).toFixed(0)} ms/s)`,
  );
  assert.ok(perChange < 500, `${perChange} ms per change`);
});
