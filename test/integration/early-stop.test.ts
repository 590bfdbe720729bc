import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually, spawnCli } from './helpers/admin.js';

// A SIGTERM that arrives while the balancer is still starting (here: while the cluster primary forks its workers)
// is remembered and drains once the balancer runs, instead of killing the process by the signal's default action.
test('a SIGTERM during start drains and exits 0 once the balancer runs', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-early-stop-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'workers.yaml');
  await writeFile(
    file,
    `admin: { address: 127.0.0.1:0 }
registry: { store: memory }
workers: 2
listeners: [ { name: web, protocol: http, address: 127.0.0.1:0, service: app } ]
services: { app: { endpoints: [ { url: http://127.0.0.1:9 } ] } }
`,
  );
  const lb = spawnCli(['start', '-c', file]);
  t.after(() => lb.child.kill('SIGKILL'));
  // The open-admin warning is logged after the config is read and before the workers are forked.
  await eventually(
    'the open-admin warning',
    () => lb.stdout.some((l) => l.includes('the admin API has no token')),
    20_000,
  );
  assert.equal(
    lb.stdout.some((l) => l.includes('"msg":"started"')),
    false,
    'the signal must come before the balancer runs for this test to mean anything',
  );
  lb.child.kill('SIGTERM');
  assert.equal(await lb.exited, 0, lb.stderr());
  const messages = lb.stdout.map((l) => (JSON.parse(l) as { msg?: string }).msg);
  assert.ok(messages.includes('started'), messages.join(', '));
  assert.ok(messages.includes('draining'), messages.join(', '));
});
