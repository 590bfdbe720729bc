import assert from 'node:assert/strict';
import { test } from 'node:test';
import autocannon from 'autocannon';
import { Agent, request } from 'undici';
import { configWith } from './helpers/origin.js';
import { startInstanceProcess } from './helpers/processes.js';
import { startSwitchyard } from './helpers/switchyard.js';

const checks = {
  healthCheck: { http: { path: '/health' }, intervalMs: 200, timeoutMs: 200, jitterPercent: 0, rise: 2, fall: 2 },
};

test('kill -9 of one of three instances under continuous load costs no client request', async (t) => {
  const instances = await Promise.all(['a', 'b', 'c'].map((name) => startInstanceProcess(name)));
  t.after(() => Promise.all(instances.map((i) => i.stop())));
  const lb = await startSwitchyard(
    configWith(
      instances.map((i) => i.url),
      { ...checks, slowStartMs: 0 },
    ),
  );
  t.after(() => lb.close());

  const load = autocannon({ url: lb.url('/'), connections: 8, duration: 10 });
  const killer = setTimeout(() => instances[1]!.kill('SIGKILL'), 3_000);
  t.after(() => clearTimeout(killer));
  const result = await load;

  t.diagnostic(
    `${result.requests.total} requests, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
  );
  assert.ok(result.requests.total > 1_000, 'the load ran');
  assert.equal(result.errors, 0);
  assert.equal(result.timeouts, 0);
  assert.equal(result.non2xx, 0);
  assert.equal(instances[1]!.child.signalCode, 'SIGKILL');
});

test('kill -STOP of one instance fails requests only within the detection window, then none', async (t) => {
  const instances = await Promise.all(['a', 'b', 'c'].map((name) => startInstanceProcess(name)));
  t.after(() => Promise.all(instances.map((i) => i.stop())));
  const firstByteMs = 1_000;
  const lb = await startSwitchyard(
    configWith(
      instances.map((i) => i.url),
      { ...checks, slowStartMs: 0, timeouts: { firstByteMs } },
    ),
  );
  t.after(() => lb.close());

  const agent = new Agent({ connections: 8 });
  t.after(() => agent.close());
  const outcomes: { at: number; ok: boolean; detail: string }[] = [];
  const started = Date.now();
  const runForMs = 7_000;
  let stoppedAt = 0;
  const frozen = setTimeout(() => {
    stoppedAt = Date.now();
    instances[2]!.kill('SIGSTOP');
  }, 2_000);
  t.after(() => clearTimeout(frozen));
  const worker = async (): Promise<void> => {
    while (Date.now() - started < runForMs) {
      const sent = Date.now();
      try {
        const response = await request(lb.url('/'), { dispatcher: agent, headersTimeout: 10_000 });
        await response.body.text();
        outcomes.push({ at: sent, ok: response.statusCode === 200, detail: String(response.statusCode) });
      } catch (error) {
        outcomes.push({ at: sent, ok: false, detail: (error as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, () => worker()));

  const failures = outcomes.filter((o) => !o.ok);
  const lastFailureSentMs = failures.length === 0 ? 0 : Math.max(...failures.map((f) => f.at)) - stoppedAt;
  // Detection: fall (2) checks that each time out (200 ms) at a 200 ms interval, plus the snapshot hand-over.
  const detectionWindowMs = 2 * (200 + 200) + 500;
  t.diagnostic(
    `${outcomes.length} requests, ${failures.length} failed; the last failed request was sent ${lastFailureSentMs} ms after SIGSTOP`,
  );
  assert.ok(outcomes.length > 500, 'the load ran');
  assert.ok(
    failures.every((f) => f.at >= stoppedAt - 50),
    'nothing failed before the instance froze',
  );
  assert.ok(lastFailureSentMs <= detectionWindowMs, `requests still failed ${lastFailureSentMs} ms after SIGSTOP`);
  const afterWindow = outcomes.filter((o) => o.at > stoppedAt + detectionWindowMs);
  assert.ok(
    afterWindow.length > 100 && afterWindow.every((o) => o.ok),
    'every request after the detection window succeeded',
  );
});
