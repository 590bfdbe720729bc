import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { accessLogSchema } from '../config/access-log-schema.js';
import type { AccessEntry } from '../core/access-entry.js';
import { AccessLog } from './access-log.js';
import { LineWriter } from './line-writer.js';

function tempFile(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-access-log-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'access.log');
}

const entry = (path: string, status = 200, flags = ''): AccessEntry => ({
  time: 0,
  requestId: undefined,
  clientIp: '127.0.0.1',
  method: 'GET',
  host: undefined,
  path,
  protocol: 'HTTP/1.1',
  status,
  bytesIn: 0,
  bytesOut: 0,
  durationMs: 1,
  route: undefined,
  service: undefined,
  endpoint: undefined,
  upstreamStatus: undefined,
  upstreamDurationMs: undefined,
  retries: 0,
  sticky: false,
  flags,
});

const pathsIn = (file: string): string[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { path: string }).path);

test('sampling keeps a share of the successful lines and every error line', async (t) => {
  const file = tempFile(t);
  const draws = [0.2, 0.7, 0.4, 0.9];
  const log = new AccessLog(pino({ level: 'silent' }), () => draws.shift() ?? 1);
  log.configure(accessLogSchema.parse({ enabled: true, path: file, sample: 0.5 }));
  for (const path of ['/a', '/b', '/c', '/d']) log.write(entry(path));
  log.write(entry('/5xx', 503));
  log.write(entry('/flagged', 0, 'DC'));
  await log.close();
  assert.deepEqual(pathsIn(file), ['/a', '/c', '/5xx', '/flagged']);
});

test('a changed configuration applies to the next line; turning the log off stops lines', async (t) => {
  const file = tempFile(t);
  const log = new AccessLog(pino({ level: 'silent' }));
  assert.equal(log.configure(accessLogSchema.parse({ enabled: true, path: file })), log);
  log.write(entry('/json'));
  assert.equal(log.configure(accessLogSchema.parse({ enabled: true, path: file, format: 'common' })), log);
  log.write(entry('/common'));
  assert.equal(log.configure(accessLogSchema.parse({ enabled: false, path: file })), undefined);
  log.write(entry('/off'));
  await log.close();
  const lines = readFileSync(file, 'utf8').split('\n');
  assert.match(lines[0]!, /^\{"time":.*"path":"\/json"/);
  assert.match(lines[1]!, /^127\.0\.0\.1 - - \[.*\] "GET \/common HTTP\/1\.1" 200 0$/);
  assert.equal(lines[2], '');
  assert.equal(lines.length, 3);
});

test('lines beyond the buffer bound are dropped and counted, not queued', async (t) => {
  const file = tempFile(t);
  let dropped = 0;
  const writer = new LineWriter({
    path: file,
    maxBufferBytes: 100,
    onDrop: (lines) => (dropped += lines),
    onError: (error) => assert.fail(error),
  });
  for (let i = 0; i < 10; i++) writer.write(`${'x'.repeat(50)}${i}\n`);
  writer.flush();
  assert.equal(dropped, 10);
  writer.write('small\n');
  await writer.close();
  assert.equal(readFileSync(file, 'utf8'), 'small\n');
});
