import type { Endpoint } from '../core/endpoint.js';
import type { FactSink } from '../core/facts.js';
import type { ListenerSnapshot, ServiceSnapshot, Snapshot } from '../core/snapshot.js';
import type { AccessLog } from '../observability/access-log.js';
import type { Balancer, LoadGauge } from './balancing/balancer.js';
import { createBalancer, measuresOf, stickyHashBalancer, type Measures } from './balancing/create-balancer.js';
import { TrustedProxies } from './downstream/client-address.js';
import type { L4ListenerRuntime } from './listeners/tcp-listener.js';
import type { OverloadGuard } from './overload/overload-guard.js';
import type { RequestCounters } from './request-counters.js';
import { RouteTable } from './routing/route-table.js';
import type { EndpointRuntime, ListenerRuntime, ServiceRuntime, StickyRuntime } from './runtime.js';
import { hashKeyReader } from './stickiness/hash-key.js';
import { StickyKeys } from './stickiness/sticky-keys.js';
import { EndpointGate } from './upstream/endpoint-gate.js';
import { gateCapacity } from './upstream/create-pool.js';
import type { TlsFailureReporter } from './upstream/tls-failure-log.js';
import type { EndpointGauge, LatencyEstimator } from './upstream/endpoint-gauge.js';
import type { InFlightGauges } from './upstream/in-flight.js';
import type { UpstreamPools } from './upstream/upstream-pools.js';

/** A listener's compiled runtime, by the kind of listener that serves it. */
export type CompiledListener =
  | { readonly kind: 'http'; readonly runtime: ListenerRuntime }
  | { readonly kind: 'l4'; readonly runtime: L4ListenerRuntime };

/** Everything one snapshot compiles to: each listener's runtime, by listener name in configuration order. */
export interface CompiledSnapshot {
  readonly listeners: ReadonlyMap<string, CompiledListener>;
}

/** What the compiler keeps across snapshots (owned by the data plane). */
export interface CompilerParts {
  readonly pools: UpstreamPools;
  readonly gauges: InFlightGauges;
  readonly requests: RequestCounters;
  readonly overload: OverloadGuard;
  readonly facts: FactSink;
  /** Logs and counts failed TLS handshakes with instances. */
  readonly tlsFailures?: TlsFailureReporter;
}

/**
 * Snapshot in, runtimes out (docs/architecture.md): balancers, gauges, gates, route tables and sticky keys, all built
 * at `apply()` time so that a request only reads them. An unchanged service keeps its balancer (and its state);
 * pools, gates and gauges outlive snapshots, so counts stay right while snapshots come and go.
 */
export class SnapshotCompiler {
  readonly #parts: CompilerParts;
  /** The in-flight count and queue of each upstream pool (pools outlive snapshots, and so do their gates). */
  readonly #gates = new WeakMap<object, EndpointGate>();
  /** The balancer of each service and what it was built from, so an unchanged service keeps its state. */
  #balancers = new Map<string, { readonly signature: string; readonly balancer: Balancer }>();

  constructor(parts: CompilerParts) {
    this.#parts = parts;
  }

  /** Compiles `snapshot`; `accessLog` is where its listeners write (undefined when the access log is off). */
  compile(snapshot: Snapshot, accessLog: AccessLog | undefined): CompiledSnapshot {
    const services = this.#compileServices(
      Object.values(snapshot.services),
      new StickyKeys(snapshot.stickinessSecrets),
    );
    const listeners = new Map<string, CompiledListener>();
    const { requests, overload } = this.#parts;
    for (const listener of snapshot.listeners) {
      const l4 = listener.protocol === 'tcp' || listener.protocol === 'tls-passthrough' || listener.protocol === 'udp';
      listeners.set(
        listener.name,
        l4
          ? { kind: 'l4', runtime: compileL4Listener(listener, services, overload, accessLog) }
          : { kind: 'http', runtime: compileListener(listener, snapshot, services, requests, overload, accessLog) },
      );
    }
    return { listeners };
  }

  #compileServices(snapshots: readonly ServiceSnapshot[], keys: StickyKeys): Map<string, ServiceRuntime> {
    const { pools, gauges, overload, facts, tlsFailures } = this.#parts;
    const poolFor = pools.reconcile(snapshots);
    const services = new Map<string, ServiceRuntime>();
    const live = new Set<EndpointGauge>();
    const balancers = new Map<string, { readonly signature: string; readonly balancer: Balancer }>();
    for (const service of snapshots) {
      const endpoints = new Map<string, EndpointRuntime>();
      const serviceGauges = gauges.forService(service);
      for (const endpoint of service.endpoints) {
        const load = serviceGauges.byId.get(endpoint.id)!;
        if (endpoint.loadReportedAt !== undefined && endpoint.load !== undefined)
          load.reportLoad(endpoint.load, endpoint.loadReportedAt, 'heartbeat');
        // An ejection starts a new count: a returning endpoint must fail `consecutiveErrors` times again.
        if (endpoint.health === 'ejected') load.succeeded();
        live.add(load);
        const pool = poolFor(service, endpoint);
        endpoints.set(endpoint.id, { endpoint, pool, load, gate: this.#gateOf(pool, service, endpoint) });
      }
      const eligible = eligibleEndpoints(service);
      const measures = measuresOf(service.algorithm);
      const balancer = this.#balancerOf(service, eligible, serviceGauges.load);
      balancers.set(service.name, balancer);
      services.set(service.name, {
        snapshot: service,
        balancer: balancer.balancer,
        endpoints,
        retryBudget: gauges.retryBudget(service.name),
        counters: gauges.serviceCounters(service.name),
        ...(measures.hashKey === true ? { hashKey: hashKeyReader(service.balancing.hashKey) } : {}),
        measures: {
          latency: measures.latency === undefined ? undefined : latencyEstimator(measures.latency, service),
          reportedLoad: measures.reportedLoad === true,
        },
        facts,
        ...(tlsFailures === undefined ? {} : { tlsFailures }),
        overload,
        ...(service.stickiness === undefined
          ? {}
          : { sticky: compileSticky(service, eligible, keys, serviceGauges.load) }),
      });
    }
    this.#balancers = balancers;
    gauges.retain(live);
    return services;
  }

  /** The service's balancer: the previous one when nothing it was built from changed, else a new one. */
  #balancerOf(
    service: ServiceSnapshot,
    eligible: readonly Endpoint[],
    load: LoadGauge,
  ): { readonly signature: string; readonly balancer: Balancer } {
    const signature = `${service.algorithm}|${JSON.stringify(service.balancing)}|${eligible.map((e) => `${e.id}@${e.url}*${e.weight}`).join(',')}`;
    const previous = this.#balancers.get(service.name);
    if (previous?.signature === signature) return previous;
    const balancer = createBalancer(service.algorithm, eligible, load, {
      random: Math.random,
      now: Date.now,
      balancing: service.balancing,
    });
    return { signature, balancer };
  }

  /** The gate of an upstream pool, made with the pool's connection count the first time the pool is seen. */
  #gateOf(pool: object, service: ServiceSnapshot, endpoint: Endpoint): EndpointGate {
    let gate = this.#gates.get(pool);
    if (gate === undefined) {
      // HTTP/2 pools count streams, not connections (create-pool.ts).
      gate = new EndpointGate(gateCapacity(service, endpoint));
      this.#gates.set(pool, gate);
    }
    return gate;
  }
}

function compileSticky(
  service: ServiceSnapshot,
  eligible: readonly Endpoint[],
  keys: StickyKeys,
  gauge: LoadGauge,
): StickyRuntime {
  const config = service.stickiness!;
  const ids = new Set(eligible.map((e) => e.id));
  if (config.honourOnDrain) {
    for (const e of service.endpoints)
      if (e.state === 'drain' && (e.health === undefined || e.health === 'up')) ids.add(e.id);
  }
  const serviceKeys = keys.forService(
    service.name,
    service.endpoints.map((e) => e.id),
  );
  if (config.mode === 'key') return { config, keys: serviceKeys, eligible: ids };
  const hash = stickyHashBalancer(eligible, gauge, {
    random: Math.random,
    now: Date.now,
    balancing: service.balancing,
  });
  return { config, keys: serviceKeys, eligible: ids, hash };
}

/** The estimator maker an algorithm asked for, bound to the service's settings once, at `apply()` time. */
function latencyEstimator(make: NonNullable<Measures['latency']>, service: ServiceSnapshot): () => LatencyEstimator {
  return () => make(service.balancing);
}

/**
 * The endpoints new requests may go to: `ready` with weight and healthy; in panic (every endpoint unhealthy) every
 * `ready` one, rather than refusing everything.
 */
function eligibleEndpoints(service: ServiceSnapshot): Endpoint[] {
  return service.endpoints.filter(
    (e) => e.state === 'ready' && e.weight > 0 && (service.panic || e.health === undefined || e.health === 'up'),
  );
}

function compileListener(
  listener: ListenerSnapshot,
  snapshot: Snapshot,
  services: ReadonlyMap<string, ServiceRuntime>,
  requests: RequestCounters,
  overload: OverloadGuard,
  accessLog: AccessLog | undefined,
): ListenerRuntime {
  const routes = snapshot.routes.filter((route) => route.listeners?.includes(listener.name) ?? true);
  const table = new RouteTable(routes);
  return {
    snapshot: listener,
    proto: listener.protocol === 'https' ? 'https' : 'http',
    routes: table,
    requests: requests.forTable(listener.name, table),
    trusted: new TrustedProxies(listener.trustedProxies),
    services,
    overload,
    accessLog,
  };
}

function compileL4Listener(
  listener: ListenerSnapshot,
  services: ReadonlyMap<string, ServiceRuntime>,
  overload: OverloadGuard,
  accessLog: AccessLog | undefined,
): L4ListenerRuntime {
  const peers = listener.acceptProxyProtocol;
  return {
    snapshot: listener,
    services,
    proxyPeers: peers === undefined || peers.length === 0 ? undefined : new TrustedProxies(peers),
    overload,
    accessLog,
  };
}
