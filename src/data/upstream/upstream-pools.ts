import { createUpstreamPool, type UpstreamPool } from './create-pool.js';
import type { Endpoint } from '../../core/endpoint.js';
import type { ServiceSnapshot } from '../../core/snapshot.js';

/**
 * One keep-alive connection pool per endpoint (undici `Pool`, or `Http2Pool` by `upstreamProtocol`), kept across snapshots while the endpoint and its
 * pool options stay the same, so a config change never drops warm connections. A pool no longer referenced by the
 * newest snapshot is closed gracefully: its running requests finish first.
 */
export class UpstreamPools {
  #pools = new Map<string, UpstreamPool>();

  /** Returns the pools for a new snapshot's endpoints, reusing existing ones; closes pools nobody uses any more. */
  reconcile(services: readonly ServiceSnapshot[]): (service: ServiceSnapshot, endpoint: Endpoint) => UpstreamPool {
    const next = new Map<string, UpstreamPool>();
    for (const service of services) {
      for (const endpoint of service.endpoints) {
        const key = poolKey(service, endpoint);
        if (next.has(key)) continue;
        next.set(key, this.#pools.get(key) ?? createUpstreamPool(service, endpoint));
      }
    }
    for (const [key, pool] of this.#pools) {
      if (!next.has(key)) void pool.close().catch(() => undefined);
    }
    this.#pools = next;
    return (service, endpoint) => {
      const pool = next.get(poolKey(service, endpoint));
      if (pool === undefined) throw new Error(`no pool for ${endpoint.url}`);
      return pool;
    };
  }

  /** Closes every pool; with `force`, running requests are aborted instead of awaited. */
  async close(force = false): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => (force ? pool.destroy() : pool.close()).catch(() => undefined)));
  }
}

function poolKey(service: ServiceSnapshot, endpoint: Endpoint): string {
  const t = service.timeouts;
  const tls = service.upstreamTls === undefined ? '' : JSON.stringify(service.upstreamTls);
  return `${endpoint.url}|${t.connectMs}|${t.keepAliveMs}|${service.maxConnectionsPerEndpoint}|${tls}|${service.upstreamProtocol ?? 'http1'}`;
}
