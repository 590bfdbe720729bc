import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { startSwitchyard } from './helpers/switchyard.js';

// etcd3 (gRPC, protobufjs) and acme-client are loaded on first use (src/core/lazy-require.ts): a balancer on the
// file or memory store without ACME starts without them, in less time, memory and open files.
test('a balancer without etcd or ACME never loads etcd3, gRPC or acme-client', async (t) => {
  const lb = await startSwitchyard({
    admin: { address: '127.0.0.1:0' },
    registry: { store: 'memory' },
    listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1:0', service: 'app' }],
    services: { app: { endpoints: [{ url: 'http://127.0.0.1:9' }] } },
  });
  t.after(() => lb.close());
  const loaded = Object.keys(createRequire(import.meta.url).cache);
  for (const name of ['/node_modules/etcd3/', '/node_modules/@grpc/grpc-js/', '/node_modules/acme-client/'])
    assert.equal(
      loaded.some((file) => file.includes(name)),
      false,
      `${name} was loaded`,
    );
});
