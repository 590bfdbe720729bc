import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultAccessLogFields, type AccessEntry } from '../core/access-entry.js';
import { accessLineFormat, needsRequestHeaders } from './access-log-format.js';

const entry: AccessEntry = {
  time: Date.UTC(2025, 0, 31, 12, 34, 56, 789),
  requestId: 'r-1',
  clientIp: '10.0.0.7',
  method: 'GET',
  host: 'shop.example',
  path: '/cart?item=1',
  protocol: 'HTTP/1.1',
  status: 200,
  bytesIn: 120,
  bytesOut: 2326,
  durationMs: 12.3456789,
  route: 'cart',
  service: 'shop',
  endpoint: '10.0.1.1:3000',
  upstreamStatus: 200,
  upstreamDurationMs: 10.0004,
  retries: 1,
  sticky: true,
  flags: '',
  userAgent: 'curl/8.0',
  referer: 'https://example.com/',
};

test('a JSON line has the SPEC fields in order, durations to the microsecond, and "-" for no flags', () => {
  const line = accessLineFormat({ format: 'json' })(entry);
  assert.ok(line.endsWith('}\n'));
  const parsed = JSON.parse(line) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), defaultAccessLogFields);
  assert.equal(parsed['time'], '2025-01-31T12:34:56.789Z');
  assert.equal(parsed['duration_ms'], 12.346);
  assert.equal(parsed['upstream_duration_ms'], 10);
  assert.equal(parsed['flags'], '-');
  assert.equal(parsed['sticky'], true);
});

test('absent values are null, and strings with quotes, backslashes or control characters stay valid JSON', () => {
  const tricky = 'a"b\\c\u0001d\u00e9\u{1f600}';
  const line = accessLineFormat({ format: 'json' })({
    ...entry,
    requestId: undefined,
    path: tricky,
    route: undefined,
    upstreamStatus: undefined,
    upstreamDurationMs: undefined,
    flags: 'UF',
  });
  const parsed = JSON.parse(line) as Record<string, unknown>;
  assert.equal(parsed['path'], tricky);
  assert.deepEqual(
    [parsed['request_id'], parsed['route'], parsed['upstream_status'], parsed['upstream_duration_ms'], parsed['flags']],
    [null, null, null, null, 'UF'],
  );
  assert.equal(line.split('\n').length, 2, 'one line');
});

test('common and combined are the Apache/nginx formats, with nginx escaping in quoted fields', () => {
  assert.equal(
    accessLineFormat({ format: 'common' })(entry),
    '10.0.0.7 - - [31/Jan/2025:12:34:56 +0000] "GET /cart?item=1 HTTP/1.1" 200 2326\n',
  );
  assert.equal(
    accessLineFormat({ format: 'combined' })({ ...entry, userAgent: 'evil "agent"\n', referer: undefined }),
    '10.0.0.7 - - [31/Jan/2025:12:34:56 +0000] "GET /cart?item=1 HTTP/1.1" 200 2326 "-" "evil \\x22agent\\x22\\x0A"\n',
  );
  assert.equal(
    accessLineFormat({ format: 'common' })({ ...entry, method: undefined, path: undefined, protocol: 'tcp' }),
    '10.0.0.7 - - [31/Jan/2025:12:34:56 +0000] "- - tcp" 200 2326\n',
  );
});

test('redaction replaces values (JSON) or writes "-" (text), and query cuts the query string', () => {
  const json = JSON.parse(
    accessLineFormat({ format: 'json', redact: ['client_ip', 'status', 'query'] })(entry),
  ) as Record<string, unknown>;
  assert.deepEqual([json['client_ip'], json['status'], json['path']], ['[redacted]', '[redacted]', '/cart?[redacted]']);
  assert.equal(
    accessLineFormat({ format: 'combined', redact: ['client_ip', 'user_agent', 'query'] })(entry),
    '- - - [31/Jan/2025:12:34:56 +0000] "GET /cart?[redacted] HTTP/1.1" 200 2326 "https://example.com/" "-"\n',
  );
});

test('fields chooses the JSON keys (in the usual order), and only headers that are shown are read', () => {
  const options = { format: 'json' as const, fields: ['referer', 'status', 'time'] as const };
  assert.deepEqual(Object.keys(JSON.parse(accessLineFormat(options)(entry)) as object), ['time', 'status', 'referer']);
  assert.equal(needsRequestHeaders(options), true);
  assert.equal(needsRequestHeaders({ format: 'json' }), false);
  assert.equal(needsRequestHeaders({ format: 'common' }), false);
  assert.equal(needsRequestHeaders({ format: 'combined' }), true);
});
