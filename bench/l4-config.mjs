#!/usr/bin/env node
// bench/l4-config.mjs: the Switchyard configuration for the L4 benchmarks, as YAML.
//
// Two `tcp` listeners: "bulk" forwards to one upstream (iperf3's control and data connections must reach the same
// server), "small" balances round-robin per connection over the HTTP upstreams. bench/run.mjs imports l4Config();
// the shared harness (../shared/bench) runs this file to write the config before it starts Switchyard:
//
//   LB4_CMD='node /work/main/bench/l4-config.mjs > "$TMPDIR/sy-l4.yaml" &&
//            exec node /work/main/bin/switchyard.js start -c "$TMPDIR/sy-l4.yaml" --log-level warn'
//
// Run as a script it reads BENCH_IPERF_BACKEND (host:port) and BENCH_BACKENDS (host:port,host:port), as the harness
// sets them, and L4_BULK_LISTEN / L4_HTTP_LISTEN (default 127.0.0.1:7090 / 127.0.0.1:7091), and prints the YAML.
//
// In that mode the bulk service gets `tunnelIdleMs: 10000` (L4_BULK_IDLE_MS; 0 keeps Switchyard's 1 h): the harness
// checks that the listener is up by connecting and closing at once, and Switchyard (as of b11d7c5) loses a client FIN
// that arrives before the endpoint has connected, so that probe can leave a half-open connection on iperf3 -s, which
// serves one client at a time and would block every test behind it. The idle timeout closes it after 10 s, before the
// first bulk run. It must stay above the bulk run's length: iperf3's control connection is silent during the test.
import { fileURLToPath } from 'node:url';

/**
 * @param {{ bulkListen?: string, bulkUpstream?: string, httpListen?: string, httpUpstreams?: string[],
 *   bulkIdleMs?: number }} o host:port strings (a listener is left out when its address or its upstream(s) are
 *   missing), and optionally the bulk service's `timeouts.tunnelIdleMs` (Switchyard's default, 1 h, otherwise).
 * @returns {string} YAML
 */
export function l4Config(o) {
  const q = (s) => JSON.stringify(s);
  const listeners = [];
  const services = [];
  if (o.bulkListen && o.bulkUpstream) {
    listeners.push(`  - { name: bulk, protocol: tcp, address: ${q(o.bulkListen)}, service: bulk }`);
    const idle = o.bulkIdleMs ? `, timeouts: { tunnelIdleMs: ${o.bulkIdleMs} }` : '';
    services.push(`  bulk: { endpoints: [ { url: ${q(`tcp://${o.bulkUpstream}`)} } ]${idle} }`);
  }
  if (o.httpListen && o.httpUpstreams?.length) {
    listeners.push(`  - { name: small, protocol: tcp, address: ${q(o.httpListen)}, service: small }`);
    const eps = o.httpUpstreams.map((u) => `{ url: ${q(`tcp://${u}`)} }`).join(', ');
    services.push(`  small: { algorithm: round-robin, endpoints: [ ${eps} ] }`);
  }
  if (listeners.length === 0) throw new Error('l4Config: no listener (give an address and its upstream(s))');
  return [
    '# Written by bench/l4-config.mjs for the L4 benchmark.',
    'admin: { enabled: false }',
    'registry: { store: memory }',
    'listeners:',
    ...listeners,
    'routes: []',
    'services:',
    ...services,
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const E = process.env;
  const list = (v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  process.stdout.write(
    l4Config({
      bulkListen: E.L4_BULK_LISTEN || '127.0.0.1:7090',
      bulkUpstream: E.BENCH_IPERF_BACKEND,
      httpListen: E.L4_HTTP_LISTEN || '127.0.0.1:7091',
      httpUpstreams: list(E.BENCH_BACKENDS),
      bulkIdleMs: E.L4_BULK_IDLE_MS === undefined || E.L4_BULK_IDLE_MS === '' ? 10_000 : Number(E.L4_BULK_IDLE_MS),
    }),
  );
}
