import { z } from 'zod';
import { cidr, listenAddress, milliseconds, name } from './primitives.js';

/** Client-side timeouts of an HTTP listener (CONTRACT.md §2). */
const listenerTimeouts = z.strictObject({
  /** Time a client has to send the whole request header block (slowloris defence); 408 + close beyond it. */
  headerMs: milliseconds.default(10_000),
  /** Longest pause allowed while a request body is being received; 408 + close beyond it. */
  bodyIdleMs: milliseconds.default(30_000),
  /** How long an idle keep-alive client connection is kept open. */
  keepAliveMs: milliseconds.default(60_000),
});

/** Request size limits of an HTTP listener (CONTRACT.md §2). */
const listenerLimits = z.strictObject({
  /** Largest request header block in bytes (431 beyond it). */
  headerBytes: z.number().int().min(1024).max(1_048_576).default(16_384),
  /** Most header fields in one request (431 beyond it). */
  headerCount: z.number().int().min(1).max(1000).default(100),
  /** Longest request target (path + query) in bytes (414 beyond it). */
  targetBytes: z.number().int().min(16).max(1_048_576).default(8_192),
});

/** A certificate and its key (PEM files); SNI names come from the certificate unless `serverNames` lists them. */
const certificate = z.strictObject({
  cert: z.string().min(1),
  key: z.string().min(1),
  /** Host names this certificate answers for (`*.example.com` allowed); its SAN/CN names when omitted. */
  serverNames: z.array(z.string().min(1)).optional(),
});

/** TLS termination (CONTRACT.md §3: TLS 1.2 and 1.3, Mozilla intermediate suites, ALPN h2 + http/1.1). */
const listenerTls = z.strictObject({
  /** The first is the default, served when SNI names nothing known (or no SNI is sent). */
  certificates: z.array(certificate).min(1, 'at least one certificate is needed'),
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
});

export const listenerSchema = z
  .strictObject({
    name,
    /** `http` (HTTP/1.1, and h2c with `http2: true`) or `https` (TLS termination; HTTP/2 and HTTP/1.1 by ALPN). */
    protocol: z.enum(['http', 'https']),
    address: listenAddress,
    tls: listenerTls.optional(),
    /** HTTP/2: offered by ALPN on `https` (default on); cleartext h2c with prior knowledge on `http` (default off). */
    http2: z.boolean().optional(),
    /** Service for requests that match no route (a catch-all route at the lowest priority). */
    service: name.optional(),
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
  .refine((l) => l.protocol === 'https' || l.http2 !== true, {
    message: 'cleartext HTTP/2 (h2c) is not supported yet: use an https listener for HTTP/2',
    path: ['http2'],
  });
