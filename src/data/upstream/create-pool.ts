import { Pool, type Dispatcher } from 'undici';
import type { Endpoint } from '../../core/endpoint.js';
import type { ServiceSnapshot } from '../../core/snapshot.js';
import { Http2Pool } from './http2-pool.js';
import { upstreamTlsConnector, upstreamTlsOptions } from './upstream-tls.js';

/** What the proxy needs of an endpoint's pool, HTTP/1.1 (undici `Pool`) or HTTP/2 (`Http2Pool`). */
export type UpstreamPool = Pick<Dispatcher, 'dispatch' | 'close' | 'destroy'>;

/** Streams one HTTP/2 session is counted for in the endpoint gate (the instance's own limit is enforced in the pool). */
export const streamsPerSession = 100;

/**
 * The pool for one endpoint by the service's `upstreamProtocol`: `http1` an undici `Pool`; `http2` an `Http2Pool`
 * (h2c with prior knowledge on `http://`, ALPN `h2` on `https://`); `auto` an `Http2Pool` offering h2 and http/1.1 on
 * `https://` that hands requests to an undici `Pool` when the instance picks HTTP/1.1, and HTTP/1.1 on `http://`.
 */
export function createUpstreamPool(service: ServiceSnapshot, endpoint: Endpoint): UpstreamPool {
  // A tcp:// or udp:// endpoint is for L4 listeners; its pool (idle, connecting only if an HTTP route used it) talks
  // plain HTTP to the same address rather than failing the whole snapshot.
  const origin = /^(tcp|udp):/.test(endpoint.url) ? endpoint.url.replace(/^(tcp|udp):/, 'http:') : endpoint.url;
  const protocol = service.upstreamProtocol ?? 'http1';
  const tls = origin.startsWith('https:');
  if (protocol === 'http2' || (protocol === 'auto' && tls)) {
    return new Http2Pool(origin, {
      connectTimeoutMs: service.timeouts.connectMs,
      idleTimeoutMs: service.timeouts.keepAliveMs,
      maxSessions: service.maxConnectionsPerEndpoint,
      ...(tls
        ? {
            tls: {
              ...upstreamTlsOptions(origin, service.upstreamTls),
              ALPNProtocols: protocol === 'auto' ? ['h2', 'http/1.1'] : ['h2'],
            },
          }
        : {}),
      ...(protocol === 'auto' ? { http1Fallback: () => createHttp1Pool(service, origin) } : {}),
    });
  }
  return createHttp1Pool(service, origin);
}

/** The gate's capacity for a pool: connections for HTTP/1.1, streams for HTTP/2 (sessions × `streamsPerSession`). */
export function gateCapacity(service: ServiceSnapshot, endpoint: Endpoint): number {
  const protocol = service.upstreamProtocol ?? 'http1';
  const h2 = protocol === 'http2' || (protocol === 'auto' && endpoint.url.startsWith('https:'));
  return h2 ? service.maxConnectionsPerEndpoint * streamsPerSession : service.maxConnectionsPerEndpoint;
}

function createHttp1Pool(service: ServiceSnapshot, origin: string): Pool {
  const pool = new Pool(origin, {
    connections: service.maxConnectionsPerEndpoint,
    pipelining: 1,
    // TLS: the servername is upstreamTls.servername or the endpoint's host, never the client's Host (upstream-tls.ts).
    connect: origin.startsWith('https:')
      ? upstreamTlsConnector(origin, service.upstreamTls, service.timeouts.connectMs)
      : { timeout: service.timeouts.connectMs },
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
