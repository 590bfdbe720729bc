import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countByOrigin, DelayedOrigins, LoadLoop } from './helpers/balancing-load.js';
import { configWith } from './helpers/origin.js';
import { startSwitchyard } from './helpers/switchyard.js';
import { waitFor } from './helpers/wait.js';

const names = ['e1', 'e2', 'e3', 'e4', 'e5'];
/** Jobs of three sizes in turn, as in traefik/traefik#12306 (there CPU-bound; here waits, so one process can host all). */
const jobs = [10, 25, 50];

test('peak-ewma over real sockets: five identical origins share 1,500 requests evenly (traefik#12306)', async (t) => {
  const set = await DelayedOrigins.start(t, names);
  const lb = await startSwitchyard(configWith(set.urls, { algorithm: 'peak-ewma', slowStartMs: 0 }));
  t.after(() => lb.close());
  const load = new LoadLoop(lb.port(), 10, (n) => `/?ms=${jobs[n % jobs.length]}`);
  t.after(() => load.stop());
  await load.reach(1_500);
  await load.stop();
  const counts = countByOrigin(load.samples.slice(0, 1_500));
  t.diagnostic(`requests per origin: ${JSON.stringify(counts)}`);
  const values = names.map((name) => counts[name] ?? 0);
  assert.ok(Math.max(...values) / Math.min(...values) <= 1.25, JSON.stringify(counts));
  assert.deepEqual(load.errors, []);
});

test('peak-ewma over real sockets: a 10x slower origin loses its traffic within 200 requests and wins it back within 2 s of recovering', async (t) => {
  const set = await DelayedOrigins.start(t, names);
  const lb = await startSwitchyard(configWith(set.urls, { algorithm: 'peak-ewma', slowStartMs: 0 }));
  t.after(() => lb.close());
  // 100 ms a request: long beside the event-loop lag of a loaded machine, which adds to every origin alike and would
  // hide part of a 10x difference between 20 ms and 200 ms.
  const load = new LoadLoop(lb.port(), 16, () => '/?ms=100');
  t.after(() => load.stop());
  await load.reach(300);
  const fair = 1 / names.length;
  const shareOf = (samples: readonly { origin: string }[]): number =>
    samples.filter((s) => s.origin === 'e3').length / samples.length / fair;

  // e3 answers 10x slower (1 s instead of 100 ms).
  const slowAt = Date.now();
  set.setSlowdown('e3', 10);
  await waitFor(() => load.sentBetween(slowAt).length >= 1_000, 60_000, '1,000 requests after the slowdown');
  const slow = load.sentBetween(slowAt);
  const first = shareOf(slow.slice(0, 200));
  const after = shareOf(slow.slice(200, 1_000));
  const seconds = (slow[999]!.sentAt - slow[200]!.sentAt) / 1000;
  t.diagnostic(
    `e3 while slow: first 200 ${(first * 100).toFixed(0)} %, next 800 ${(after * 100).toFixed(0)} % of fair ` +
      `(${(800 / seconds).toFixed(0)} requests/s)`,
  );
  assert.ok(after <= 0.2, `e3 kept ${(after * 100).toFixed(0)} % of its fair share after the first 200 requests`);

  // e3 is fast again: within 2 s it is back to at least half its fair share.
  const recoveredAt = Date.now();
  set.setSlowdown('e3', 1);
  await waitFor(() => Date.now() >= recoveredAt + 3_000, 10_000, 'three seconds after the recovery', 100);
  const windows = [0, 1, 2].map((s) =>
    shareOf(load.sentBetween(recoveredAt + s * 1_000, recoveredAt + (s + 1) * 1_000)),
  );
  await load.stop();
  t.diagnostic(`e3 after recovery, per second: ${windows.map((w) => `${(w * 100).toFixed(0)} %`).join(', ')} of fair`);
  assert.ok(windows[1]! >= 0.5, `e3 got ${(windows[1]! * 100).toFixed(0)} % of its fair share 1-2 s after recovering`);
  assert.deepEqual(load.errors, []);
});
