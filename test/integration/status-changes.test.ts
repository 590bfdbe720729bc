import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import { statusCommand, type StatusOutput } from '../../src/cli/status.js';
import { adminConfigWith, adminToken, startWithAdmin, type AdminSwitchyard } from './helpers/admin.js';
import { startOrigin } from './helpers/origin.js';
import { cliPath } from './helpers/switchyard.js';
import { waitFor } from './helpers/wait.js';

/** A balancer over two origins whose stats events come rarely: a table that shows a change got it from elsewhere. */
async function balancer(t: TestContext, statsIntervalMs: number): Promise<{ lb: AdminSwitchyard; id: string }> {
  const origins = await Promise.all([startOrigin('a'), startOrigin('b')]);
  t.after(() => Promise.all(origins.map((o) => o.close())));
  const lb = await startWithAdmin(adminConfigWith(origins.map((o) => o.url)), { events: { statsIntervalMs } });
  t.after(() => lb.close());
  return { lb, id: `127.0.0.1:${origins[0].port}` };
}

/** An output that keeps what was written and can fail like a closed pipe. */
function capture(): StatusOutput & { text: string; fail(): void } {
  const listeners = new Set<(error: NodeJS.ErrnoException) => void>();
  return {
    text: '',
    write(text: string) {
      this.text += text;
    },
    on: (_event, listener) => listeners.add(listener),
    off: (_event, listener) => listeners.delete(listener),
    fail() {
      const error = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
      for (const listener of listeners) listener(error);
    },
  };
}

const stateOf = (table: string, id: string): string | undefined =>
  table
    .split('\n')
    .findLast((line) => line.includes(` ${id} `))
    ?.trim()
    .split(/\s{2,}/)[2];

test('switchyard status right after a drain shows the drain (not the view of the last stats sample)', async (t) => {
  const { lb, id } = await balancer(t, 60_000);
  const reply = await lb.api('PUT', `/api/services/app/endpoints/${id}/state`, { body: { state: 'drain' } });
  assert.equal(reply.status, 200);
  const out = capture();
  const code = await statusCommand({ admin: lb.adminBase, token: adminToken }, out, capture());
  assert.equal(code, 0);
  assert.equal(stateOf(out.text, id), 'drain', out.text);
});

test('switchyard status --watch shows a change when it happens, and stops quietly when its output closes', async (t) => {
  const { lb, id } = await balancer(t, 60_000);
  const out = capture();
  const err = capture();
  const running = statusCommand({ admin: lb.adminBase, token: adminToken, watch: true }, out, err);
  await waitFor(() => stateOf(out.text, id) === 'ready', 5_000, 'the first table');
  await lb.api('PUT', `/api/services/app/endpoints/${id}/state`, { body: { state: 'maint' } });
  await waitFor(() => stateOf(out.text, id) === 'maint', 5_000, 'a table with the change (no stats event comes)');
  out.fail();
  assert.equal(await running, 0);
  assert.equal(err.text, '');
});

test('switchyard status --watch | head exits without a stack trace', async (t) => {
  const { lb } = await balancer(t, 100);
  const child = spawn(
    'bash',
    [
      '-c',
      `set -o pipefail; "${process.execPath}" --import tsx "${cliPath}" status --watch --admin ${lb.adminBase} --token ${adminToken} | head -n 3`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(stdout.split('\n').length, 4, stdout);
  assert.doesNotMatch(stderr, /EPIPE|Error|at /);
  assert.equal(code, 0, stderr);
});
