import type { Workload } from './workload.js';

/** What every preset shares unless it says otherwise. */
const base = {
  endpointSpecs: [{ speed: 1, cores: 4, weight: 1 }],
  endpointCount: 4,
  durationMs: 60_000,
  clients: { count: 1000, skew: 0 },
  stickiness: 'off',
  loadMetric: 'in-flight',
  outages: [],
  // Health checks every 2 s with fall 3 / rise 2 notice a change in about this long.
  detectMs: 6_000,
  heartbeatMs: 1_000,
  stepMs: 500,
} as const satisfies Partial<Workload>;

/** Short, similar requests from many clients: every algorithm spreads them well, round-robin included. */
const shortUniform: Workload = {
  ...base,
  name: 'short-uniform',
  description: 'short requests (5-15 ms of work) from 1000 clients, Poisson arrivals',
  expectation: 'round-robin is about as even as the best: with uniform short work there is nothing to outsmart',
  arrivals: { kind: 'poisson', perEndpointPerSecond: 280 },
  classes: [
    { name: 'request', share: 1, costMs: { kind: 'uniform', min: 5, max: 15 }, memoryMb: { kind: 'fixed', value: 1 } },
  ],
};

/** Long-lived sessions (WebSockets) and an instance restart: counts of open connections matter. */
const longSessions: Workload = {
  ...base,
  name: 'long-sessions',
  durationMs: 90_000,
  description:
    'WebSocket-like sessions open 5 s to 2 min (heavy-tailed), 5 new a second per endpoint; one endpoint restarts',
  expectation:
    'least-connections refills the restarted endpoint; round-robin gives it only its 1/n of new sessions, so it stays light',
  arrivals: { kind: 'poisson', perEndpointPerSecond: 5 },
  classes: [
    {
      name: 'session',
      share: 1,
      costMs: { kind: 'uniform', min: 2, max: 8 },
      memoryMb: { kind: 'fixed', value: 2 },
      holdMs: { kind: 'pareto', min: 5_000, max: 120_000, alpha: 1.5 },
    },
  ],
  outages: [{ endpoint: 1, downAtMs: 20_000, upAtMs: 30_000 }],
};

/** Mostly tiny requests and a few huge ones: connection counts lie about memory, reported load does not. */
const unevenCost: Workload = {
  ...base,
  name: 'uneven-cost',
  endpointSpecs: [{ speed: 1, cores: 8, weight: 1 }],
  description: '98 % small requests (10 ms, 1 MB) and 2 % big ones (1-3 s, 100 MB), arriving in bursts',
  expectation:
    'least-load (memory reported by the instances) beats least-connections (which counts a 100 MB request as one)',
  arrivals: { kind: 'bursty', perEndpointPerSecond: 80, burstFactor: 2, burstMs: 2_000, calmMs: 8_000 },
  classes: [
    { name: 'small', share: 98, costMs: { kind: 'uniform', min: 5, max: 15 }, memoryMb: { kind: 'fixed', value: 1 } },
    {
      name: 'big',
      share: 2,
      costMs: { kind: 'uniform', min: 1000, max: 3000 },
      memoryMb: { kind: 'fixed', value: 100 },
    },
  ],
  loadMetric: 'memory',
};

/** A few chatty clients pinned by stickiness: the endpoints that drew them carry more. */
const sticky: Workload = {
  ...base,
  name: 'sticky',
  description:
    '40 clients with Zipf-distributed activity (the busiest sends about a quarter), each algorithm with and without stickiness',
  expectation: 'stickiness pins the chatty clients, so load follows clients instead of requests and skews',
  arrivals: { kind: 'poisson', perEndpointPerSecond: 200 },
  classes: [
    { name: 'request', share: 1, costMs: { kind: 'uniform', min: 5, max: 15 }, memoryMb: { kind: 'fixed', value: 1 } },
  ],
  clients: { count: 40, skew: 1 },
  stickiness: 'compare',
};

/** The shipped workloads, by name (`switchyard simulate --preset NAME`). */
export const presets: Readonly<Record<string, Workload>> = {
  'short-uniform': shortUniform,
  'long-sessions': longSessions,
  'uneven-cost': unevenCost,
  sticky,
};

export const presetNames = Object.keys(presets);
