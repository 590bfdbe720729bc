import { z } from 'zod';
import { endpointId, endpointUrl, milliseconds } from './primitives.js';

export const endpointSchema = z.strictObject({
  /** Stable id; defaults to `host:port` of the URL. */
  id: endpointId.optional(),
  url: endpointUrl,
  weight: z.number().int().min(0).max(10_000).default(1),
  metadata: z.record(z.string(), z.string()).optional(),
});

/** Upstream-side timeouts of a service (docs/guarantees.md §2). */
const serviceTimeouts = z.strictObject({
  /** TCP (and TLS) connect timeout; a connect failure is retried once on another endpoint, then 502. */
  connectMs: milliseconds.default(5_000),
  /** Time from sending the request to the upstream's response header block (504 beyond it). */
  firstByteMs: milliseconds.default(30_000),
  /** Longest pause between two chunks of an upstream response body (the client connection is closed beyond it). */
  bodyIdleMs: milliseconds.default(30_000),
  /** Idle upstream keep-alive connections are closed after this; keep it below the instances' own keep-alive. */
  keepAliveMs: milliseconds.default(4_000),
  /** A WebSocket (or other upgraded) tunnel with no bytes either way for this long is closed on both sides. */
  tunnelIdleMs: milliseconds.default(3_600_000),
  /**
   * Longest wait for a connection to an endpoint at `maxConnectionsPerEndpoint` (503 + Retry-After beyond it); as
   * HAProxy's `timeout queue`, it defaults to the connect timeout's default.
   */
  queueMs: milliseconds.default(5_000),
});

/** Re-encryption toward the instances (`https://` endpoints): whom to trust, whom to expect, who we are. */
const upstreamTls = z.strictObject({
  /** PEM file of the CA(s) that sign the instances' certificates; the system CAs when omitted. */
  ca: z.string().min(1).optional(),
  /** The name the instances' certificates must carry; the endpoint's host when omitted. */
  servername: z.string().min(1).optional(),
  /** Client certificate and key (PEM files) for mutual TLS toward the instances. */
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
});

/** `"200-399"` or a single status `"204"`. */
const statusRange = z
  .string()
  .regex(/^[1-5]\d\d(-[1-5]\d\d)?$/, 'expected a status or a range such as "200-399"')
  .refine((text) => {
    const [low, high = low] = text.split('-').map(Number);
    return (low ?? 0) <= (high ?? 0);
  }, 'the range must run from low to high');

const httpCheck = z.strictObject({
  /** Path (and query) requested on the endpoint. */
  path: z.string().startsWith('/', 'a health check path starts with "/"').default('/health'),
  method: z.enum(['GET', 'HEAD', 'OPTIONS']).default('GET'),
  /** Statuses that pass. */
  expectStatus: statusRange.default('200-399'),
  /** The response body must contain this text to pass (the first 64 KiB are read). */
  bodyContains: z.string().min(1).optional(),
  /** Host header sent with the check; the endpoint's host:port when omitted. */
  host: z.string().min(1).optional(),
});

/**
 * A gRPC health check (`grpc.health.v1.Health/Check` over HTTP/2, h2c on `http://` endpoints, h2 on `https://`):
 * passes when the instance answers `SERVING` for `service`.
 */
const grpcCheck = z.strictObject({
  /** The service name asked about; `""` (the default) asks about the instance as a whole. */
  service: z.string().max(1_024).default(''),
  /** `:authority` sent with the check; the endpoint's host:port when omitted. */
  authority: z.string().min(1).optional(),
});

/**
 * Active health checks of a service's endpoints (docs/guarantees.md §1 defaults). Exactly one of `http`, `tcp` and `grpc`.
 */
export const healthCheckSchema = z
  .strictObject({
    http: httpCheck.optional(),
    /** A TCP connect check: passes when the connection opens. */
    tcp: z.strictObject({}).optional(),
    grpc: grpcCheck.optional(),
    intervalMs: milliseconds.default(2_000),
    timeoutMs: milliseconds.default(1_000),
    /** Each interval is spread by up to ± this share, so checks of many endpoints do not fire together. */
    jitterPercent: z.number().min(0).max(50).default(10),
    /** Passes in a row that make an unhealthy endpoint healthy again. */
    rise: z.number().int().min(1).max(100).default(2),
    /** Failures in a row that make a healthy endpoint unhealthy. */
    fall: z.number().int().min(1).max(100).default(3),
  })
  .refine(
    (check) => [check.http, check.tcp, check.grpc].filter((kind) => kind !== undefined).length === 1,
    'give exactly one of "http", "tcp" and "grpc"',
  )
  .refine((check) => !(check.http?.method === 'HEAD' && check.http.bodyContains !== undefined), {
    message: 'a HEAD check has no body to search: drop bodyContains or use GET',
    path: ['http', 'bodyContains'],
  });

/** Passive health: endpoints that keep failing real requests are ejected for a while (Envoy's outlier detection). */
const outlierDetection = z.strictObject({
  enabled: z.boolean().default(true),
  /** Gateway errors in a row (connect failures, resets, 502/503/504 from the endpoint) that eject it. */
  consecutiveErrors: z.number().int().min(1).max(1000).default(5),
  /** Ejection lasts this × the number of times the endpoint was ejected. */
  baseEjectionMs: milliseconds.default(30_000),
  /** Never eject more than this share of a service's endpoints. */
  maxEjectionPercent: z.number().min(0).max(100).default(50),
});

/** DNS discovery: the endpoint set follows the records of a name. */
const dnsDiscovery = z
  .strictObject({
    name: z
      .string()
      .regex(
        /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/,
        'expected a DNS name',
      ),
    type: z.enum(['A', 'AAAA', 'SRV']).default('A'),
    /** Port of the endpoints for A/AAAA records (SRV records carry their own). */
    port: z.number().int().min(1).max(65_535).optional(),
    scheme: z.enum(['http', 'https']).default('http'),
    refreshMs: milliseconds.default(30_000),
  })
  .refine((dns) => dns.type === 'SRV' || dns.port !== undefined, {
    message: 'A and AAAA discovery needs a "port"',
    path: ['port'],
  });

/** Retries of failed upstream attempts (docs/guarantees.md §1). */
const retries = z.strictObject({
  /** Retries in flight may be at most this share of the service's active requests … */
  budgetPercent: z.number().min(0).max(100).default(20),
  /** … but this many are always allowed. */
  minRetries: z.number().int().min(0).max(1000).default(3),
  /** Request bodies up to this size are buffered so that an idempotent request can be replayed. */
  bufferBytes: z.number().int().min(0).max(16_777_216).default(65_536),
});

export type HealthCheckConfig = z.output<typeof healthCheckSchema>;
export type DnsConfig = z.output<typeof dnsDiscovery>;
export type OutlierConfig = z.output<typeof outlierDetection>;
export type RetryConfig = z.output<typeof retries>;

/** What Switchyard may speak to a service's endpoints (`upstreamProtocol`). */
export const upstreamProtocols = ['http1', 'http2', 'auto'] as const;
export type UpstreamProtocol = (typeof upstreamProtocols)[number];

export const algorithms = [
  'round-robin',
  'weighted-round-robin',
  'random',
  'least-connections',
  'power-of-two',
  'peak-ewma',
  'consistent-hash',
  'least-load',
] as const;

/** Where `consistent-hash` (and hash-based stickiness) takes a request's key from. */
export const hashKeySchema = z
  .strictObject({
    source: z.enum(['client-ip', 'header', 'cookie', 'query', 'path']).default('client-ip'),
    /** The header, cookie or query parameter name (for those sources). */
    name: z.string().min(1).optional(),
  })
  .refine((key) => key.name !== undefined || key.source === 'client-ip' || key.source === 'path', {
    message: 'header, cookie and query keys need a "name"',
    path: ['name'],
  });

/** Tuning of the load-aware and hashing algorithms; each reads only its own part. */
export const balancingSchema = z.strictObject({
  hashKey: hashKeySchema.prefault({}),
  consistentHash: z
    .strictObject({
      /** `ring` (a hash ring with virtual nodes) or `maglev` (Google's Maglev table). */
      method: z.enum(['ring', 'maglev']).default('ring'),
      /** Bounded load: no endpoint takes more than this × the mean in-flight load (0 turns the bound off). */
      boundedLoadFactor: z.number().min(0).max(100).default(1.25),
    })
    .prefault({}),
  peakEwma: z
    .strictObject({
      /**
       * The latency average forgets with this time constant (ms), and a starved endpoint is probed this often: 1 s lets
       * a recovered instance win its share back within about 2 s (docs/algorithms.md, the slow-instance preset).
       */
      decayMs: milliseconds.default(1_000),
    })
    .prefault({}),
  leastLoad: z
    .strictObject({
      /** A reported load older than this is stale: the endpoint's in-flight count is used instead. */
      staleMs: milliseconds.default(10_000),
    })
    .prefault({}),
});

export type BalancingConfig = z.output<typeof balancingSchema>;

/** `1h`, `30m`, `90s` or a number of seconds, as seconds. */
const durationSeconds = z.union([
  z.number().int().min(1).max(31_536_000),
  z
    .string()
    .regex(/^\d+(s|m|h|d)$/, 'expected a duration such as 90s, 30m, 1h or 7d')
    .transform(
      (text) =>
        Number(text.slice(0, -1)) * { s: 1, m: 60, h: 3_600, d: 86_400 }[text.slice(-1) as 's' | 'm' | 'h' | 'd'],
    )
    .refine((seconds) => seconds >= 1 && seconds <= 31_536_000, 'a duration from 1s to 365d'),
]);

/**
 * Session stickiness: `key` hands the client a signed key (cookie and `X-Sticky-Key`) naming its endpoint;
 * `source-ip` and `app-cookie` hash the client address or the application's own session cookie onto the endpoints.
 */
export const stickinessSchema = z
  .strictObject({
    mode: z.enum(['key', 'source-ip', 'app-cookie']).default('key'),
    cookie: z
      .strictObject({
        name: z
          .string()
          .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected a cookie name')
          .default('sy_sticky'),
        /** How long a key stays valid; renewed while the client keeps coming back. */
        ttl: durationSeconds.default(3_600),
      })
      .prefault({}),
    /** The application's session cookie, for `app-cookie` (such as JSESSIONID). */
    appCookie: z.string().min(1).optional(),
    /** Clients stuck to a draining endpoint may keep using it (HAProxy's drain); false sends them elsewhere at once. */
    honourOnDrain: z.boolean().default(true),
  })
  .refine((s) => s.mode !== 'app-cookie' || s.appCookie !== undefined, {
    message: 'app-cookie stickiness needs "appCookie"',
    path: ['appCookie'],
  });

export type StickinessConfig = z.output<typeof stickinessSchema>;

export const serviceSchema = z.strictObject({
  /**
   * What Switchyard speaks to the endpoints (docs/grpc.md): `http1` (HTTP/1.1, the default); `http2` (HTTP/2: with
   * prior knowledge, h2c, to `http://` endpoints and over TLS, ALPN `h2` only, to `https://` ones); `auto` (ALPN offers
   * h2 and http/1.1 to `https://` endpoints and uses what the instance picks; `http://` endpoints get HTTP/1.1).
   * gRPC needs `http2` (or `auto` with TLS instances that pick h2).
   */
  upstreamProtocol: z.enum(upstreamProtocols).default('http1'),
  /** The balancing algorithm (docs/algorithms.md); `round-robin` by default, with weights interleaved smoothly. */
  algorithm: z.enum(algorithms).default('round-robin'),
  balancing: balancingSchema.prefault({}),
  upstreamTls: upstreamTls
    .refine((t) => (t.cert === undefined) === (t.key === undefined), {
      message: 'give both cert and key',
      path: ['key'],
    })
    .optional(),
  stickiness: stickinessSchema.optional(),
  endpoints: z.array(endpointSchema).default([]),
  timeouts: serviceTimeouts.prefault({}),
  /** Most connections Switchyard opens to one endpoint. */
  maxConnectionsPerEndpoint: z.number().int().min(1).max(65_536).default(1024),
  /** Requests waiting for a connection to one endpoint at `maxConnectionsPerEndpoint`; beyond it 503 + Retry-After. */
  maxPendingPerEndpoint: z.number().int().min(0).max(1_000_000).default(1024),
  /**
   * L4 listeners (`tcp`, `tls-passthrough`) send this PROXY protocol header first on each connection to an endpoint,
   * so the instance learns the real client address (docs/l4.md). Off by default: an instance that does not expect
   * the header would take it for data.
   */
  proxyProtocol: z.enum(['v1', 'v2']).optional(),
  /** Endpoints found in DNS, beside the static and registered ones. */
  dns: dnsDiscovery.optional(),
  healthCheck: healthCheckSchema.optional(),
  outlierDetection: outlierDetection.prefault({}),
  /** When every endpoint is unhealthy, use them all rather than answer 503 for everything. */
  panicMode: z.boolean().default(true),
  /** A new or recovered endpoint ramps from 10 % to 100 % of its weight over this window; 0 turns it off. */
  slowStartMs: z.number().int().min(0).max(3_600_000).default(30_000),
  retries: retries.prefault({}),
});
