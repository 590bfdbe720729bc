import type { SwitchyardConfig } from '../config/schema.js';
import { endpointIdOf, type Endpoint } from '../core/endpoint.js';
import type { RouteSnapshot, ServiceSnapshot, Snapshot } from '../core/snapshot.js';

/**
 * Builds the snapshot the data plane applies from a validated configuration. Listener-level `service:` becomes a
 * catch-all route of that listener after the configured routes.
 */
export function buildSnapshot(config: SwitchyardConfig, version: number): Snapshot {
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
  const services: Record<string, ServiceSnapshot> = {};
  for (const [name, service] of Object.entries(config.services)) {
    services[name] = {
      name,
      algorithm: service.algorithm,
      endpoints: service.endpoints.map((endpoint): Endpoint => {
        const url = new URL(endpoint.url);
        return {
          id: endpoint.id ?? endpointIdOf(url),
          url: url.origin,
          weight: endpoint.weight,
          state: 'ready',
          ...(endpoint.metadata === undefined ? {} : { metadata: endpoint.metadata }),
        };
      }),
      timeouts: service.timeouts,
      maxConnectionsPerEndpoint: service.maxConnectionsPerEndpoint,
    };
  }
  return { version, listeners: config.listeners, routes, services };
}

/** `/a/` and `/a` are the same prefix (segment boundaries are implied); `/` stays `/`. */
function normalisePrefix(prefix: string): string {
  return prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
}
