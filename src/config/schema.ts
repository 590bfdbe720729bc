import { isIP } from 'node:net';
import { z } from 'zod';
import { endpointIdOf } from '../core/endpoint.js';
import { parseListenAddress } from './address.js';

/**
 * The one configuration model: every type, default and constraint of the YAML file comes from here
 * (docs/configuration.md documents it key by key). Unknown keys are errors so that a typo is never ignored.
 */

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'use letters, digits, ".", "_" and "-"');
const milliseconds = z.number().int().min(1).max(86_400_000);

const listenAddress = z
  .string()
  .refine((text) => parseListenAddress(text) !== undefined, 'expected "host:port", "[v6]:port" or ":port"');

const cidr = z.string().refine((text) => {
  const [address, bits, ...rest] = text.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128);
}, 'expected an IP address or CIDR such as 10.0.0.0/8 or ::1');

const endpointUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).refine((text) => {
  if (!URL.canParse(text)) return true; // z.url() already reported it
  const url = new URL(text);
  return (url.pathname === '/' || url.pathname === '') && url.search === '' && url.hash === '' && url.username === '';
}, 'an endpoint URL is an origin only (scheme, host, port): no path, query or credentials');

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

export const endpointSchema = z.strictObject({
  /** Stable id; defaults to `host:port` of the URL. */
  id: name.optional(),
  url: endpointUrl,
  weight: z.number().int().min(0).max(10_000).default(1),
  metadata: z.record(z.string(), z.string()).optional(),
});

/** Upstream-side timeouts of a service (CONTRACT.md §2). */
const serviceTimeouts = z.strictObject({
  /** TCP (and TLS) connect timeout; a connect failure is retried once on another endpoint, then 502. */
  connectMs: milliseconds.default(5_000),
  /** Time from sending the request to the upstream's response header block (504 beyond it). */
  firstByteMs: milliseconds.default(30_000),
  /** Longest pause between two chunks of an upstream response body (the client connection is closed beyond it). */
  bodyIdleMs: milliseconds.default(30_000),
  /** Idle upstream keep-alive connections are closed after this; keep it below the instances' own keep-alive. */
  keepAliveMs: milliseconds.default(4_000),
});

export const algorithms = ['round-robin', 'weighted-round-robin'] as const;

export const serviceSchema = z.strictObject({
  /** `round-robin` (the default; honours weights with the smooth interleaving) or `weighted-round-robin`. */
  algorithm: z.enum(algorithms).default('round-robin'),
  endpoints: z.array(endpointSchema).default([]),
  timeouts: serviceTimeouts.prefault({}),
  /** Most connections Switchyard opens to one endpoint. */
  maxConnectionsPerEndpoint: z.number().int().min(1).max(65_536).default(1024),
});

const configShape = z.strictObject({
  listeners: z.array(listenerSchema).min(1, 'at least one listener is needed'),
  routes: z.array(routeSchema).default([]),
  services: z.record(name, serviceSchema).default({}),
});

/** The whole configuration file. */
export const configSchema = configShape.superRefine(
  (config, ctx) => {
    for (const issue of referenceIssues(config)) ctx.addIssue({ code: 'custom', ...issue });
  },
  { when: () => true },
);

export type SwitchyardConfig = z.output<typeof configSchema>;
export type SwitchyardConfigInput = z.input<typeof configSchema>;
export type ListenerConfig = z.output<typeof listenerSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
export type ServiceConfig = z.output<typeof serviceSchema>;
export type EndpointConfig = z.output<typeof endpointSchema>;
export type Algorithm = (typeof algorithms)[number];

type Issue = { path: (string | number)[]; message: string };

const records = (value: unknown): Record<string, unknown>[] =>
  Array.isArray(value)
    ? (value as unknown[]).map((item) =>
        typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : {},
      )
    : [];
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * Cross-references a schema cannot express: names that must exist, names, addresses and ids that must be unique.
 * It runs even when other parts of the file are invalid (so every problem is reported at once), hence the
 * defensive reading of the input.
 */
export function referenceIssues(config: unknown): Issue[] {
  const issues: Issue[] = [];
  const root = (typeof config === 'object' && config !== null ? config : {}) as Record<string, unknown>;
  const services = (
    typeof root['services'] === 'object' && root['services'] !== null ? root['services'] : {}
  ) as Record<string, unknown>;
  const hasService = (service: unknown): boolean => typeof service !== 'string' || Object.hasOwn(services, service);
  const listenerNames = new Set<string>();
  const addresses = new Map<string, number>();
  const ports = new Map<number, number>();
  records(root['listeners']).forEach((listener, i) => {
    const listenerName = text(listener['name']);
    if (listenerName !== undefined && listenerNames.has(listenerName)) {
      issues.push({ path: ['listeners', i, 'name'], message: `duplicate listener "${listenerName}"` });
    }
    if (listenerName !== undefined) listenerNames.add(listenerName);
    const address = parseListenAddress(text(listener['address']) ?? '');
    if (address !== undefined && address.port !== 0) {
      // A wildcard host (":80", "0.0.0.0:80", "[::]:80") takes the port on every address: it clashes with any host.
      const wildcard = address.host === '' || address.host === '0.0.0.0' || address.host === '::';
      const exact = `${address.host}:${address.port}`;
      const other = wildcard ? ports.get(address.port) : (addresses.get(exact) ?? addresses.get(`*:${address.port}`));
      if (other !== undefined) {
        issues.push({
          path: ['listeners', i, 'address'],
          message: `port ${address.port} is already used by listeners.${other}`,
        });
      }
      addresses.set(wildcard ? `*:${address.port}` : exact, i);
      if (!ports.has(address.port)) ports.set(address.port, i);
    }
    if (!hasService(listener['service'])) {
      issues.push({ path: ['listeners', i, 'service'], message: `unknown service "${text(listener['service'])}"` });
    }
  });
  records(root['routes']).forEach((route, i) => {
    if (!hasService(route['service'])) {
      issues.push({ path: ['routes', i, 'service'], message: `unknown service "${text(route['service'])}"` });
    }
    (Array.isArray(route['listeners']) ? (route['listeners'] as unknown[]) : []).forEach((listener, j) => {
      if (typeof listener === 'string' && !listenerNames.has(listener)) {
        issues.push({ path: ['routes', i, 'listeners', j], message: `unknown listener "${listener}"` });
      }
    });
  });
  for (const [serviceName, service] of Object.entries(services)) {
    const ids = new Set<string>();
    const endpoints =
      typeof service === 'object' && service !== null ? (service as Record<string, unknown>)['endpoints'] : [];
    records(endpoints).forEach((endpoint, i) => {
      const url = text(endpoint['url']) ?? '';
      const id = text(endpoint['id']) ?? (URL.canParse(url) ? endpointIdOf(new URL(url)) : undefined);
      if (id === undefined) return;
      if (ids.has(id)) {
        const key = endpoint['id'] === undefined ? 'url' : 'id';
        issues.push({ path: ['services', serviceName, 'endpoints', i, key], message: `duplicate endpoint id "${id}"` });
      }
      ids.add(id);
    });
  }
  return issues;
}
