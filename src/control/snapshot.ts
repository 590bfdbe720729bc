import type { SwitchyardConfig } from '../config/schema.js';
import type { Endpoint, Health } from '../core/endpoint.js';
import type { RouteSnapshot, ServiceSnapshot, Snapshot } from '../core/snapshot.js';
import type { EndpointRecord } from './registry/registry.js';

/** What the control plane decided about one endpoint when the snapshot is built. */
export interface EndpointView {
  readonly record: EndpointRecord;
  readonly health: Health;
  /** The share of its weight it gets now (slow start), 0.1 … 1. */
  readonly weightFactor: number;
}

/**
 * Builds the snapshot the data plane applies. Listener-level `service:` becomes a catch-all route of that listener
 * after the configured routes. A service is in panic when it has ready endpoints but none is healthy.
 */
export function buildSnapshot(
  config: SwitchyardConfig,
  version: number,
  endpointsOf: (service: string) => readonly EndpointView[],
  stickinessSecrets: Snapshot['stickinessSecrets'],
): Snapshot {
  const services: Record<string, ServiceSnapshot> = {};
  for (const [name, service] of Object.entries(config.services)) {
    const endpoints = endpointsOf(name).map(toEndpoint);
    const ready = endpoints.filter((e) => e.state === 'ready' && e.weight > 0);
    const healthy = ready.filter((e) => e.health === 'up');
    const sick = ready.filter((e) => e.health === 'down' || e.health === 'ejected');
    services[name] = {
      name,
      algorithm: service.algorithm,
      balancing: service.balancing,
      ...(service.stickiness === undefined ? {} : { stickiness: service.stickiness }),
      endpoints,
      panic: service.panicMode && healthy.length === 0 && sick.length > 0,
      timeouts: service.timeouts,
      maxConnectionsPerEndpoint: service.maxConnectionsPerEndpoint,
      retries: service.retries,
    };
  }
  return { version, listeners: config.listeners, routes: routesOf(config), services, stickinessSecrets };
}

function toEndpoint(view: EndpointView): Endpoint {
  const { record } = view;
  return {
    id: record.id,
    url: record.url,
    weight: view.weightFactor === 1 ? record.weight : record.weight * view.weightFactor,
    state: record.state,
    health: view.health,
    ...(record.load === undefined ? {} : { load: record.load, loadReportedAt: record.loadReportedAt ?? 0 }),
    ...(record.metadata === undefined ? {} : { metadata: record.metadata }),
  };
}

function routesOf(config: SwitchyardConfig): RouteSnapshot[] {
  const routes: RouteSnapshot[] = config.routes.map((route, i) => ({
    name: route.name ?? `routes.${i}`,
    ...(route.listeners === undefined ? {} : { listeners: route.listeners }),
    ...(route.match.host === undefined ? {} : { host: route.match.host.toLowerCase().replace(/\.$/, '') }),
    pathPrefix: normalisePrefix(route.match.path?.prefix ?? '/'),
    service: route.service,
  }));
  for (const listener of config.listeners) {
    if (listener.service === undefined) continue;
    routes.push({
      name: `${listener.name}.default`,
      listeners: [listener.name],
      pathPrefix: '/',
      service: listener.service,
    });
  }
  return routes;
}

/** `/a/` and `/a` are the same prefix (segment boundaries are implied); `/` stays `/`. */
function normalisePrefix(prefix: string): string {
  return prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
}
