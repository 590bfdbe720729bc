import { basename } from 'node:path';
import { collectDefaultMetrics, Counter, Gauge, Registry, validateMetricName, type Metric } from 'prom-client';
import { codeClasses, durationBucketsSeconds } from '../core/traffic.js';
import type { HistogramDefinition, MetricDefinition, MetricSources, Sample, Scrape } from './metric-definition.js';
import { fleetMetrics } from './fleet-metrics.js';
import { overloadMetrics } from './overload-metrics.js';
import { grpcMetrics } from './grpc-metrics.js';

export type {
  HealthCheckCounts,
  MetricDefinition,
  MetricSources,
  RegistryReport,
  ReloadCounts,
} from './metric-definition.js';

/**
 * Every metric Switchyard exports, in one list (docs/metrics.md describes each). Names and labels are the interface
 * of SPEC.md "On the wire"; labels are bounded (configured names, endpoint ids, status classes), never a path or a
 * client address. Series are computed at scrape time from plain counters, so the request path never touches
 * prom-client.
 */
export const metricDefinitions: readonly MetricDefinition[] = [
  {
    name: 'switchyard_requests_total',
    type: 'counter',
    help: 'Client requests answered, by listener, route, service and status class ("none": no response was sent).',
    labelNames: ['listener', 'route', 'service', 'code_class'],
    *samples({ traffic }) {
      for (const r of traffic.routes) {
        for (const [i, count] of r.codes.entries()) {
          if (count > 0)
            yield [{ listener: r.listener, route: r.route, service: r.service, code_class: codeClasses[i]! }, count];
        }
      }
    },
  },
  {
    name: 'switchyard_request_duration_seconds',
    type: 'histogram',
    help: 'Time from a client request arriving to its response ending, in seconds.',
    labelNames: ['listener', 'route', 'service'],
    buckets: durationBucketsSeconds,
    *series({ traffic }) {
      for (const r of traffic.routes) {
        const labels = { listener: r.listener, route: r.route, service: r.service };
        yield { labels, counts: r.durationBuckets, sum: r.durationSumSeconds };
      }
    },
  },
  {
    name: 'switchyard_upstream_requests_total',
    type: 'counter',
    help: 'Attempts sent to an endpoint, by the class of its answer ("none": no response head came back).',
    labelNames: ['service', 'endpoint', 'code_class'],
    *samples({ traffic }) {
      for (const e of traffic.endpoints) {
        for (const [i, count] of e.codes.entries()) {
          if (count > 0) yield [{ service: e.service, endpoint: e.endpoint, code_class: codeClasses[i]! }, count];
        }
      }
    },
  },
  {
    name: 'switchyard_endpoint_up',
    type: 'gauge',
    help: '1 when the endpoint is healthy (or has no health check), 0 when down, ejected or not yet checked.',
    labelNames: ['service', 'endpoint'],
    *samples({ snapshot }) {
      for (const service of Object.values(snapshot?.services ?? {})) {
        for (const e of service.endpoints) {
          const up = e.health === undefined || e.health === 'up';
          yield [{ service: service.name, endpoint: e.id }, up ? 1 : 0];
        }
      }
    },
  },
  {
    name: 'switchyard_endpoint_in_flight',
    type: 'gauge',
    help: 'Requests and WebSocket tunnels in flight to the endpoint now.',
    labelNames: ['service', 'endpoint'],
    *samples({ traffic, snapshot }) {
      const inFlight = new Map<string, Sample>();
      for (const service of Object.values(snapshot?.services ?? {})) {
        for (const e of service.endpoints)
          inFlight.set(`${service.name}\u0000${e.id}`, [{ service: service.name, endpoint: e.id }, 0]);
      }
      // An endpoint gone from the snapshot still shows while requests to it finish.
      for (const e of traffic.endpoints) {
        const key = `${e.service}\u0000${e.endpoint}`;
        if (inFlight.has(key) || e.inFlight > 0)
          inFlight.set(key, [{ service: e.service, endpoint: e.endpoint }, e.inFlight]);
      }
      yield* inFlight.values();
    },
  },
  {
    name: 'switchyard_health_checks_total',
    type: 'counter',
    help: 'Active health checks of the endpoint, by result (pass or fail; a timeout is a fail).',
    labelNames: ['service', 'endpoint', 'result'],
    *samples({ healthChecks }) {
      for (const c of healthChecks) {
        yield [{ service: c.service, endpoint: c.endpoint, result: 'pass' }, c.passed];
        yield [{ service: c.service, endpoint: c.endpoint, result: 'fail' }, c.failed];
      }
    },
  },
  {
    name: 'switchyard_retries_total',
    type: 'counter',
    help: 'Requests sent again to another endpoint after a failed attempt.',
    labelNames: ['service'],
    *samples({ traffic, snapshot }) {
      const retries = new Map<string, number>(Object.keys(snapshot?.services ?? {}).map((name) => [name, 0]));
      for (const s of traffic.services) retries.set(s.service, s.retries);
      for (const [service, count] of retries) yield [{ service }, count];
    },
  },
  {
    name: 'switchyard_open_connections',
    type: 'gauge',
    help: 'Client connections open on the listener now (an HTTP/2 session is one connection).',
    labelNames: ['listener', 'protocol'],
    *samples({ traffic }) {
      for (const l of traffic.listeners) yield [{ listener: l.listener, protocol: l.protocol }, l.open];
    },
  },
  {
    name: 'switchyard_tcp_bytes_total',
    type: 'counter',
    help: 'Bytes on client connections: "in" from clients, "out" to clients (TLS listeners: on the wire).',
    labelNames: ['listener', 'direction'],
    *samples({ traffic }) {
      for (const l of traffic.listeners) {
        yield [{ listener: l.listener, direction: 'in' }, l.bytesIn];
        yield [{ listener: l.listener, direction: 'out' }, l.bytesOut];
      }
    },
  },
  {
    name: 'switchyard_config_reloads_total',
    type: 'counter',
    help: 'Configuration reloads and applies, by result (a failure keeps the running configuration).',
    labelNames: ['result'],
    *samples({ reloads }) {
      yield [{ result: 'success' }, reloads.success];
      yield [{ result: 'failure' }, reloads.failure];
    },
  },
  {
    name: 'switchyard_build_info',
    type: 'gauge',
    help: 'Always 1; the labels say which Switchyard and which Node.js run.',
    labelNames: ['version', 'node'],
    *samples({ version }) {
      yield [{ version, node: process.version }, 1];
    },
  },
  {
    name: 'switchyard_tls_certificate_expiry_timestamp_seconds',
    type: 'gauge',
    help: 'When the certificate expires (its notAfter), in Unix seconds; certificate = its first server name.',
    labelNames: ['listener', 'certificate'],
    *samples({ certificates }) {
      // Two certificates for one name (an RSA and an ECDSA one) give one series: the one that expires first.
      const soonest = new Map<string, Sample>();
      for (const c of certificates) {
        const certificate = c.names[0] ?? basename(c.file);
        const key = `${c.listener}\u0000${certificate}`;
        const seconds = c.notAfter / 1000;
        const seen = soonest.get(key);
        if (seen === undefined || seconds < seen[1]) soonest.set(key, [{ listener: c.listener, certificate }, seconds]);
      }
      yield* soonest.values();
    },
  },
  {
    name: 'switchyard_acme_certificate_expiry_timestamp_seconds',
    type: 'gauge',
    help: 'When the certificate the ACME resolver serves for the domain (stand-in included) expires, in Unix seconds.',
    labelNames: ['domain'],
    *samples({ acmeCertificates }) {
      const soonest = new Map<string, number>();
      for (const c of acmeCertificates)
        for (const domain of c.domains)
          soonest.set(domain, Math.min(soonest.get(domain) ?? Infinity, c.validUntil / 1000));
      for (const [domain, seconds] of soonest) yield [{ domain }, seconds];
    },
  },
  ...overloadMetrics,
  ...fleetMetrics,
  ...grpcMetrics,
];

/** The names of every metric Switchyard exports itself (prom-client's process and Node.js metrics come on top). */
export const metricNames: readonly string[] = metricDefinitions.map((d) => d.name);

/**
 * Process and Node.js runtime metrics (prom-client's defaults, unprefixed: `process_cpu_seconds_total`,
 * `nodejs_eventloop_lag_seconds` … the names every Prometheus client library and Node.js dashboard uses). They
 * describe the process, not one balancer, so one registry per process is created on the first scrape and shared.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * The `/metrics` exposition of one balancer: `metricDefinitions` rendered by prom-client in the Prometheus text
 * format, followed by the process metrics. Each scrape reads its sources once; scrapes never overlap.
 */
export class SwitchyardMetrics {
  /** `text/plain; version=0.0.4; charset=utf-8`. */
  readonly contentType: string = Registry.PROMETHEUS_CONTENT_TYPE;
  readonly #sources: MetricSources;
  readonly #registry = new Registry();
  #scrape: Scrape | undefined;
  #rendering: Promise<string> = Promise.resolve('');

  constructor(sources: MetricSources) {
    this.#sources = sources;
    for (const definition of metricDefinitions) this.#register(definition);
  }

  /** The exposition text. */
  render(): Promise<string> {
    const next = this.#rendering.catch(() => '').then(() => this.#renderOnce());
    this.#rendering = next;
    return next;
  }

  async #renderOnce(): Promise<string> {
    const sources = this.#sources;
    this.#scrape = {
      traffic: sources.traffic(),
      certificates: sources.certificates(),
      snapshot: sources.snapshot(),
      healthChecks: sources.healthChecks(),
      reloads: sources.reloads(),
      registry: sources.registry?.(),
      acmeCertificates: sources.acmeCertificates?.() ?? [],
      version: sources.version,
    };
    try {
      const [own, process] = await Promise.all([this.#registry.metrics(), processMetrics().metrics()]);
      return `${own}\n${process}`;
    } finally {
      this.#scrape = undefined;
    }
  }

  #register(definition: MetricDefinition): void {
    const read = (): Scrape => {
      if (this.#scrape === undefined) throw new Error('metrics are only read during a scrape');
      return this.#scrape;
    };
    const common = { name: definition.name, help: definition.help, labelNames: [...definition.labelNames] };
    const registers = [this.#registry];
    switch (definition.type) {
      case 'counter':
        new Counter({
          ...common,
          registers,
          collect() {
            this.reset();
            for (const [labels, value] of definition.samples(read())) this.inc(labels, value);
          },
        });
        return;
      case 'gauge':
        new Gauge({
          ...common,
          registers,
          collect() {
            this.reset();
            for (const [labels, value] of definition.samples(read())) this.set(labels, value);
          },
        });
        return;
      case 'histogram':
        this.#registry.registerMetric(new CountedHistogram(definition, read) as unknown as Metric);
    }
  }
}

/**
 * A histogram whose bucket counts are kept elsewhere (the data plane counts durations into fixed buckets). prom-client's
 * `Histogram` can only `observe()` one value at a time, so this metric hands the registry its series in the shape
 * `Histogram#get()` returns (`_bucket` with cumulative counts and `le`, `+Inf` equal to `_count`, `_sum`), and
 * prom-client renders and escapes them like its own. (It relies on the registry's metric contract of prom-client
 * 15.1, the pinned version: `name`, `help`, `type`, `aggregator` and `get()`.)
 */
class CountedHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #definition: HistogramDefinition;
  readonly #read: () => Scrape;

  constructor(definition: HistogramDefinition, read: () => Scrape) {
    if (!validateMetricName(definition.name)) throw new Error(`invalid metric name ${definition.name}`);
    this.name = definition.name;
    this.help = definition.help;
    this.#definition = definition;
    this.#read = read;
  }

  get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { metricName: string; labels: Record<string, string | number>; value: number }[];
  }> {
    const { name, buckets } = this.#definition;
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const series of this.#definition.series(this.#read())) {
      let cumulative = 0;
      for (const [i, bound] of buckets.entries()) {
        cumulative += series.counts[i] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { ...series.labels, le: bound }, value: cumulative });
      }
      cumulative += series.counts[buckets.length] ?? 0;
      values.push({ metricName: `${name}_bucket`, labels: { ...series.labels, le: '+Inf' }, value: cumulative });
      values.push({ metricName: `${name}_sum`, labels: { ...series.labels }, value: series.sum });
      values.push({ metricName: `${name}_count`, labels: { ...series.labels }, value: cumulative });
    }
    return Promise.resolve({ name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    // Nothing to reset: the counts live in the data plane.
  }
}
