import { hostname } from 'node:os';
import { z } from 'zod';
import { milliseconds, name } from './primitives.js';

/** An etcd client URL: `http://host:port` or `https://host:port`. */
const etcdEndpoint = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// etcd client URL' });

/** The etcd cluster a fleet shares (docs/fleet.md). */
export const etcdSchema = z
  .strictObject({
    /** Client URLs of the etcd members; the client spreads calls over them and moves past a dead one. */
    endpoints: z.array(etcdEndpoint).min(1, 'name at least one etcd endpoint'),
    /** Every key of the fleet lives under it: one fleet per prefix. */
    prefix: z
      .string()
      .regex(/^\/([A-Za-z0-9_.-]+\/)*$/, 'use a path such as /switchyard/prod/ (leading and trailing "/")')
      .default('/switchyard/default/'),
    /** TLS to etcd: `ca` verifies the members; `cert` + `key` are this node's client certificate. */
    tls: z
      .strictObject({
        ca: z.string().min(1).optional(),
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
      })
      .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), 'cert and key go together')
      .optional(),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    /** true: routes and services come from the store (`switchyard push`); the file's own are used until one exists. */
    sharedConfig: z.boolean().default(false),
    /** How long one etcd call may take before the registration API answers 503 (ms). */
    requestTimeoutMs: milliseconds.default(2_000),
  })
  .refine((etcd) => (etcd.username === undefined) === (etcd.password === undefined), {
    message: 'username and password go together',
    path: ['password'],
  });

/**
 * Self-preservation (Eureka's answer to a stalled store revoking every lease at once): when more than
 * `maxLossPercent` of a service's lease-backed endpoints vanish by lease expiry within `windowMs`, the node keeps the
 * rest for `holdMs` (still health-checked) instead of emptying the service.
 */
export const selfPreservationSchema = z.strictObject({
  maxLossPercent: z.number().min(0).max(100).default(50),
  windowMs: milliseconds.default(10_000),
  holdMs: milliseconds.default(60_000),
});

/** Where registrations made through the API are kept. */
export const registrySchema = z
  .strictObject({
    /** `file` (the embedded default: survives restarts), `memory` (lost on restart; for tests) or `etcd` (a fleet). */
    store: z.enum(['file', 'memory', 'etcd']).default('file'),
    path: z.string().min(1).default('./switchyard-registry.json'),
    etcd: etcdSchema.optional(),
    selfPreservation: selfPreservationSchema.prefault({}),
  })
  .refine((registry) => registry.store !== 'etcd' || registry.etcd !== undefined, {
    message: 'store: etcd needs registry.etcd (at least its endpoints)',
    path: ['etcd'],
  });

/** This node's identity in a fleet. */
export const nodeSchema = z.strictObject({
  /** Unique within a fleet; default: the host name. */
  name: name.default(() => safeHostname()),
});

function safeHostname(): string {
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '-');
  return /^[A-Za-z0-9]/.test(host) ? host : `node-${host}`;
}

export type EtcdConfig = z.output<typeof etcdSchema>;
export type SelfPreservationConfig = z.output<typeof selfPreservationSchema>;
export type NodeConfig = z.output<typeof nodeSchema>;
