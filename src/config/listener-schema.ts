import { z } from 'zod';
import { listenerAcmeSchema } from './acme-schema.js';
import { cidr, listenAddress, milliseconds, name } from './primitives.js';

/** Client-side timeouts of an HTTP listener (docs/guarantees.md §2). */
const listenerTimeouts = z.strictObject({
  /**
   * Time a client has to send the whole request header block (slowloris defence; 408 + close beyond it); on L4
   * listeners, the time to send a PROXY protocol header and, on `tls-passthrough`, the ClientHello (close beyond it).
   */
  headerMs: milliseconds.default(10_000),
  /** Longest pause allowed while a request body is being received; 408 + close beyond it. */
  bodyIdleMs: milliseconds.default(30_000),
  /** How long an idle keep-alive client connection is kept open. */
  keepAliveMs: milliseconds.default(60_000),
  /** `udp`: a session (client address and port) with no datagram either way for this long is forgotten. */
  sessionIdleMs: milliseconds.default(60_000),
});

/** Request size limits of an HTTP listener (docs/guarantees.md §2). */
const listenerLimits = z.strictObject({
  /** Largest request header block in bytes (431 beyond it). */
  headerBytes: z.number().int().min(1024).max(1_048_576).default(16_384),
  /** Most header fields in one request (431 beyond it). */
  headerCount: z.number().int().min(1).max(1000).default(100),
  /** Longest request target (path + query) in bytes (414 beyond it). */
  targetBytes: z.number().int().min(16).max(1_048_576).default(8_192),
  /** Open client connections (L4: connections; `udp`: sessions) beyond which new ones are refused. */
  maxConnections: z.number().int().min(1).max(1_000_000).default(100_000),
});

/** A server name (SNI) pattern: an exact host or `*.suffix`, compared lower-case. */
const serverNamePattern = z
  .string()
  .regex(/^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*$/, {
    message: 'expected a host name such as db.example.com or *.example.com',
  });

/** A `tls-passthrough` route: the ClientHello's SNI (and optionally ALPN) picks the service; nothing is decrypted. */
const passthroughRoute = z.strictObject({
  sni: serverNamePattern,
  /** Only ClientHellos offering one of these ALPN protocols match (e.g. `[h2]`); any when omitted. */
  alpn: z.array(z.string().min(1)).min(1).optional(),
  service: name,
});

/** A certificate and its key (PEM files); SNI names come from the certificate unless `serverNames` lists them. */
const certificate = z.strictObject({
  cert: z.string().min(1),
  key: z.string().min(1),
  /** Host names this certificate answers for (`*.example.com` allowed); its SAN/CN names when omitted. */
  serverNames: z.array(z.string().min(1)).optional(),
});

/** TLS termination (docs/guarantees.md §3: TLS 1.2 and 1.3, Mozilla intermediate suites, ALPN h2 + http/1.1). */
const listenerTls = z
  .strictObject({
    /** The first is the default, served when SNI names nothing known (or no SNI is sent); ACME ones come after. */
    certificates: z.array(certificate).default([]),
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
    /** A certificate ordered and renewed by the top-level `acme` resolver (docs/tls.md "Automatic certificates"). */
    acme: listenerAcmeSchema.optional(),
    /** Staple OCSP responses for certificates whose issuer names an OCSP responder (fetched in the background). */
    ocspStapling: z.boolean().default(false),
  })
  .refine((tls) => tls.certificates.length > 0 || tls.acme !== undefined, {
    message: 'at least one certificate is needed (or tls.acme)',
    path: ['certificates'],
  });

export const listenerSchema = z
  .strictObject({
    name,
    /**
     * `http` (HTTP/1.1; with `http2: true` also h2c with prior knowledge), `https` (TLS termination; HTTP/2 and
     * HTTP/1.1 by ALPN), or L4 (docs/l4.md): `tcp` (each connection whole to one endpoint), `tls-passthrough` (routed
     * by SNI without decrypting), `udp` (datagram sessions).
     */
    protocol: z.enum(['http', 'https', 'tcp', 'tls-passthrough', 'udp']),
    address: listenAddress,
    tls: listenerTls.optional(),
    /** HTTP/2: offered by ALPN on `https` (default on); cleartext h2c with prior knowledge on `http` (default off). */
    http2: z.boolean().optional(),
    /**
     * HTTP: the service for requests that match no route (a catch-all route at the lowest priority). `tcp`/`udp`: the
     * service every connection goes to. `tls-passthrough`: the service when no route matches (or no SNI is sent);
     * without it such connections are closed.
     */
    service: name.optional(),
    /** `tls-passthrough` only: SNI routes, first match wins (exact names before `*.` wildcards). */
    routes: z.array(passthroughRoute).optional(),
    /**
     * Peers (a balancer in front) whose connections must begin with a PROXY protocol header (v1 or v2); the client
     * address it carries is used as the client's. Connections from other peers are taken as direct.
     */
    acceptProxyProtocol: z.array(cidr).optional(),
    /** Peers whose X-Forwarded-* / Forwarded / X-Request-Id headers are trusted and appended to, not replaced. */
    trustedProxies: z.array(cidr).default([]),
    timeouts: listenerTimeouts.prefault({}),
    limits: listenerLimits.prefault({}),
    /** Header names with `_` are refused (400) unless allowed: `X_Forwarded_For` must not pass for another field. */
    allowUnderscoreHeaders: z.boolean().default(false),
  })
  .refine((l) => (l.protocol === 'https') === (l.tls !== undefined), {
    message: 'an https listener needs "tls", and only an https listener takes it',
    path: ['tls'],
  })
  .refine((l) => (l.protocol !== 'tcp' && l.protocol !== 'udp') || l.service !== undefined, {
    message: 'a tcp or udp listener needs the "service" its connections go to',
    path: ['service'],
  })
  .refine((l) => l.protocol !== 'tls-passthrough' || l.service !== undefined || (l.routes?.length ?? 0) > 0, {
    message: 'a tls-passthrough listener needs "routes" by SNI, a default "service", or both',
    path: ['routes'],
  })
  .refine((l) => l.routes === undefined || l.protocol === 'tls-passthrough', {
    message: 'only a tls-passthrough listener takes "routes" (HTTP routes are the top-level "routes")',
    path: ['routes'],
  })
  .refine((l) => l.protocol !== 'udp' || l.acceptProxyProtocol === undefined, {
    message: 'PROXY protocol is accepted on TCP-based listeners only',
    path: ['acceptProxyProtocol'],
  })
  .refine((l) => l.protocol === 'https' || l.protocol === 'http' || l.http2 !== true, {
    message: 'HTTP/2 is served on http (h2c with prior knowledge) and https listeners only',
    path: ['http2'],
  });
