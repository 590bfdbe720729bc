#!/usr/bin/env node
// bench/scale.mjs: the scale of the work, as micro-benchmarks (not timed tests): a pick with 1,000 endpoints for
// every algorithm, a route lookup with 10,000 routes, and a reload of a 10,000-route configuration applied to a
// running balancer while a client keeps sending requests (none may fail). Reads dist/ (`npm run build` first).
// Prints a markdown table on stdout. Env: PICKS (per algorithm, 200000), LOOKUPS (200000), RELOADS (5).
import { spawn } from 'node:child_process';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const dist = new URL('../dist/', import.meta.url);
const { createBalancer } = await import(new URL('data/balancing/create-balancer.js', dist).href);
const { RouteTable } = await import(new URL('data/routing/route-table.js', dist).href);
const { routesOf } = await import(new URL('control/snapshot.js', dist).href);
const { configSchema } = await import(new URL('config/schema.js', dist).href);
const { createSwitchyard } = await import(new URL('main.js', dist).href);
const { algorithms } = await import(new URL('config/service-schema.js', dist).href);

const E = process.env;
const PICKS = Number(E.PICKS ?? 200_000);
const LOOKUPS = Number(E.LOOKUPS ?? 200_000);
const RELOADS = Number(E.RELOADS ?? 5);
const log = (...a) => console.error(...a);

/**
 * Median of `rounds` timings of `fn` run up to `n` times, in ns per call; a round stops after `budgetMs` so a slow
 * case (O(n) picks over 1,000 endpoints) still finishes.
 */
function nsPerCall(n, fn, rounds = 5, budgetMs = 400) {
  const times = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    let calls = 0;
    while (calls < n) {
      for (let i = 0; i < 1000; i++) fn(calls + i);
      calls += 1000;
      if (performance.now() - start > budgetMs) break;
    }
    times.push(((performance.now() - start) * 1e6) / calls);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

// ---------------------------------------------------------------------------------------------- picks
const balancing = configSchema.parse({
  listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1:0', service: 's' }],
  services: { s: { endpoints: [] } },
}).services.s.balancing;
const endpoints = Array.from({ length: 1000 }, (_, i) => ({
  id: `10.0.${i >> 8}.${i & 255}:8080`,
  url: `http://10.0.${i >> 8}.${i & 255}:8080`,
  weight: 1 + (i % 3),
  state: 'ready',
  metadata: {},
}));
// A gauge as the data plane builds it at apply(): endpoint id -> live counters, with some load on each.
const live = new Map(endpoints.map((e, i) => [e.id, { inFlight: i % 7, latency: 5 + (i % 11), load: (i % 13) / 13 }]));
const gauge = {
  active: (id) => live.get(id)?.inFlight ?? 0,
  latencyMs: (id) => live.get(id)?.latency,
  reportedLoad: (id) => live.get(id)?.load,
  reportedAt: () => Date.now(),
  // The data plane keeps the service's total in flight as one number (upstream/in-flight.ts).
  totalActive: () => totalInFlight,
};
const totalInFlight = [...live.values()].reduce((sum, e) => sum + e.inFlight, 0);
const pickRows = [];
for (const algorithm of algorithms) {
  const balancer = createBalancer(algorithm, endpoints, gauge, { random: Math.random, now: Date.now, balancing });
  const keys = Array.from({ length: 1024 }, (_, i) => `client-${i}`);
  const ns = nsPerCall(PICKS, (i) => balancer.pick({ hashKey: keys[i & 1023] }));
  pickRows.push([algorithm, ns]);
  log(`pick ${algorithm}: ${(ns / 1000).toFixed(3)} µs`);
}

{
  // The worst case of the scanning algorithms: no endpoint idle (least-connections stops at the first idle one).
  const busy = { ...gauge, active: (id) => 1 + (live.get(id)?.inFlight ?? 0) };
  const balancer = createBalancer('least-connections', endpoints, busy, {
    random: Math.random,
    now: Date.now,
    balancing,
  });
  const ns = nsPerCall(PICKS, () => balancer.pick({}));
  pickRows.push(['least-connections, every endpoint busy', ns]);
  log(`pick least-connections (all busy): ${(ns / 1000).toFixed(3)} µs`);
}

// ---------------------------------------------------------------------------------------------- route lookup
function bigConfig(routeCount, upstream) {
  const routes = [];
  for (let i = 0; i < routeCount; i++) {
    const kind = i % 4;
    const match =
      kind === 0
        ? { host: `svc${i}.example.com`, path: { prefix: `/api/v${i % 3}/` } }
        : kind === 1
          ? { path: { prefix: `/team${i}/` }, headers: { 'x-tenant': `t${i}` } }
          : kind === 2
            ? { path: { exact: `/items/${i}` }, methods: ['GET', 'HEAD'] }
            : { host: `*.zone${i}.example.net`, path: { prefix: '/' } };
    routes.push({ name: `r${i}`, match, service: 'app' });
  }
  routes.push({ name: 'catch-all', match: { path: { prefix: '/' } }, service: 'app' });
  return {
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [{ name: 'web', protocol: 'http', address: '127.0.0.1:0' }],
    routes,
    services: { app: { endpoints: [{ url: upstream }] } },
  };
}
const config = configSchema.parse(bigConfig(10_000, 'http://127.0.0.1:9'));
const table = new RouteTable(routesOf(config));
const requests = [
  [
    'catch-all (walks the any-host buckets)',
    { host: 'www.example.org', path: '/', method: 'GET', query: '', rawHeaders: [], clientIp: '1.2.3.4' },
  ],
  [
    'exact host + prefix',
    { host: 'svc4000.example.com', path: '/api/v1/x', method: 'GET', query: '', rawHeaders: [], clientIp: '1.2.3.4' },
  ],
  [
    'header condition',
    {
      host: 'a.b',
      path: '/team5001/x',
      method: 'GET',
      query: '',
      rawHeaders: ['X-Tenant', 't5001'],
      clientIp: '1.2.3.4',
    },
  ],
  [
    'wildcard host',
    { host: 'a.zone7003.example.net', path: '/z', method: 'GET', query: '', rawHeaders: [], clientIp: '1.2.3.4' },
  ],
];
const routeRows = [];
for (const [what, request] of requests) {
  const matched = table.match(request)?.route.name;
  const ns = nsPerCall(LOOKUPS, () => table.match(request));
  routeRows.push([what, matched, ns]);
  log(`route ${what} -> ${matched}: ${(ns / 1000).toFixed(3)} µs`);
}

// ---------------------------------------------------------------------------------------------- reload
const upstream = http.createServer((req, res) => res.end('ok'));
await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upstreamUrl = `http://127.0.0.1:${upstream.address().port}`;
const small = bigConfig(10, upstreamUrl);
const lb = await createSwitchyard(small);
const port = lb.address('web').port;
// The client runs in a process of its own, so a reload that blocks the balancer's loop delays it without also
// stopping it from sending: every request it sent during the reloads must come back 200.
const CLIENT = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
let sent = 0, failed = 0, running = true;
process.on('message', () => { running = false; });
const one = () => new Promise((resolve) => {
  http.get({ host: '127.0.0.1', port: Number(process.env.PORT), path: '/', agent }, (res) => {
    if (res.statusCode !== 200) failed++;
    res.resume(); res.on('end', resolve);
  }).on('error', () => { failed++; resolve(); });
});
(async () => {
  await Promise.all(Array.from({ length: 8 }, async () => { while (running) { await one(); sent++; } }));
  process.send({ sent, failed }, () => process.exit(0));
})();
`;
const clientProcess = spawn(process.execPath, ['-e', CLIENT], {
  env: { ...process.env, PORT: String(port) },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const clientDone = new Promise((resolve) => clientProcess.once('message', resolve));
await new Promise((resolve) => setTimeout(resolve, 500));
const reloadMs = [];
for (let i = 0; i < RELOADS; i++) {
  const next = bigConfig(10_000 + i, upstreamUrl);
  const start = performance.now();
  await lb.apply(next);
  reloadMs.push(performance.now() - start);
  log(`reload ${i + 1}: ${reloadMs.at(-1).toFixed(1)} ms`);
}
await new Promise((resolve) => setTimeout(resolve, 500));
clientProcess.send('stop');
const { sent, failed } = await clientDone;
await lb.close(1000);
upstream.close();
reloadMs.sort((a, b) => a - b);

const f = (n, d = 3) => n.toFixed(d);
console.log('### Scale of the work (bench/scale.mjs)');
console.log('');
console.log(`Pick with 1,000 endpoints (weights 1–3, some load on each), median of 5 × ${PICKS} picks:`);
console.log('');
console.log('| algorithm | µs / pick | target ≤ 1 µs |');
console.log('|---|--:|:-:|');
for (const [a, ns] of pickRows) console.log(`| ${a} | ${f(ns / 1000)} | ${ns <= 1000 ? 'met' : 'not met'} |`);
console.log('');
console.log(
  `Route lookup in a table of 10,001 routes (host, header, method, wildcard and prefix routes), ${LOOKUPS} lookups:`,
);
console.log('');
console.log('| request | matched | µs / lookup | target ≤ 2 µs |');
console.log('|---|---|--:|:-:|');
for (const [w, m, ns] of routeRows)
  console.log(`| ${w} | ${m} | ${f(ns / 1000)} | ${ns <= 2000 ? 'met' : 'not met'} |`);
console.log('');
console.log(
  `Reload of a 10,000-route configuration into a running balancer (apply(), validation included), ${RELOADS} times ` +
    `while a client sent ${sent} requests: median ${f(reloadMs[Math.floor(reloadMs.length / 2)], 1)} ms, max ` +
    `${f(reloadMs.at(-1), 1)} ms (target ≤ 200 ms); failed requests: ${failed}.`,
);
