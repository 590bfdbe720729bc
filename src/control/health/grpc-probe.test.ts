import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeServingStatus, encodeHealthCheckRequest, grpcFrame } from './grpc-probe.js';

test('HealthCheckRequest encodes the service as field 1 and the empty name as an empty message', () => {
  assert.deepEqual(encodeHealthCheckRequest(''), Buffer.alloc(0));
  assert.deepEqual(encodeHealthCheckRequest('ab'), Buffer.from([0x0a, 0x02, 0x61, 0x62]));
  const long = encodeHealthCheckRequest('x'.repeat(300));
  assert.deepEqual(long.subarray(0, 3), Buffer.from([0x0a, 0xac, 0x02])); // 300 as a two-byte varint
  assert.equal(long.length, 303);
});

test('HealthCheckResponse: status field 1 is read, absent means UNKNOWN, unknown fields are skipped', () => {
  assert.equal(decodeServingStatus(Buffer.from([0x08, 0x01])), 1);
  assert.equal(decodeServingStatus(Buffer.from([0x08, 0x02])), 2);
  assert.equal(decodeServingStatus(Buffer.alloc(0)), 0);
  assert.equal(decodeServingStatus(Buffer.from([0x12, 0x01, 0x41, 0x08, 0x01])), 1);
  assert.equal(decodeServingStatus(Buffer.from([0x08])), undefined);
  assert.equal(decodeServingStatus(Buffer.from([0x12, 0x05, 0x41])), undefined);
});

test('a gRPC message is framed with a zero flag and a big-endian length', () => {
  assert.deepEqual(grpcFrame(Buffer.from([0x08, 0x01])), Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]));
});
