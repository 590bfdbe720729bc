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

export const listenerSchema = z.strictObject({
  name,
  protocol: z.literal('http'),
  address: listenAddress,
  /** Service for requests that match no route (a catch-all route at the lowest priority). */
  service: name.optional(),
  /** Peers whose X-Forwarded-* / Forwarded / X-Request-Id headers are trusted and appended to, not replaced. */
  trustedProxies: z.array(cidr).default([]),
  timeouts: listenerTimeouts.prefault({}),
  limits: listenerLimits.prefault({}),
});

const routeMatch = z.strictObject({
  /** Exact host (`api.example.com`) or one leading wildcard label (`*.example.com`); case-insensitive, port ignored. */
  host: z
    .string()
    .regex(/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/, 'expected a host name, optionally starting with "*."')
    .optional(),
  /** Path prefix on segment boundaries: `/a` matches `/a`, `/a/` and `/a/b`, not `/ab`. */
  path: z.strictObject({ prefix: z.string().startsWith('/', 'a path prefix starts with "/"') }).optional(),
});

export const routeSchema = z.strictObject({
  name: name.optional(),
  /** Listeners the route applies to; every HTTP listener when omitted. */
  listeners: z.array(name).min(1).optional(),
  match: routeMatch.prefault({}),
  service: name,
});
