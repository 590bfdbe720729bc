import { z } from 'zod';
import { acmeIssues, acmeSchema } from './acme-schema.js';
import { accessLogSchema } from './access-log-schema.js';
import { adminSchema } from './admin-schema.js';
import { listenerSchema } from './listener-schema.js';
import { overloadSchema } from './overload-schema.js';
import { routeSchema } from './route-schema.js';
import { name } from './primitives.js';
import { referenceIssues } from './references.js';
import { nodeSchema, registrySchema } from './registry-schema.js';
import { algorithms, endpointSchema, serviceSchema } from './service-schema.js';

/**
 * The one configuration model: every type, default and constraint of the YAML file comes from here
 * (docs/configuration.md documents it key by key). Unknown keys are errors so that a typo is never ignored.
 */

export { listenerSchema, routeSchema, serviceSchema, endpointSchema, algorithms };

/** One secret that signs or verifies stickiness keys; the first signs, all verify (rotation). */
const stickinessSecret = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,16}$/, 'use 1 to 16 letters, digits, "_" or "-"'),
  secret: z.string().min(16, 'use at least 16 characters'),
});

/**
 * Processes that serve traffic: 0 (the default) runs everything in one process; N > 0 forks N `node:cluster` workers
 * for the data plane while the primary keeps the control plane; `auto` forks one per available CPU. Only
 * `switchyard start` with a config file honours it: `createSwitchyard` always runs in the calling process.
 */
const workersSchema = z.union([z.literal('auto'), z.number().int().min(0).max(256)]).default(0);

const configShape = z.strictObject({
  workers: workersSchema,
  /**
   * Secrets for stickiness keys, shared by every Switchyard node that must honour the others' keys. Without them a
   * random secret is made at start (keys then work on this node only, until it restarts).
   */
  stickinessSecrets: z
    .array(stickinessSecret)
    .default([])
    .refine((secrets) => new Set(secrets.map((s) => s.id)).size === secrets.length, 'secret ids must be unique'),
  admin: adminSchema.prefault({}),
  node: nodeSchema.prefault({}),
  registry: registrySchema.prefault({}),
  listeners: z.array(listenerSchema).min(1, 'at least one listener is needed'),
  routes: z.array(routeSchema).default([]),
  services: z.record(name, serviceSchema).default({}),
  overload: overloadSchema.prefault({}),
  accessLog: accessLogSchema.prefault({}),
  /** The ACME resolver for `tls.acme` listeners (docs/tls.md "Automatic certificates (ACME)"). */
  acme: acmeSchema.optional(),
});

/** The whole configuration file. */
export const configSchema = configShape.superRefine(
  (config, ctx) => {
    for (const issue of referenceIssues(config)) ctx.addIssue({ code: 'custom', ...issue });
    for (const issue of acmeIssues(config)) ctx.addIssue({ code: 'custom', ...issue });
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
export type { AdminConfig } from './admin-schema.js';
export type RegistryConfig = z.output<typeof registrySchema>;
export type { EtcdConfig, NodeConfig, SelfPreservationConfig } from './registry-schema.js';
export type { OverloadConfig } from './overload-schema.js';
export type AccessLogConfig = z.output<typeof accessLogSchema>;
export type { AcmeConfig, ListenerAcmeConfig } from './acme-schema.js';
export type {
  HealthCheckConfig,
  DnsConfig,
  OutlierConfig,
  RetryConfig,
  BalancingConfig,
  StickinessConfig,
} from './service-schema.js';
