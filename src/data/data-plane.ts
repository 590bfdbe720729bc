import type { AddressInfo } from 'node:net';
import { parseListenAddress } from '../config/address.js';
import type { FactSink } from '../core/facts.js';
import type { Logger } from '../core/log.js';
import type { ListenerSnapshot, Snapshot } from '../core/snapshot.js';
import type { ListenerTrafficReport, ServedCertificate, TrafficReport } from '../core/traffic.js';
import { AccessLog } from '../observability/access-log.js';
import type { AcmeMaterial } from '../core/acme-material.js';
import { SnapshotCompiler, type CompiledListener } from './compile-snapshot.js';
import { AcmeChallenges } from './listeners/acme-challenges.js';
import { HttpListener } from './listeners/http-listener.js';
import { HttpsListener } from './listeners/https-listener.js';
import type { Listener } from './listeners/listener.js';
import { TcpListener, type L4ListenerRuntime } from './listeners/tcp-listener.js';
import { UdpListener } from './listeners/udp-listener.js';
import { OverloadGuard } from './overload/overload-guard.js';
import { RequestCounters } from './request-counters.js';
import type { ListenerRuntime } from './runtime.js';
import type { EndpointGauge } from './upstream/endpoint-gauge.js';
import { InFlightGauges } from './upstream/in-flight.js';
import { UpstreamPools } from './upstream/upstream-pools.js';
import { tlsFailureReporter } from './upstream/tls-failure-log.js';

/** An open listener, with the kind of runtime it takes. */
type OpenListener =
  | { readonly kind: 'http'; readonly listener: Listener<ListenerRuntime> }
  | { readonly kind: 'l4'; readonly listener: Listener<L4ListenerRuntime> };

/** How long connections of a replaced or removed listener may take to finish (the drain deadline, docs/guarantees.md §2). */
const replacedListenerDrainMs = 30_000;

/**
 * The data plane: listeners, routing, balancing and upstream pools. It learns everything through `apply(snapshot)`,
 * the one entry point, which compiles the snapshot (compile-snapshot.ts) and swaps it in; requests in flight keep
 * the runtime they started with. This file is the listeners' lifecycle only: open, swap, drain, close. It never
 * decides membership or health itself.
 */
export class DataPlane {
  readonly #log: Logger;
  readonly #listeners = new Map<string, OpenListener>();
  readonly #pools = new UpstreamPools();
  readonly #gauges = new InFlightGauges();
  /** Overload state kept across snapshots: connection total, Retry-After, rate limiters, event-loop-lag shedding. */
  readonly #overload: OverloadGuard;
  /** Requests by listener, route and service, for metrics; kept across snapshots. */
  readonly #requests = new RequestCounters();
  /** The access log: configured by each snapshot, kept (with its open file) while the configuration stays the same. */
  readonly #accessLog: AccessLog;
  readonly #compiler: SnapshotCompiler;
  #version = 0;
  /** What the ACME resolver published: managed certificates and pending challenges (`acme()`). */
  readonly #acme = new AcmeChallenges();

  constructor(log: Logger, facts: FactSink) {
    this.#log = log;
    this.#overload = new OverloadGuard(log);
    this.#accessLog = new AccessLog(log);
    this.#compiler = new SnapshotCompiler({
      pools: this.#pools,
      gauges: this.#gauges,
      requests: this.#requests,
      overload: this.#overload,
      facts,
      tlsFailures: tlsFailureReporter(log),
    });
  }

  /** Applies a snapshot: new listeners are opened, changed ones swapped, removed ones drained and closed. */
  async apply(snapshot: Snapshot): Promise<void> {
    this.#overload.configure(snapshot.overload, snapshot.routes);
    // First, so that an access log file that cannot be opened rejects the snapshot before anything changed.
    const accessLog = this.#accessLog.configure(snapshot.accessLog);
    const compiled = this.#compiler.compile(snapshot, accessLog);
    const opened: OpenListener[] = [];
    try {
      for (const config of snapshot.listeners) {
        const next = compiled.listeners.get(config.name)!;
        const current = this.#listeners.get(config.name);
        if (current !== undefined && adopt(current, next)) continue;
        const replacement = this.#create(next);
        await this.#swap(config, current, replacement);
        opened.push(replacement);
      }
    } catch (error) {
      await Promise.all(opened.map((open) => open.listener.close(0)));
      for (const open of opened) this.#listeners.delete(open.listener.name);
      throw error;
    }
    const names = new Set(snapshot.listeners.map((l) => l.name));
    for (const [name, open] of this.#listeners) {
      if (names.has(name)) continue;
      this.#listeners.delete(name);
      void this.#drain(open, replacedListenerDrainMs);
    }
    this.#version = snapshot.version;
    this.#log.info({ version: snapshot.version }, 'snapshot applied');
  }

  /**
   * Takes the ACME resolver's material: managed certificates (swapped in like a file reload) and the challenges it
   * waits on. Resolves once the listeners serve it. Kept apart from snapshots: it carries private keys.
   */
  acme(material: AcmeMaterial): Promise<void> {
    return this.#acme.update(material);
  }

  /** A listener for a compiled runtime, by its protocol. */
  #create(next: CompiledListener): OpenListener {
    if (next.kind === 'l4') {
      const runtime = next.runtime;
      const listener =
        runtime.snapshot.protocol === 'udp' ? new UdpListener(runtime, this.#log) : new TcpListener(runtime, this.#log);
      return { kind: 'l4', listener };
    }
    const runtime = next.runtime;
    const listener =
      runtime.snapshot.protocol === 'https'
        ? new HttpsListener(runtime, this.#log, this.#acme)
        : new HttpListener(runtime, this.#log, this.#acme);
    return { kind: 'http', listener };
  }

  /**
   * Puts `replacement` in the place of `current` (a listener whose address, protocol or socket options changed) without
   * cutting anything: on a new address the new socket opens first and the old one then drains; on the same address the
   * old one stops accepting first (freeing the port; its connections drain on) and the new one binds as soon as the
   * port is free. Connections that were open keep being served by the old listener until they end or the deadline.
   */
  async #swap(config: ListenerSnapshot, current: OpenListener | undefined, replacement: OpenListener): Promise<void> {
    if (current === undefined) {
      await replacement.listener.listen();
    } else if (samePort(current.listener, config)) {
      void this.#drain(current, replacedListenerDrainMs);
      await listenWhenFree(replacement.listener);
    } else {
      await replacement.listener.listen();
      void this.#drain(current, replacedListenerDrainMs);
    }
    this.#listeners.set(config.name, replacement);
  }

  /** Closes a listener, letting what it carries finish until `deadlineMs`; logged when it starts and when it ends. */
  async #drain(open: OpenListener, deadlineMs: number): Promise<boolean> {
    const { name, protocol } = open.listener;
    this.#log.info({ listener: name, protocol, deadlineMs }, 'listener draining');
    const forced = await open.listener.close(deadlineMs);
    this.#log.info({ listener: name, protocol, forced }, 'listener closed');
    return forced;
  }

  /** The version of the snapshot in force. */
  get version(): number {
    return this.#version;
  }

  /** The bound address of a listener (useful with port 0), or undefined when there is no such listener. */
  address(listener: string): AddressInfo | undefined {
    return this.#listeners.get(listener)?.listener.address();
  }

  /**
   * Stops every listener, lets in-flight requests finish within `deadlineMs`, then closes upstream pools.
   * Resolves true when the deadline forced connections closed.
   */
  async close(deadlineMs: number): Promise<boolean> {
    const listeners = [...this.#listeners.values()];
    this.#listeners.clear();
    const forced = await Promise.all(listeners.map((open) => this.#drain(open, deadlineMs)));
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
   * service, upstream answers and in-flight requests by endpoint, retries by service, and the overload counts.
   */
  traffic(): TrafficReport {
    const listeners: ListenerTrafficReport[] = [];
    for (const [name, { listener }] of this.#listeners) {
      const traffic = listener.traffic;
      listeners.push({
        listener: name,
        protocol: listener.protocol,
        open: traffic.open,
        accepted: traffic.accepted,
        bytesIn: traffic.bytesIn,
        bytesOut: traffic.bytesOut,
      });
    }
    return {
      listeners,
      routes: this.#requests.report(),
      ...this.#gauges.report(),
      overload: this.#overload.report(),
    };
  }

  /** The certificates every TLS-terminating listener serves now (for the expiry metric). */
  certificates(): ServedCertificate[] {
    const served: ServedCertificate[] = [];
    for (const [name, { listener }] of this.#listeners) {
      if (!('certificates' in listener)) continue;
      const certificates = listener.certificates as readonly Omit<ServedCertificate, 'listener'>[];
      for (const c of certificates) served.push({ listener: name, file: c.file, names: c.names, notAfter: c.notAfter });
    }
    return served;
  }
}

/** Hands `next` to the open listener when it can take it in place (same kind, socket and options). */
function adopt(current: OpenListener, next: CompiledListener): boolean {
  if (current.kind === 'http' && next.kind === 'http' && current.listener.accepts(next.runtime)) {
    current.listener.update(next.runtime);
    return true;
  }
  if (current.kind === 'l4' && next.kind === 'l4' && current.listener.accepts(next.runtime)) {
    current.listener.update(next.runtime);
    return true;
  }
  return false;
}

/** True when the replacement wants the port the current listener holds (same transport, same port, not 0). */
function samePort(current: Listener<unknown>, next: ListenerSnapshot): boolean {
  const bound = current.address();
  const wanted = parseListenAddress(next.address);
  if (bound === undefined || wanted === undefined || wanted.port === 0) return false;
  return bound.port === wanted.port && (current.protocol === 'udp') === (next.protocol === 'udp');
}

/**
 * Binds a listener to a port another listener is letting go of: closing a listening socket frees the port within a
 * tick or two, so EADDRINUSE is retried briefly before it is reported.
 */
async function listenWhenFree(listener: Listener<unknown>): Promise<void> {
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
