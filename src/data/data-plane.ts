import type { AddressInfo } from 'node:net';
import { parseListenAddress } from '../config/address.js';
import type { Endpoint } from '../core/endpoint.js';
import type { FactSink } from '../core/facts.js';
import type { Logger } from '../core/log.js';
import type { ListenerSnapshot, ServiceSnapshot, Snapshot } from '../core/snapshot.js';
import { createBalancer, measuresOf, stickyHashBalancer } from './balancing/create-balancer.js';
import type { AcmeMaterial } from '../core/acme-material.js';
import { AcmeChallenges } from './listeners/acme-challenges.js';
import { HttpListener } from './listeners/http-listener.js';
import { HttpsListener } from './listeners/https-listener.js';
import { TcpListener, type L4ListenerRuntime } from './listeners/tcp-listener.js';
import { UdpListener } from './listeners/udp-listener.js';

type Listener = HttpListener | HttpsListener | TcpListener | UdpListener;
import { TrustedProxies } from './downstream/client-address.js';
import { RouteTable } from './routing/route-table.js';
import type { Balancer } from './balancing/balancer.js';
import { hashKeyReader } from './stickiness/hash-key.js';
import { StickyKeys } from './stickiness/sticky-keys.js';
import type { EndpointRuntime, ListenerRuntime, ServiceRuntime, StickyRuntime } from './runtime.js';
import { InFlightGauges } from './upstream/in-flight.js';
import type { EndpointGauge, LatencyEstimator } from './upstream/endpoint-gauge.js';
import type { LoadGauge } from './balancing/balancer.js';
import { UpstreamPools } from './upstream/upstream-pools.js';
import { EndpointGate } from './upstream/endpoint-gate.js';
import { OverloadGuard } from './overload/overload-guard.js';
import type { ListenerTraffic, ListenerTrafficReport, ServedCertificate, TrafficReport } from '../core/traffic.js';
import { RequestCounters } from './request-counters.js';
import { AccessLog } from '../observability/access-log.js';

/**
 * The data plane: listeners, routing, balancing and upstream pools. It learns everything through `apply(snapshot)`,
 * the one entry point, which compiles the snapshot (route tables, balancers, pools) and swaps it in; requests in
 * flight keep the runtime they started with. It never decides membership or health itself.
 */
export class DataPlane {
  readonly #log: Logger;
  readonly #listeners = new Map<string, Listener>();
  readonly #pools = new UpstreamPools();
  readonly #gauges = new InFlightGauges();
  /** Overload state kept across snapshots: connection total, Retry-After, rate limiters, event-loop-lag shedding. */
  readonly #overload: OverloadGuard;
  /** The in-flight count and queue of each upstream pool (pools outlive snapshots, and so do their gates). */
  readonly #gates = new WeakMap<object, EndpointGate>();
  /** Requests by listener, route and service, for metrics; kept across snapshots. */
  readonly #requests = new RequestCounters();
  /** The access log: configured by each snapshot, kept (with its open file) while the configuration stays the same. */
  readonly #accessLog: AccessLog;
  readonly #facts: FactSink;
  /** The balancer of each service and what it was built from, so an unchanged service keeps its state. */
  #balancers = new Map<string, { readonly signature: string; readonly balancer: Balancer }>();
  #version = 0;
  /** What the ACME resolver published: managed certificates and pending challenges (`acme()`). */
  readonly #acme = new AcmeChallenges();

  constructor(log: Logger, facts: FactSink) {
    this.#log = log;
    this.#facts = facts;
    this.#overload = new OverloadGuard(log);
    this.#accessLog = new AccessLog(log);
  }

  /** Applies a snapshot: new listeners are opened, changed ones swapped, removed ones drained and closed. */
  async apply(snapshot: Snapshot): Promise<void> {
    this.#overload.configure(snapshot.overload, snapshot.routes);
    // First, so that an access log file that cannot be opened rejects the snapshot before anything changed.
    const accessLog = this.#accessLog.configure(snapshot.accessLog);
    const services = this.#compileServices(
      Object.values(snapshot.services),
      new StickyKeys(snapshot.stickinessSecrets),
    );
    const opened: Listener[] = [];
    try {
      for (const listener of snapshot.listeners) {
        if (listener.protocol === 'tcp' || listener.protocol === 'tls-passthrough' || listener.protocol === 'udp') {
          const l4 = compileL4Listener(listener, services, this.#overload, accessLog);
          const current = this.#listeners.get(listener.name);
          if ((current instanceof TcpListener || current instanceof UdpListener) && current.accepts(l4)) {
            current.update(l4);
            continue;
          }
          const replacement =
            listener.protocol === 'udp' ? new UdpListener(l4, this.#log) : new TcpListener(l4, this.#log);
          await this.#swap(listener, current, replacement);
          opened.push(replacement);
          continue;
        }
        const runtime = compileListener(listener, snapshot, services, this.#requests, this.#overload, accessLog);
        const current = this.#listeners.get(listener.name);
        if (
          current !== undefined &&
          !(current instanceof TcpListener) &&
          !(current instanceof UdpListener) &&
          current.accepts(runtime)
        ) {
          current.update(runtime);
          continue;
        }
        const replacement =
          listener.protocol === 'https'
            ? new HttpsListener(runtime, this.#log, this.#acme)
            : new HttpListener(runtime, this.#log, this.#acme);
        await this.#swap(listener, current, replacement);
        opened.push(replacement);
      }
    } catch (error) {
      await Promise.all(opened.map((listener) => listener.close(0)));
      for (const listener of opened) this.#listeners.delete(listener.name);
      throw error;
    }
    const names = new Set(snapshot.listeners.map((l) => l.name));
    for (const [name, listener] of this.#listeners) {
      if (names.has(name)) continue;
      this.#listeners.delete(name);
      void listener.close(replacedListenerDrainMs);
    }
    this.#version = snapshot.version;
    this.#log.info({ version: snapshot.version }, 'snapshot applied');
  }

  /**
   * Puts `replacement` in the place of `current` (a listener whose address, protocol or socket options changed) without
   * cutting anything: on a new address the new socket opens first and the old one then drains; on the same address the
   * old one stops accepting first (freeing the port; its connections drain on) and the new one binds as soon as the
   * port is free. Connections that were open keep being served by the old listener until they end or the deadline.
   */
  async #swap(config: ListenerSnapshot, current: Listener | undefined, replacement: Listener): Promise<void> {
    if (current === undefined) {
      await replacement.listen();
    } else if (samePort(current, config)) {
      void current.close(replacedListenerDrainMs);
      await listenWhenFree(replacement);
    } else {
      await replacement.listen();
      void current.close(replacedListenerDrainMs);
    }
    this.#listeners.set(config.name, replacement);
  }

  /**
   * Takes the ACME resolver's material: managed certificates (swapped in like a file reload) and the challenges it
   * waits on. Resolves once the listeners serve it. Kept apart from snapshots: it carries private keys.
   */
  acme(material: AcmeMaterial): Promise<void> {
    return this.#acme.update(material);
  }

  /** The version of the snapshot in force. */
  get version(): number {
    return this.#version;
  }

  /** The bound address of a listener (useful with port 0), or undefined when there is no such listener. */
  address(listener: string): AddressInfo | undefined {
    return this.#listeners.get(listener)?.address();
  }

  /**
   * Stops every listener, lets in-flight requests finish within `deadlineMs`, then closes upstream pools.
   * Resolves true when the deadline forced connections closed.
   */
  async close(deadlineMs: number): Promise<boolean> {
    const listeners = [...this.#listeners.values()];
    this.#listeners.clear();
    const forced = await Promise.all(listeners.map((listener) => listener.close(deadlineMs)));
    await this.#pools.close(forced.includes(true));
    this.#overload.stop();
    await this.#accessLog.close();
    return forced.includes(true);
  }

  /** Live counters of a service endpoint in this process (for the admin API). */
  counters(service: string, endpoint: string): EndpointGauge {
    return this.#gauges.counter(service, endpoint);
  }

  /**
   * What this process counted, as a JSON-serialisable copy (metrics read it at scrape time; with workers, each sends
   * its own and the primary adds them up): every listener's connections and bytes, requests by listener, route and
   * service, upstream answers and in-flight requests by endpoint, retries by service.
   */
  traffic(): TrafficReport {
    const listeners: ListenerTrafficReport[] = [];
    for (const [name, listener] of this.#listeners) {
      const report = listenerTraffic(name, listener);
      if (report !== undefined) listeners.push(report);
    }
    return { listeners, routes: this.#requests.report(), ...this.#gauges.report() };
  }

  /** The certificates every TLS-terminating listener serves now (for the expiry metric). */
  certificates(): ServedCertificate[] {
    const served: ServedCertificate[] = [];
    for (const [name, listener] of this.#listeners as ReadonlyMap<string, object>) {
      if (!('certificates' in listener)) continue;
      const certificates = listener.certificates as readonly Omit<ServedCertificate, 'listener'>[];
      for (const c of certificates) served.push({ listener: name, file: c.file, names: c.names, notAfter: c.notAfter });
    }
    return served;
  }

  #compileSticky(
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

  /** The gate of an upstream pool, made with the pool's connection count the first time the pool is seen. */
  #gateOf(pool: object, service: ServiceSnapshot): EndpointGate {
    let gate = this.#gates.get(pool);
    if (gate === undefined) {
      gate = new EndpointGate(service.maxConnectionsPerEndpoint);
      this.#gates.set(pool, gate);
    }
    return gate;
  }

  #compileServices(snapshots: readonly ServiceSnapshot[], keys: StickyKeys): Map<string, ServiceRuntime> {
    const poolFor = this.#pools.reconcile(snapshots);
    const services = new Map<string, ServiceRuntime>();
    const live = new Set<EndpointGauge>();
    const balancers = new Map<string, { readonly signature: string; readonly balancer: Balancer }>();
    for (const service of snapshots) {
      const endpoints = new Map<string, EndpointRuntime>();
      const gauges = this.#gauges.forService(service);
      for (const endpoint of service.endpoints) {
        const load = gauges.byId.get(endpoint.id)!;
        if (endpoint.loadReportedAt !== undefined && endpoint.load !== undefined)
          load.reportLoad(endpoint.load, endpoint.loadReportedAt);
        // An ejection starts a new count: a returning endpoint must fail `consecutiveErrors` times again.
        if (endpoint.health === 'ejected') load.succeeded();
        live.add(load);
        const pool = poolFor(service, endpoint);
        endpoints.set(endpoint.id, { endpoint, pool, load, gate: this.#gateOf(pool, service) });
      }
      const eligible = eligibleEndpoints(service);
      const measures = measuresOf(service.algorithm);
      const signature = `${service.algorithm}|${JSON.stringify(service.balancing)}|${eligible.map((e) => `${e.id}@${e.url}*${e.weight}`).join(',')}`;
      const previous = this.#balancers.get(service.name);
      const balancer =
        previous?.signature === signature
          ? previous.balancer
          : createBalancer(service.algorithm, eligible, gauges.load, {
              random: Math.random,
              now: Date.now,
              balancing: service.balancing,
            });
      balancers.set(service.name, { signature, balancer });
      services.set(service.name, {
        snapshot: service,
        balancer,
        endpoints,
        retryBudget: this.#gauges.retryBudget(service.name),
        counters: this.#gauges.serviceCounters(service.name),
        ...(measures.hashKey === true ? { hashKey: hashKeyReader(service.balancing.hashKey) } : {}),
        measures: {
          latency: measures.latency === undefined ? undefined : latencyEstimator(measures.latency, service),
          reportedLoad: measures.reportedLoad === true,
        },
        facts: this.#facts,
        overload: this.#overload,
        ...(service.stickiness === undefined
          ? {}
          : { sticky: this.#compileSticky(service, eligible, keys, gauges.load) }),
      });
    }
    this.#balancers = balancers;
    this.#gauges.retain(live);
    return services;
  }
}

/** The estimator maker an algorithm asked for, bound to the service's settings once, at `apply()` time. */
function latencyEstimator(
  make: NonNullable<ReturnType<typeof measuresOf>['latency']>,
  service: ServiceSnapshot,
): () => LatencyEstimator {
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

/**
 * The connection counters of a listener that keeps them (a structural check: every listener class has a public
 * `traffic` and, for the protocol label, `protocol`), with its name.
 */
function listenerTraffic(name: string, listener: object): ListenerTrafficReport | undefined {
  if (!('traffic' in listener)) return undefined;
  const traffic = listener.traffic as ListenerTraffic;
  const protocol = 'protocol' in listener && typeof listener.protocol === 'string' ? listener.protocol : 'unknown';
  return {
    listener: name,
    protocol,
    open: traffic.open,
    accepted: traffic.accepted,
    bytesIn: traffic.bytesIn,
    bytesOut: traffic.bytesOut,
  };
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

/** How long connections of a replaced or removed listener may take to finish (the drain deadline of docs/guarantees.md). */
const replacedListenerDrainMs = 30_000;

/** True when the replacement wants the port the current listener holds (same transport, same port, not 0). */
function samePort(current: Listener, next: ListenerSnapshot): boolean {
  const bound = current.address();
  const wanted = parseListenAddress(next.address);
  if (bound === undefined || wanted === undefined || wanted.port === 0) return false;
  return bound.port === wanted.port && current instanceof UdpListener === (next.protocol === 'udp');
}

/**
 * Binds a listener to a port another listener is letting go of: closing a listening socket frees the port within a
 * tick or two, so EADDRINUSE is retried briefly before it is reported.
 */
async function listenWhenFree(listener: Listener): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await listener.listen();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 40) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
