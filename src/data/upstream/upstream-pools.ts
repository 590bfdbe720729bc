import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import type { Endpoint } from '../../core/endpoint.js';
import type { ServiceSnapshot } from '../../core/snapshot.js';

/**
 * One keep-alive connection pool per endpoint (undici `Pool`), kept across snapshots while the endpoint and its
 * pool options stay the same, so a config change never drops warm connections. A pool no longer referenced by the
 * newest snapshot is closed gracefully: its running requests finish first.
 */
export class UpstreamPools {
  #pools = new Map<string, Pool>();

  /** Returns the pools for a new snapshot's endpoints, reusing existing ones; closes pools nobody uses any more. */
  reconcile(services: readonly ServiceSnapshot[]): (service: ServiceSnapshot, endpoint: Endpoint) => Pool {
    const next = new Map<string, Pool>();
    for (const service of services) {
      for (const endpoint of service.endpoints) {
        const key = poolKey(service, endpoint);
        if (next.has(key)) continue;
        next.set(key, this.#pools.get(key) ?? createPool(service, endpoint));
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
  return `${endpoint.url}|${t.connectMs}|${t.keepAliveMs}|${service.maxConnectionsPerEndpoint}|${tls}`;
}

/**
 * TLS options toward an `https://` endpoint (re-encryption): the CA that must have signed the instance's certificate,
 * the name it must carry, and our client certificate for mutual TLS. Certificate verification is never turned off.
 */
function upstreamTlsOptions(service: ServiceSnapshot): Record<string, unknown> {
  const tls = service.upstreamTls;
  if (tls === undefined) return {};
  return {
    ...(tls.ca === undefined ? {} : { ca: readPem(tls.ca) }),
    ...(tls.servername === undefined ? {} : { servername: tls.servername }),
    ...(tls.cert === undefined ? {} : { cert: readPem(tls.cert) }),
    ...(tls.key === undefined ? {} : { key: readPem(tls.key) }),
    rejectUnauthorized: true,
  };
}

/**
 * A PEM file's content. The control plane checks the files before it publishes a config; one that vanished since
 * gives an empty value, so connections to that service fail verification (502) instead of the snapshot failing.
 */
function readPem(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch {
    return Buffer.alloc(0);
  }
}

function createPool(service: ServiceSnapshot, endpoint: Endpoint): Pool {
  // A tcp:// or udp:// endpoint is for L4 listeners; its pool (idle, connecting only if an HTTP route used it) talks
  // plain HTTP to the same address rather than failing the whole snapshot.
  const origin = /^(tcp|udp):/.test(endpoint.url) ? endpoint.url.replace(/^(tcp|udp):/, 'http:') : endpoint.url;
  const pool = new Pool(origin, {
    connections: service.maxConnectionsPerEndpoint,
    pipelining: 1,
    connect: {
      timeout: service.timeouts.connectMs,
      ...(endpoint.url.startsWith('https:') ? upstreamTlsOptions(service) : {}),
    },
    keepAliveTimeout: service.timeouts.keepAliveMs,
    // An instance's own `Keep-Alive: timeout=N` hint is honoured minus this margin, so Switchyard closes first.
    keepAliveTimeoutThreshold: 1_000,
    keepAliveMaxTimeout: service.timeouts.keepAliveMs,
    strictContentLength: true,
  });
  // Connection errors surface on the requests that hit them; the pool-level event must not crash the process.
  pool.on('connectionError', () => undefined);
  return pool;
}
