/**
 * What the data plane counts about real traffic, as plain numbers. The data plane bumps them on the hot path (an
 * array index and an add, never a label lookup) and hands a copy to whoever asks (`DataPlane.traffic()`); the metrics
 * endpoint turns the copy into Prometheus series at scrape time. Everything here is JSON-serialisable so that, with
 * `node:cluster`, each worker can send its report to the primary over IPC and the primary adds them up
 * (`sumTraffic`) instead of relying on prom-client's `AggregatorRegistry`.
 */

/**
 * The connections of one listener, kept up to date by every listener class (HTTP, HTTPS, and the L4 ones) in a
 * public `traffic` field. `bytesIn` is what clients sent, `bytesOut` what they were sent, both counted on the client
 * sockets (for TLS listeners: on the wire, TLS records included).
 */
export interface ListenerTraffic {
  /** Client connections open now (an HTTP/2 session is one connection). */
  open: number;
  /** Client connections accepted since the listener started. */
  accepted: number;
  bytesIn: number;
  bytesOut: number;
}

/** Response status classes; a count array is indexed by `status / 100`, and index 0 means "no response". */
export const codeClasses = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type CodeClass = (typeof codeClasses)[number];

/** The index in a `codeClasses` count array for a status; a status outside 100–599 counts as `none`. */
export function codeClassIndex(status: number): number {
  const index = (status / 100) | 0;
  return index >= 1 && index <= 5 ? index : 0;
}

/**
 * Upper bounds (seconds) of the request duration histogram: the Prometheus client libraries' defaults, so that
 * dashboards built for them fit. A bucket count array has one more slot, for durations above the last bound.
 */
export const durationBucketsSeconds: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The (non-cumulative) bucket a duration in seconds falls in: the first bound it does not exceed. */
export function durationBucketIndex(seconds: number): number {
  let i = 0;
  while (i < durationBucketsSeconds.length && seconds > durationBucketsSeconds[i]!) i++;
  return i;
}

/** Requests of one listener, route and service (the route and service are `""` when no route took the request). */
export interface RouteTraffic {
  readonly listener: string;
  readonly route: string;
  readonly service: string;
  /** Responses by `codeClasses` index. */
  readonly codes: number[];
  /** Durations by `durationBucketIndex` (not cumulative; the last slot is above every bound). */
  readonly durationBuckets: number[];
  durationSumSeconds: number;
}

/** Attempts sent to one endpoint and the requests in flight to it now. */
export interface EndpointTraffic {
  readonly service: string;
  readonly endpoint: string;
  inFlight: number;
  /** Upstream answers by `codeClasses` index (`none`: the attempt got no response head). */
  readonly codes: number[];
  /**
   * Attempts that got a response, by how long they took from being sent to the response's end (`durationBucketIndex`,
   * not cumulative): the endpoint's own latency, for its percentiles on the dashboard.
   */
  readonly durationBuckets: number[];
  /** L4 connections and UDP sessions: bytes sent to the endpoint, and received from it. */
  bytesOut: number;
  bytesIn: number;
}

export interface ServiceTraffic {
  readonly service: string;
  /** Requests sent again to another endpoint after a failed attempt. */
  retries: number;
  /** gRPC calls by the grpc-status the client got (index 0–16; `grpcStatusLabels`), Switchyard's own answers included. */
  readonly grpcStatuses?: number[];
  /** Upstream TLS handshakes that failed, by `tlsFailureClasses` index. */
  readonly tlsFailures?: number[];
}

/** The classes of upstream TLS failure, in the order of `ServiceTraffic.tlsFailures`. */
export const tlsFailureClasses = [
  'unknown_ca',
  'name_mismatch',
  'bad_certificate',
  'handshake_timeout',
  'handshake_failed',
] as const;

/** gRPC status codes counted per service (0 OK … 16 UNAUTHENTICATED). */
export const grpcStatusCount = 17;

export interface ListenerTrafficReport extends ListenerTraffic {
  readonly listener: string;
  readonly protocol: string;
}

/** What overload protection refused since the start, and how late the event loop is now (docs/operations.md). */
export interface OverloadReport {
  /** Requests answered 503 at once while the event loop lagged (shedding). */
  readonly shed: number;
  /** Requests refused because an endpoint's queue was full, and those that waited `queueMs` in it. */
  readonly queueFull: number;
  readonly queueTimeout: number;
  /** Requests refused with 429 by a route's rate limit. */
  readonly rateLimited: number;
  /** Connections over a listener's or the process's `maxConnections`. */
  readonly connections: number;
  /** The event loop's lag over the last measuring window, in seconds (0 when shedding is not configured). */
  readonly lagSeconds: number;
  /** True while new requests are shed. */
  readonly shedding: boolean;
}

/** Everything the data plane of one process counted (a copy: later traffic does not change it). */
export interface TrafficReport {
  readonly listeners: readonly ListenerTrafficReport[];
  readonly routes: readonly RouteTraffic[];
  readonly endpoints: readonly EndpointTraffic[];
  readonly services: readonly ServiceTraffic[];
  /** Absent in reports that predate it (a worker of an older build). */
  readonly overload?: OverloadReport;
}

/** A fresh count array for `codeClasses`, or for the duration buckets. */
export const emptyCodeCounts = (): number[] => [0, 0, 0, 0, 0, 0];
export const emptyDurationBuckets = (): number[] => new Array<number>(durationBucketsSeconds.length + 1).fill(0);

/** Adds up the reports of several processes (cluster workers): the same labels give one entry with the sums. */
export function sumTraffic(reports: readonly TrafficReport[]): TrafficReport {
  const listeners = new Map<string, ListenerTrafficReport>();
  const routes = new Map<string, RouteTraffic>();
  const endpoints = new Map<string, EndpointTraffic>();
  const services = new Map<string, ServiceTraffic>();
  let overload: OverloadReport | undefined;
  for (const report of reports) {
    if (report.overload !== undefined) overload = addOverload(overload, report.overload);
    for (const l of report.listeners) {
      const key = `${l.listener}\u0000${l.protocol}`;
      const sum = listeners.get(key);
      if (sum === undefined) listeners.set(key, { ...l });
      else Object.assign(sum, addListener(sum, l));
    }
    for (const r of report.routes) {
      const key = `${r.listener}\u0000${r.route}\u0000${r.service}`;
      const sum = routes.get(key);
      if (sum === undefined) {
        routes.set(key, { ...r, codes: [...r.codes], durationBuckets: [...r.durationBuckets] });
        continue;
      }
      addInto(sum.codes, r.codes);
      addInto(sum.durationBuckets, r.durationBuckets);
      sum.durationSumSeconds += r.durationSumSeconds;
    }
    for (const e of report.endpoints) {
      const key = `${e.service}\u0000${e.endpoint}`;
      const sum = endpoints.get(key);
      if (sum === undefined) {
        endpoints.set(key, { ...e, codes: [...e.codes], durationBuckets: [...e.durationBuckets] });
        continue;
      }
      sum.inFlight += e.inFlight;
      sum.bytesOut += e.bytesOut;
      sum.bytesIn += e.bytesIn;
      addInto(sum.codes, e.codes);
      addInto(sum.durationBuckets, e.durationBuckets);
    }
    for (const s of report.services) {
      const sum = services.get(s.service);
      if (sum === undefined) {
        services.set(s.service, {
          ...s,
          ...(s.grpcStatuses === undefined ? {} : { grpcStatuses: [...s.grpcStatuses] }),
          ...(s.tlsFailures === undefined ? {} : { tlsFailures: [...s.tlsFailures] }),
        });
        continue;
      }
      sum.retries += s.retries;
      if (s.grpcStatuses !== undefined)
        addInto(((sum as { grpcStatuses?: number[] }).grpcStatuses ??= []), s.grpcStatuses);
      if (s.tlsFailures !== undefined) addInto(((sum as { tlsFailures?: number[] }).tlsFailures ??= []), s.tlsFailures);
    }
  }
  return {
    listeners: [...listeners.values()],
    routes: [...routes.values()],
    endpoints: [...endpoints.values()],
    services: [...services.values()],
    ...(overload === undefined ? {} : { overload }),
  };
}

/** Counts add up over processes; the lag is the worst one, and shedding is on when any process sheds. */
function addOverload(a: OverloadReport | undefined, b: OverloadReport): OverloadReport {
  if (a === undefined) return { ...b };
  return {
    shed: a.shed + b.shed,
    queueFull: a.queueFull + b.queueFull,
    queueTimeout: a.queueTimeout + b.queueTimeout,
    rateLimited: a.rateLimited + b.rateLimited,
    connections: a.connections + b.connections,
    lagSeconds: Math.max(a.lagSeconds, b.lagSeconds),
    shedding: a.shedding || b.shedding,
  };
}

function addListener(a: ListenerTraffic, b: ListenerTraffic): ListenerTraffic {
  return {
    open: a.open + b.open,
    accepted: a.accepted + b.accepted,
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
  };
}

function addInto(target: number[], source: readonly number[]): void {
  for (let i = 0; i < source.length; i++) target[i] = (target[i] ?? 0) + source[i]!;
}

/** A certificate a TLS listener serves (for the expiry metric). */
export interface ServedCertificate {
  readonly listener: string;
  /** The certificate file as configured. */
  readonly file: string;
  /** The server names it was loaded for (configured `serverNames`, else its DNS names, else its CN). */
  readonly names: readonly string[];
  /** Epoch ms after which it is no longer valid (its `notAfter`). */
  readonly notAfter: number;
}
