import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../core/log.js';
import type { Snapshot } from '../core/snapshot.js';
import { logPanicChanges } from './panic-log.js';

/** A snapshot with one service `api` of two ready endpoints, in panic or not (only the fields the log reads). */
const snapshot = (panic: boolean): Snapshot =>
  ({
    services: {
      api: {
        panic,
        endpoints: [
          { id: 'a', state: 'ready', weight: 1, health: 'down' },
          { id: 'b', state: 'ready', weight: 1, health: panic ? 'down' : 'up' },
        ],
      },
    },
  }) as unknown as Snapshot;

test('entering and leaving panic mode is logged once each, and nothing while it lasts', () => {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger({ level: 'info', destination });
  logPanicChanges(undefined, snapshot(false), log);
  logPanicChanges(snapshot(false), snapshot(true), log);
  logPanicChanges(snapshot(true), snapshot(true), log);
  logPanicChanges(snapshot(true), snapshot(false), log);
  assert.deepEqual(
    lines.map((l) => [l['level'], l['service'], l['endpoints'], l['msg']]),
    [
      [40, 'api', 2, 'panic mode: no ready endpoint is healthy; balancing over all of them instead of answering 503'],
      [30, 'api', undefined, 'panic mode over: a healthy endpoint is back'],
    ],
  );
});
