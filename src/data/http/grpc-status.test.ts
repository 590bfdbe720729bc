import assert from 'node:assert/strict';
import { test } from 'node:test';
import { proxyErrors } from '../../core/errors.js';
import {
  encodeGrpcMessage,
  formatGrpcTimeout,
  grpcCodes,
  grpcStatusFor,
  isGrpcContentType,
  parseGrpcTimeout,
} from './grpc-status.js';

test("Switchyard's own failures map to the gRPC statuses a client retries or gives up on", () => {
  assert.equal(grpcStatusFor(proxyErrors.noEndpoint), grpcCodes.unavailable);
  assert.equal(grpcStatusFor(proxyErrors.connectFailure), grpcCodes.unavailable);
  assert.equal(grpcStatusFor(proxyErrors.upstreamReset), grpcCodes.unavailable);
  assert.equal(grpcStatusFor(proxyErrors.upstreamTimeout), grpcCodes.deadlineExceeded);
  assert.equal(grpcStatusFor(proxyErrors.rateLimited), grpcCodes.resourceExhausted);
  assert.equal(grpcStatusFor(proxyErrors.overloaded), grpcCodes.unavailable);
  assert.equal(grpcStatusFor(proxyErrors.noRoute), grpcCodes.unimplemented);
  assert.equal(grpcStatusFor(proxyErrors.payloadTooLarge), grpcCodes.resourceExhausted);
  for (const error of Object.values(proxyErrors)) assert.notEqual(grpcStatusFor(error), grpcCodes.unknown, error.code);
});

test('grpc-timeout: every unit, rounded up to whole ms; malformed values are ignored', () => {
  assert.equal(parseGrpcTimeout('1H'), 3_600_000);
  assert.equal(parseGrpcTimeout('2M'), 120_000);
  assert.equal(parseGrpcTimeout('3S'), 3_000);
  assert.equal(parseGrpcTimeout('250m'), 250);
  assert.equal(parseGrpcTimeout('1500u'), 2);
  assert.equal(parseGrpcTimeout('10n'), 1);
  assert.equal(parseGrpcTimeout('99999999S'), 99_999_999_000);
  for (const bad of ['', '5', 'S', '123456789S', '1.5S', '-1S', '10s', ' 1S']) {
    assert.equal(parseGrpcTimeout(bad), undefined, bad);
  }
  assert.equal(parseGrpcTimeout(undefined), undefined);
  assert.equal(formatGrpcTimeout(1234.2), '1235m');
  assert.equal(formatGrpcTimeout(0), '1m');
});

test('grpc-message is percent-encoded UTF-8, printable ASCII kept', () => {
  assert.equal(encodeGrpcMessage('No healthy endpoint'), 'No healthy endpoint');
  assert.equal(encodeGrpcMessage('100% sure'), '100%25 sure');
  assert.equal(encodeGrpcMessage('é\n'), '%C3%A9%0A');
});

test('gRPC content types are recognised, others are not', () => {
  for (const type of ['application/grpc', 'application/grpc+proto', 'application/grpc+json', 'application/grpc-web'])
    assert.equal(isGrpcContentType(type), true, type);
  for (const type of ['application/grpcx', 'application/json', 'text/grpc', undefined])
    assert.equal(isGrpcContentType(type), false, String(type));
});
