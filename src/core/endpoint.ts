/** Identifies one endpoint within its service (stable across snapshots; defaults to `host:port`). */
export type EndpointId = string;

/**
 * Admin state of an endpoint, the vocabulary of HAProxy's runtime API:
 * `ready` takes traffic, `drain` takes no new requests while in-flight ones finish, `maint` is out at once.
 */
export type AdminState = 'ready' | 'drain' | 'maint';

/**
 * What the control plane knows of an endpoint's health: `unknown` until its first active check, `up`, `down` (failed
 * active checks) or `ejected` (outlier detection from real traffic).
 */
export type Health = 'unknown' | 'up' | 'down' | 'ejected';

/** One instance of a service as the data plane sees it: plain, immutable, JSON-serialisable. */
export interface Endpoint {
  readonly id: EndpointId;
  /** Origin of the instance, `http://host:port` (no path). */
  readonly url: string;
  /** Relative share of traffic; 0 takes none. */
  readonly weight: number;
  readonly state: AdminState;
  /** Undefined means `up` (no health source has a say). */
  readonly health?: Health;
  /** The load the instance reported with its last heartbeat, and when (epoch ms), for `least-load`. */
  readonly load?: number;
  readonly loadReportedAt?: number;
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * The canonical form of an endpoint URL: `scheme://host:port` (default port left out for http/https). `URL.origin`
 * is "null" for the non-special `tcp:` and `udp:` schemes, so those are rebuilt by hand.
 */
export function endpointOrigin(url: URL): string {
  if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  return `${url.protocol}//${url.host.toLowerCase()}`;
}

/** The default endpoint id for a URL: `host:port` with the scheme's default port filled in. */
export function endpointIdOf(url: URL): EndpointId {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname}:${port}`;
}
