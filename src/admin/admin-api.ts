import type { HeaderRulesSnapshot } from '../core/snapshot.js';
import type { ListenerTraffic } from '../core/traffic.js';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { endpointId, endpointUrl } from '../config/primitives.js';
import type { ControlPlane, EndpointStatus } from '../control/control-plane.js';
import type { AcmeResolver } from '../control/acme/acme-resolver.js';
import { ApiError, readJson } from './http-kit.js';
import type { EndpointRates, LiveStats } from './live-stats.js';
import { defaultStaleMs, loadJson } from './load-report.js';
import type { Fleet } from '../control/fleet/fleet.js';
import { nodesResult, registryUnavailable } from './nodes-api.js';
import { endpointStatusJson, iso } from './endpoint-status.js';
import type { EndpointCounters, WorkerSummary } from '../core/worker-report.js';

export type { EndpointCounters, WorkerSummary } from '../core/worker-report.js';
export { endpointStatusJson } from './endpoint-status.js';

/** What the admin API reads from the running balancer besides the control plane. */
export interface AdminContext {
  readonly control: ControlPlane;
  /** The ACME resolver: managed certificates (`GET /api/acme`, admin/acme-api.ts). */
  readonly acme?: Pick<AcmeResolver, 'status' | 'renew' | 'revoke'>;
  /** Live counters of an endpoint (summed over the data plane). */
  counters(service: string, endpoint: string): EndpointCounters;
  /** The Prometheus exposition (`GET /metrics`). */
  metrics(): Promise<{ readonly contentType: string; readonly body: string }>;
  /** Bound addresses of the proxy listeners. */
  listenerAddresses(): Record<string, string>;
  /** Connections (UDP: sessions) and bytes of every listener, by name. */
  listenerTraffic(): Record<string, ListenerTraffic>;
  /** Re-reads the config file; undefined when Switchyard runs without one (library use, one-liner). */
  readonly reload?: () => Promise<
    { readonly ok: true; readonly version: number } | { readonly ok: false; readonly problems: readonly string[] }
  >;
  /** Epoch ms the balancer started. */
  readonly startedAt: number;
  /** Rates, error rates and latency percentiles per endpoint, sampled every second (the admin server sets it). */
  readonly live?: LiveStats;
  /** Gathers fresh counters before a read (with workers: each worker's report); absent in one process. */
  readonly refresh?: () => Promise<void>;
  /** The worker processes (with `workers` only), listed by `GET /api/overview`. */
  readonly workers?: () => readonly WorkerSummary[];
  /** Replaces every worker, one at a time (`POST /api/reload?workers=1`); with `workers` only. */
  readonly rollWorkers?: () => Promise<readonly WorkerSummary[]>;
  /** This node's part in a fleet (`registry.store: etcd`), for `GET /api/nodes`. */
  readonly fleet?: Fleet;
}

/** One API call after routing and authorisation. */
export interface ApiCall {
  readonly req: IncomingMessage;
  readonly params: readonly string[];
  readonly maxBodyBytes: number;
}

export interface ApiResult {
  readonly status: number;
  /** Sent as JSON, unless `contentType` is set: then it is a string sent as is. */
  readonly body?: unknown;
  readonly contentType?: string;
  /** For the audit line of a mutation. */
  readonly audit?: Readonly<Record<string, unknown>>;
}

const registerBody = z.strictObject({
  id: endpointId.optional(),
  url: endpointUrl,
  weight: z.number().int().min(0).max(10_000).optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  ttlSeconds: z.number().int().min(1).max(86_400).optional(),
});
const heartbeatBody = z.strictObject({ load: z.number().min(0).optional() }).optional();
const stateBody = z.strictObject({ state: z.enum(['ready', 'drain', 'maint']) });
const weightBody = z.strictObject({ weight: z.number().int().min(0).max(10_000) });

async function parseBody<T extends z.ZodType>(call: ApiCall, schema: T): Promise<z.output<T>> {
  const result = schema.safeParse(await readJson(call.req, call.maxBodyBytes));
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
  throw new ApiError(400, 'Invalid request body', problems.join('; '), { problems });
}

/** The wire shape of an endpoint in `GET /api/services/{service}`. */
function endpointJson(
  status: EndpointStatus,
  counters: EndpointCounters,
  rates: EndpointRates | undefined,
  staleMs: number,
) {
  return {
    ...endpointStatusJson(status),
    inFlight: counters.inFlight,
    requests: counters.requests,
    stickyRequests: counters.stickyRequests,
    /** Over the last 10 s (admin/live-stats.ts); null while there is nothing to measure. */
    requestRate: rates?.requestRate ?? 0,
    errorRate: rates?.errorRate ?? null,
    latencyMs: rates?.latencyMs ?? null,
    stickyShare: rates?.stickyShare ?? null,
    /** L4 connections and UDP sessions to the endpoint: bytes sent to it and received from it. */
    bytes: { toEndpoint: counters.bytesOut, fromEndpoint: counters.bytesIn },
    lease:
      status.ttlSeconds === undefined ? null : { ttlSeconds: status.ttlSeconds, expiresAt: iso(status.leaseExpiresAt) },
    ...loadJson(status, counters, staleMs),
    metadata: status.metadata ?? {},
  };
}

function requireService(ctx: AdminContext, service: string): void {
  if (!ctx.control.registry.hasService(service))
    throw new ApiError(404, 'Unknown service', `no service named "${service}"`);
}

function notFound(reason: 'not_found' | 'static', service: string, id: string): ApiError {
  return reason === 'static'
    ? new ApiError(
        409,
        'Endpoint comes from the configuration',
        `"${id}" of "${service}" is not a registration; change it in the config file`,
      )
    : new ApiError(404, 'Unknown endpoint', `no endpoint "${id}" in service "${service}"`);
}

export function serviceDetail(ctx: AdminContext, service: string) {
  const snapshot = ctx.control.snapshot?.services[service];
  const config = ctx.control.config.services[service];
  return {
    name: service,
    algorithm: config?.algorithm ?? null,
    panic: snapshot?.panic ?? false,
    healthCheck: config?.healthCheck ?? null,
    endpoints: ctx.control
      .endpointStatuses(service)
      .map((status) =>
        endpointJson(
          status,
          ctx.counters(service, status.id),
          ctx.live?.rates(service, status.id),
          config?.balancing.leastLoad.staleMs ?? defaultStaleMs,
        ),
      ),
  };
}

/** The read-only views. */
export const readHandlers = {
  overview: (ctx: AdminContext): ApiResult => {
    const services = ctx.control.registry.services();
    const statuses = services.flatMap((service) => ctx.control.endpointStatuses(service));
    return {
      status: 200,
      body: {
        snapshotVersion: ctx.control.snapshot?.version ?? 0,
        startedAt: iso(ctx.startedAt),
        listeners: ctx.control.config.listeners.length,
        routes: ctx.control.snapshot?.routes.length ?? 0,
        services: services.length,
        endpoints: {
          total: statuses.length,
          healthy: statuses.filter((s) => s.health === 'up' && s.state === 'ready').length,
        },
        ...(ctx.workers === undefined ? {} : { workers: ctx.workers() }),
      },
    };
  },
  listeners: (ctx: AdminContext): ApiResult => {
    const bound = ctx.listenerAddresses();
    const traffic = ctx.listenerTraffic();
    return {
      status: 200,
      body: ctx.control.config.listeners.map((l) => ({
        name: l.name,
        protocol: l.protocol,
        address: l.address,
        bound: bound[l.name] ?? null,
        connections: { open: traffic[l.name]?.open ?? 0, accepted: traffic[l.name]?.accepted ?? 0 },
        bytes: { fromClients: traffic[l.name]?.bytesIn ?? 0, toClients: traffic[l.name]?.bytesOut ?? 0 },
      })),
    };
  },
  routes: (ctx: AdminContext): ApiResult => {
    // Header rule values may be credentials (`set: { authorization: … }`): names are shown, values never.
    const redact = (rules: HeaderRulesSnapshot | undefined) =>
      rules === undefined
        ? undefined
        : {
            remove: rules.remove,
            set: rules.set.map(([name]) => [name, '(redacted)']),
            add: rules.add.map(([name]) => [name, '(redacted)']),
          };
    const routes = (ctx.control.snapshot?.routes ?? []).map((route) => ({
      ...route,
      requestHeaders: redact(route.requestHeaders),
      responseHeaders: redact(route.responseHeaders),
    }));
    return { status: 200, body: routes };
  },
  services: (ctx: AdminContext): ApiResult => {
    return {
      status: 200,
      body: ctx.control.registry.services().map((service) => {
        const statuses = ctx.control.endpointStatuses(service);
        return {
          name: service,
          algorithm: ctx.control.config.services[service]?.algorithm ?? null,
          panic: ctx.control.snapshot?.services[service]?.panic ?? false,
          endpoints: statuses.length,
          healthy: statuses.filter((s) => s.health === 'up' && s.state === 'ready').length,
        };
      }),
    };
  },
  metrics: async (ctx: AdminContext): Promise<ApiResult> => {
    const { contentType, body } = await ctx.metrics();
    return { status: 200, body, contentType };
  },
  service: (ctx: AdminContext, call: ApiCall): ApiResult => {
    const service = call.params[0] ?? '';
    requireService(ctx, service);
    return { status: 200, body: serviceDetail(ctx, service) };
  },
  nodes: (ctx: AdminContext): ApiResult =>
    nodesResult(ctx.fleet, () => ({
      name: ctx.control.config.node.name,
      self: true,
      startedAt: iso(ctx.startedAt),
    })),
};

/** The mutations (admin token; each gets one audit line); a shared store that is away gives 503. */
export const mutationHandlers = withRegistryErrors({
  register: async (ctx: AdminContext, call: ApiCall): Promise<ApiResult> => {
    const service = call.params[0] ?? '';
    requireService(ctx, service);
    const input = await parseBody(call, registerBody);
    const result = await ctx.control.registry.register(service, input);
    if (!result.ok)
      throw result.reason === 'conflict'
        ? new ApiError(409, 'Conflict', result.message)
        : new ApiError(404, 'Unknown service', result.message);
    await ctx.control.flush();
    const { registration } = result;
    return {
      status: result.created ? 201 : 200,
      body: { id: registration.id, leaseExpiresAt: iso(registration.leaseExpiresAt) },
      audit: { service, endpoint: registration.id, url: registration.url, created: result.created },
    };
  },
  heartbeat: async (ctx: AdminContext, call: ApiCall): Promise<ApiResult> => {
    const [service = '', id = ''] = call.params;
    requireService(ctx, service);
    const body = await parseBody(call, heartbeatBody);
    const result = await ctx.control.registry.heartbeat(service, id, body?.load);
    if (!result.ok) throw notFound(result.reason, service, id);
    return {
      status: 200,
      body: { id, leaseExpiresAt: iso(result.value.leaseExpiresAt) },
      audit: { service, endpoint: id },
    };
  },
  deregister: async (ctx: AdminContext, call: ApiCall): Promise<ApiResult> => {
    const [service = '', id = ''] = call.params;
    requireService(ctx, service);
    const result = await ctx.control.registry.deregister(service, id);
    if (!result.ok) throw notFound(result.reason, service, id);
    await ctx.control.flush();
    return { status: 204, audit: { service, endpoint: id } };
  },
  state: async (ctx: AdminContext, call: ApiCall): Promise<ApiResult> => {
    const [service = '', id = ''] = call.params;
    requireService(ctx, service);
    const { state } = await parseBody(call, stateBody);
    const result = await ctx.control.registry.setState(service, id, state);
    if (!result.ok) throw notFound(result.reason, service, id);
    await ctx.control.flush();
    return {
      status: 200,
      body: serviceDetail(ctx, service).endpoints.find((e) => e.id === id),
      audit: { service, endpoint: id, state },
    };
  },
  weight: async (ctx: AdminContext, call: ApiCall): Promise<ApiResult> => {
    const [service = '', id = ''] = call.params;
    requireService(ctx, service);
    const { weight } = await parseBody(call, weightBody);
    const result = await ctx.control.registry.setWeight(service, id, weight);
    if (!result.ok) throw notFound(result.reason, service, id);
    await ctx.control.flush();
    return {
      status: 200,
      body: serviceDetail(ctx, service).endpoints.find((e) => e.id === id),
      audit: { service, endpoint: id, weight },
    };
  },
  reload: async (ctx: AdminContext, call: ApiCall): Promise<ApiResult> => {
    if (ctx.reload === undefined)
      throw new ApiError(409, 'Nothing to reload', 'Switchyard was started without a configuration file');
    // `?workers=1` also rolls the worker processes, one at a time, once the configuration applied.
    const roll = /^(1|true)$/.test(new URL(call.req.url ?? '/', 'http://admin').searchParams.get('workers') ?? '');
    if (roll && ctx.rollWorkers === undefined)
      throw new ApiError(409, 'No workers to roll', 'Switchyard runs in one process (workers: 0)');
    const result = await ctx.reload();
    if (!result.ok)
      throw new ApiError(400, 'Invalid configuration', 'the running configuration stays', {
        problems: result.problems,
      });
    if (!roll) return { status: 200, body: { version: result.version }, audit: { version: result.version } };
    const workers = await ctx.rollWorkers!();
    return {
      status: 200,
      body: { version: result.version, workers },
      audit: { version: result.version, workers: workers.map((w) => w.pid) },
    };
  },
});

function withRegistryErrors<T extends Record<string, (ctx: AdminContext, call: ApiCall) => Promise<ApiResult>>>(
  handlers: T,
): T {
  const wrapped: Record<string, (ctx: AdminContext, call: ApiCall) => Promise<ApiResult>> = {};
  for (const [name, handler] of Object.entries(handlers)) {
    wrapped[name] = (ctx, call) =>
      handler(ctx, call).catch((error: unknown) => {
        throw registryUnavailable(error);
      });
  }
  return wrapped as T;
}
