import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/log.js';
import type { ListenerSnapshot, ServiceSnapshot, Snapshot } from '../core/snapshot.js';
import { createBalancer } from './balancing/create-balancer.js';
import { HttpListener } from './listeners/http-listener.js';
import { TrustedProxies } from './proxy/forwarding.js';
import { RouteTable } from './routing/route-table.js';
import type { EndpointRuntime, ListenerRuntime, ServiceRuntime } from './runtime.js';
import { InFlightGauges, type InFlightCounter } from './upstream/in-flight.js';
import { UpstreamPools } from './upstream/upstream-pools.js';

/**
 * The data plane: listeners, routing, balancing and upstream pools. It learns everything through `apply(snapshot)`,
 * the one entry point, which compiles the snapshot (route tables, balancers, pools) and swaps it in; requests in
 * flight keep the runtime they started with. It never decides membership or health itself.
 */
export class DataPlane {
  readonly #log: Logger;
  readonly #listeners = new Map<string, HttpListener>();
  readonly #pools = new UpstreamPools();
  readonly #gauges = new InFlightGauges();
  #version = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Applies a snapshot: new listeners are opened, changed ones swapped, removed ones drained and closed. */
  async apply(snapshot: Snapshot): Promise<void> {
    const services = this.#compileServices(Object.values(snapshot.services));
    const opened: HttpListener[] = [];
    try {
      for (const listener of snapshot.listeners) {
        const runtime = compileListener(listener, snapshot, services);
        const current = this.#listeners.get(listener.name);
        if (current?.accepts(runtime) === true) {
          current.update(runtime);
          continue;
        }
        const replacement = new HttpListener(runtime, this.#log);
        if (current !== undefined) await current.close(0);
        await replacement.listen();
        opened.push(replacement);
        this.#listeners.set(listener.name, replacement);
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
      void listener.close(30_000);
    }
    this.#version = snapshot.version;
    this.#log.info({ version: snapshot.version }, 'snapshot applied');
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
    return forced.includes(true);
  }

  #compileServices(snapshots: readonly ServiceSnapshot[]): Map<string, ServiceRuntime> {
    const poolFor = this.#pools.reconcile(snapshots);
    const services = new Map<string, ServiceRuntime>();
    const live = new Set<InFlightCounter>();
    for (const service of snapshots) {
      const endpoints = new Map<string, EndpointRuntime>();
      for (const endpoint of service.endpoints) {
        const load = this.#gauges.counter(service.name, endpoint.id);
        live.add(load);
        endpoints.set(endpoint.id, { endpoint, pool: poolFor(service, endpoint), load });
      }
      const eligible = service.endpoints.filter((e) => e.state === 'ready' && e.weight > 0);
      const balancer = createBalancer(service.algorithm, eligible, this.#gauges.gauge(service.name));
      services.set(service.name, { snapshot: service, balancer, endpoints });
    }
    this.#gauges.retain(live);
    return services;
  }
}

function compileListener(
  listener: ListenerSnapshot,
  snapshot: Snapshot,
  services: ReadonlyMap<string, ServiceRuntime>,
): ListenerRuntime {
  const routes = snapshot.routes.filter((route) => route.listeners?.includes(listener.name) ?? true);
  return {
    snapshot: listener,
    routes: new RouteTable(routes),
    trusted: new TrustedProxies(listener.trustedProxies),
    services,
  };
}
