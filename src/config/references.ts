import { endpointIdOf } from '../core/endpoint.js';
import { parseListenAddress } from './address.js';

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
  /** L4 listeners: HTTP routes cannot attach to them. */
  const l4Listeners = new Set<string>();
  const addresses = new Map<string, number>();
  const ports = new Map<string, number>();
  records(root['listeners']).forEach((listener, i) => {
    const listenerName = text(listener['name']);
    if (listenerName !== undefined && listenerNames.has(listenerName)) {
      issues.push({ path: ['listeners', i, 'name'], message: `duplicate listener "${listenerName}"` });
    }
    if (listenerName !== undefined) listenerNames.add(listenerName);
    const protocol = text(listener['protocol']);
    const l4 = protocol === 'tcp' || protocol === 'tls-passthrough' || protocol === 'udp';
    if (listenerName !== undefined && l4) l4Listeners.add(listenerName);
    // UDP and TCP ports are separate spaces: a udp listener may share a port number with a TCP-based one.
    const transport = protocol === 'udp' ? 'udp' : 'tcp';
    const parsed = parseListenAddress(text(listener['address']) ?? '');
    const address = parsed === undefined ? undefined : { host: `${transport}/${parsed.host}`, port: parsed.port };
    if (address !== undefined && address.port !== 0) {
      // A wildcard host (":80", "0.0.0.0:80", "[::]:80") takes the port on every address: it clashes with any host.
      const host = parsed!.host;
      const wildcard = host === '' || host === '0.0.0.0' || host === '::';
      const exact = `${address.host}:${address.port}`;
      const portKey = `${transport}/${address.port}`;
      const other = wildcard
        ? ports.get(portKey)
        : (addresses.get(exact) ?? addresses.get(`${transport}/*:${address.port}`));
      if (other !== undefined) {
        issues.push({
          path: ['listeners', i, 'address'],
          message: `port ${address.port} is already used by listeners.${other}`,
        });
      }
      addresses.set(wildcard ? `${transport}/*:${address.port}` : exact, i);
      if (!ports.has(portKey)) ports.set(portKey, i);
    }
    if (!hasService(listener['service'])) {
      issues.push({ path: ['listeners', i, 'service'], message: `unknown service "${text(listener['service'])}"` });
    }
    records(listener['routes']).forEach((route, j) => {
      if (!hasService(route['service'])) {
        issues.push({
          path: ['listeners', i, 'routes', j, 'service'],
          message: `unknown service "${text(route['service'])}"`,
        });
      }
    });
  });
  const routeNames = new Set<string>();
  records(root['routes']).forEach((route, i) => {
    const routeName = text(route['name']);
    if (routeName !== undefined && routeNames.has(routeName)) {
      issues.push({ path: ['routes', i, 'name'], message: `duplicate route name "${routeName}"` });
    }
    if (routeName !== undefined) routeNames.add(routeName);
    if (!hasService(route['service'])) {
      issues.push({ path: ['routes', i, 'service'], message: `unknown service "${text(route['service'])}"` });
    }
    (Array.isArray(route['listeners']) ? (route['listeners'] as unknown[]) : []).forEach((listener, j) => {
      if (typeof listener === 'string' && !listenerNames.has(listener)) {
        issues.push({ path: ['routes', i, 'listeners', j], message: `unknown listener "${listener}"` });
      } else if (typeof listener === 'string' && l4Listeners.has(listener)) {
        issues.push({
          path: ['routes', i, 'listeners', j],
          message: `"${listener}" is an L4 listener: HTTP routes attach to http/https listeners only`,
        });
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
