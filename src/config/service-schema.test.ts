import assert from 'node:assert/strict';
import { test } from 'node:test';
import { healthCheckSchema, serviceSchema } from './service-schema.js';

const issues = (result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  (result.error?.issues ?? []).map((issue) => `${issue.path.join('.')}: ${issue.message}`);

test('upstreamProtocol defaults to http1 and accepts http2 and auto', () => {
  assert.equal(serviceSchema.parse({}).upstreamProtocol, 'http1');
  assert.equal(serviceSchema.parse({ upstreamProtocol: 'http2' }).upstreamProtocol, 'http2');
  assert.equal(serviceSchema.parse({ upstreamProtocol: 'auto' }).upstreamProtocol, 'auto');
});

test('an unknown upstreamProtocol is refused with the allowed values named', () => {
  const result = serviceSchema.safeParse({ upstreamProtocol: 'h2c' });
  assert.equal(result.success, false);
  const [problem] = issues(result);
  assert.match(problem ?? '', /^upstreamProtocol: /);
  assert.match(problem ?? '', /http1.*http2.*auto/);
});

test('healthCheck.grpc asks about the whole instance ("") unless a service is named', () => {
  assert.deepEqual(healthCheckSchema.parse({ grpc: {} }).grpc, { service: '' });
  assert.deepEqual(healthCheckSchema.parse({ grpc: { service: 'greeter.Greeter' } }).grpc, {
    service: 'greeter.Greeter',
  });
  const check = healthCheckSchema.parse({ grpc: { service: '' }, intervalMs: 2000 });
  assert.equal(check.intervalMs, 2000);
});

test('a health check gives exactly one of http, tcp and grpc', () => {
  for (const both of [{ http: {}, grpc: {} }, { tcp: {}, grpc: {} }, {}]) {
    const result = healthCheckSchema.safeParse(both);
    assert.equal(result.success, false, JSON.stringify(both));
    assert.ok(issues(result).some((text) => text.includes('exactly one of "http", "tcp" and "grpc"')));
  }
});

test('healthCheck.grpc refuses unknown keys and a non-string service', () => {
  assert.equal(healthCheckSchema.safeParse({ grpc: { path: '/x' } }).success, false);
  assert.equal(healthCheckSchema.safeParse({ grpc: { service: 5 } }).success, false);
});
