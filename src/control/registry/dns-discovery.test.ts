import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startDnsServer, type DnsServer } from '../../../test/integration/helpers/dns-server.js';
import type { DnsConfig } from '../../config/service-schema.js';
import { createLogger } from '../../core/log.js';
import { DnsDiscovery, type DiscoveredEndpoint } from './dns-discovery.js';

const dns = (name: string, more: Partial<DnsConfig> = {}): DnsConfig => ({
  name,
  type: 'A',
  scheme: 'http',
  refreshMs: 50,
  ...more,
});

/** Polls until `condition` holds; fails with `what` after the deadline. */
async function until(what: string, condition: () => boolean, deadlineMs = 5_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Harness {
  readonly server: DnsServer;
  readonly resolver: Resolver;
  readonly discovery: DnsDiscovery;
  readonly changes: { service: string; endpoints: readonly DiscoveredEndpoint[] }[];
  readonly warnings: Record<string, unknown>[];
}

/** A DNS server, a resolver that asks only it, and a discovery recording its changes and warnings. */
async function start(t: TestContext): Promise<Harness> {
  const server = await startDnsServer();
  t.after(() => server.close());
  const resolver = new Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([`127.0.0.1:${server.port}`]);
  t.after(() => resolver.cancel());
  const warnings: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = JSON.parse(chunk.toString()) as Record<string, unknown>;
      if (line['level'] === 40) warnings.push(line);
      done();
    },
  });
  const changes: Harness['changes'] = [];
  const discovery = new DnsDiscovery({
    resolver,
    log: createLogger({ level: 'info', destination }),
    onChange: (service, endpoints) => changes.push({ service, endpoints }),
  });
  t.after(() => discovery.close());
  return { server, resolver, discovery, changes, warnings };
}

test('A records become one endpoint per address on the configured port, sorted by id, weight 1', async (t) => {
  const { server, discovery, changes } = await start(t);
  server.set('web.test', { a: ['127.0.0.3', '127.0.0.2'] });
  assert.equal(discovery.endpoints('web'), undefined);
  discovery.sync([{ service: 'web', dns: dns('web.test', { port: 8080 }) }]);
  await until('the first answer', () => changes.length === 1);
  const expected = [
    { id: '127.0.0.2:8080', url: 'http://127.0.0.2:8080', weight: 1 },
    { id: '127.0.0.3:8080', url: 'http://127.0.0.3:8080', weight: 1 },
  ];
  assert.deepEqual(changes[0], { service: 'web', endpoints: expected });
  assert.deepEqual(discovery.endpoints('web'), expected);
});

test('AAAA records give bracketed IPv6 URLs and ids', async (t) => {
  const { server, discovery, changes } = await start(t);
  server.set('v6.test', { aaaa: ['::1', '2001:db8::2'] });
  discovery.sync([{ service: 'v6', dns: dns('v6.test', { type: 'AAAA', port: 8443, scheme: 'https' }) }]);
  await until('the first answer', () => changes.length === 1);
  assert.deepEqual(discovery.endpoints('v6'), [
    { id: '[2001:db8::2]:8443', url: 'https://[2001:db8::2]:8443', weight: 1 },
    { id: '[::1]:8443', url: 'https://[::1]:8443', weight: 1 },
  ]);
});

test('SRV records give their own ports and weights, lowest priority only, and weight 0 still gets a share', async (t) => {
  const { server, discovery, changes } = await start(t);
  server.set('_http._tcp.api.test', {
    srv: [
      { priority: 20, weight: 100, port: 9003, target: 'backup.api.test' },
      { priority: 10, weight: 0, port: 9002, target: 'B.api.test.' },
      { priority: 10, weight: 5, port: 9001, target: 'a.api.test' },
    ],
  });
  discovery.sync([{ service: 'api', dns: dns('_http._tcp.api.test', { type: 'SRV' }) }]);
  await until('the first answer', () => changes.length === 1);
  assert.deepEqual(discovery.endpoints('api'), [
    { id: 'a.api.test:9001', url: 'http://a.api.test:9001', weight: 5 },
    { id: 'b.api.test:9002', url: 'http://b.api.test:9002', weight: 1 },
  ]);
});

test('a changed record set is reported after refreshMs; an unchanged one (even reordered) is not', async (t) => {
  const { server, discovery, changes } = await start(t);
  server.set('web.test', { a: ['127.0.0.2', '127.0.0.3'] });
  discovery.sync([{ service: 'web', dns: dns('web.test', { port: 80 }) }]);
  await until('the first answer', () => changes.length === 1);
  server.set('web.test', { a: ['127.0.0.3', '127.0.0.2'] });
  const asked = server.queriesFor('web.test');
  await until('three more refreshes', () => server.queriesFor('web.test') >= asked + 3);
  assert.equal(changes.length, 1);

  server.set('web.test', { a: ['127.0.0.4'] });
  await until('the change', () => changes.length === 2);
  assert.deepEqual(changes[1]?.endpoints, [{ id: '127.0.0.4:80', url: 'http://127.0.0.4:80', weight: 1 }]);
});

test('a weight change alone is a change', async (t) => {
  const { server, discovery, changes } = await start(t);
  const srv = (weight: number) => ({ srv: [{ priority: 1, weight, port: 81, target: 'a.test' }] });
  server.set('_s._tcp.test', srv(1));
  discovery.sync([{ service: 's', dns: dns('_s._tcp.test', { type: 'SRV' }) }]);
  await until('the first answer', () => changes.length === 1);
  server.set('_s._tcp.test', srv(7));
  await until('the change', () => changes.length === 2);
  assert.equal(changes[1]?.endpoints[0]?.weight, 7);
});

test('SERVFAIL, REFUSED, NXDOMAIN and timeouts keep the last known set and warn with the error code', async (t) => {
  const { server, discovery, changes, warnings } = await start(t);
  server.set('web.test', { a: ['127.0.0.2'] });
  discovery.sync([{ service: 'web', dns: dns('web.test', { port: 80 }) }]);
  await until('the first answer', () => changes.length === 1);
  const known = discovery.endpoints('web');

  const faults = [
    ['SERVFAIL', 'ESERVFAIL'],
    ['REFUSED', 'EREFUSED'],
    ['DROP', 'ETIMEOUT'],
  ] as const;
  for (const [fault, code] of faults) {
    server.set('web.test', fault);
    await until(`a ${code} warning`, () => warnings.some((line) => line['code'] === code));
  }
  server.delete('web.test');
  await until('an ENOTFOUND warning', () => warnings.some((line) => line['code'] === 'ENOTFOUND'));
  assert.deepEqual(discovery.endpoints('web'), known);
  assert.equal(changes.length, 1);
  assert.equal(warnings[0]?.['service'], 'web');

  server.set('web.test', { a: ['127.0.0.5'] });
  await until('the recovery', () => changes.length === 2);
  assert.equal(discovery.endpoints('web')?.[0]?.id, '127.0.0.5:80');
});

test('a name that never answers leaves the set undefined and keeps trying', async (t) => {
  const { server, discovery, changes } = await start(t);
  discovery.sync([{ service: 'ghost', dns: dns('ghost.test', { port: 80 }) }]);
  await until('three attempts', () => server.queriesFor('ghost.test') >= 3);
  assert.equal(discovery.endpoints('ghost'), undefined);
  server.set('ghost.test', { a: ['127.0.0.9'] });
  await until('the first answer', () => changes.length === 1);
});

test('a slow answer delays the next refresh instead of overlapping it', async (t) => {
  let inFlight = 0;
  let most = 0;
  let calls = 0;
  const slow = async (): Promise<string[]> => {
    calls += 1;
    most = Math.max(most, ++inFlight);
    await new Promise((resolve) => setTimeout(resolve, 60));
    inFlight -= 1;
    return ['127.0.0.2'];
  };
  const reject = () => Promise.reject(new Error('unused'));
  const discovery = new DnsDiscovery({
    resolver: { resolve4: slow, resolve6: reject, resolveSrv: reject },
    log: createLogger({ level: 'silent' }),
    onChange: () => {},
  });
  t.after(() => discovery.close());
  discovery.sync([{ service: 'web', dns: dns('web.test', { port: 80, refreshMs: 5 }) }]);
  await until('five refreshes', () => calls >= 5);
  assert.equal(most, 1);
});

test('a service removed by sync is no longer queried, even with a query in flight, and its set is forgotten', async (t) => {
  const { server, discovery, changes } = await start(t);
  server.set('keep.test', { a: ['127.0.0.2'] });
  server.set('drop.test', { a: ['127.0.0.3'] });
  discovery.sync([
    { service: 'keep', dns: dns('keep.test', { port: 80 }) },
    { service: 'drop', dns: dns('drop.test', { port: 80 }) },
  ]);
  await until('both answers', () => changes.length === 2);
  // Unanswered, the next query of drop.test stays in flight until the resolver's 200 ms timeout.
  server.set('drop.test', 'DROP');
  const before = server.queriesFor('drop.test');
  await until('a query of drop.test in flight', () => server.queriesFor('drop.test') > before);
  discovery.sync([{ service: 'keep', dns: dns('keep.test', { port: 80 }) }]);
  assert.equal(discovery.endpoints('drop'), undefined);
  // The other service's queries are the clock: ten refreshes outlast the timeout of the query in flight.
  const clock = server.queriesFor('keep.test');
  await until('ten refreshes of keep', () => server.queriesFor('keep.test') >= clock + 10);
  assert.equal(server.queriesFor('drop.test'), before + 1);
  assert.equal(changes.length, 2);
});

test('a changed name restarts discovery at once; a changed refreshMs alone keeps the set', async (t) => {
  const { server, discovery, changes } = await start(t);
  server.set('old.test', { a: ['127.0.0.2'] });
  server.set('new.test', { a: ['127.0.0.3'] });
  discovery.sync([{ service: 'web', dns: dns('old.test', { port: 80, refreshMs: 60_000 }) }]);
  await until('the first answer', () => changes.length === 1);
  discovery.sync([{ service: 'web', dns: dns('new.test', { port: 80, refreshMs: 60_000 }) }]);
  assert.equal(discovery.endpoints('web'), undefined);
  await until('the new name answers', () => changes.length === 2);
  assert.equal(changes[1]?.endpoints[0]?.id, '127.0.0.3:80');

  discovery.sync([{ service: 'web', dns: dns('new.test', { port: 80, refreshMs: 50 }) }]);
  assert.equal(discovery.endpoints('web')?.[0]?.id, '127.0.0.3:80');
  const asked = server.queriesFor('new.test');
  await until('refreshes at the new interval', () => server.queriesFor('new.test') >= asked + 2);
  assert.equal(changes.length, 2);
  assert.equal(server.queriesFor('old.test'), 1);
});

test('close() stops every refresh, and a sync after it starts nothing', async (t) => {
  const { server, discovery, changes } = await start(t);
  server.set('web.test', { a: ['127.0.0.2'] });
  discovery.sync([{ service: 'web', dns: dns('web.test', { port: 80 }) }]);
  await until('the first answer', () => changes.length === 1);
  discovery.close();
  discovery.sync([{ service: 'late', dns: dns('late.test', { port: 80 }) }]);
  assert.equal(discovery.endpoints('web'), undefined);
  // A second discovery's queries are the clock, as in the test above.
  const witness = await start(t);
  witness.server.set('witness.test', { a: ['127.0.0.3'] });
  witness.discovery.sync([{ service: 'witness', dns: dns('witness.test', { port: 80 }) }]);
  await until('a witness refresh', () => witness.server.queriesFor('witness.test') >= 1);
  const asked = server.queriesFor('web.test');
  await until('three witness refreshes', () => witness.server.queriesFor('witness.test') >= 4);
  assert.equal(server.queriesFor('web.test'), asked);
  assert.equal(server.queriesFor('late.test'), 0);
  assert.equal(changes.length, 1);
});

test('a running discovery does not keep the process alive', async (t) => {
  const server = await startDnsServer();
  t.after(() => server.close());
  server.set('web.test', { a: ['127.0.0.2'] });
  const module = fileURLToPath(new URL('./dns-discovery.ts', import.meta.url));
  const script = `
    import { Resolver } from 'node:dns/promises';
    import { pino } from 'pino';
    const { DnsDiscovery } = await import(${JSON.stringify(module)});
    const resolver = new Resolver({ timeout: 200, tries: 1 });
    resolver.setServers(['127.0.0.1:${server.port}']);
    const discovery = new DnsDiscovery({
      resolver, log: pino({ level: 'silent' }), onChange: () => console.log('answered'),
    });
    discovery.sync([{ service: 'web', dns: { name: 'web.test', type: 'A', port: 80, scheme: 'http', refreshMs: 20 } }]);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill());
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await until('the child to exit on its own', () => child.exitCode !== null, 10_000);
  assert.equal(await exited, 0);
  assert.match(stdout, /answered/);
});
