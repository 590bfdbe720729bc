import type { Snapshot } from '../core/snapshot.js';
import type { ServedCertificate, TrafficReport } from '../core/traffic.js';

/**
 * The shape of a metric definition and what one scrape reads (metrics.ts holds the one list; groups of definitions
 * in files of their own, such as overload-metrics.ts, are spread into it).
 */

/** Pass and fail counts of one endpoint's active health checks. */
export interface HealthCheckCounts {
  readonly service: string;
  readonly endpoint: string;
  readonly passed: number;
  readonly failed: number;
}

/** Configuration changes applied to a running balancer (`reload()`, `apply()`, SIGHUP, `POST /api/reload`). */
export interface ReloadCounts {
  readonly success: number;
  readonly failure: number;
}

/**
 * Where the metrics come from, each read once per scrape. The composition root wires them to their owners: the data
 * plane's counters (summed over the workers when there are several), the control plane's snapshot and health checks.
 */
export interface MetricSources {
  traffic(): TrafficReport;
  certificates(): readonly ServedCertificate[];
  snapshot(): Snapshot | undefined;
  healthChecks(): readonly HealthCheckCounts[];
  reloads(): ReloadCounts;
  /** The shared registry store (a fleet on etcd); undefined with a local store (its metrics are then absent). */
  registry?(): RegistryReport | undefined;
  /** Certificates the ACME resolver manages: their names and notAfter (epoch ms). */
  acmeCertificates?(): readonly { readonly domains: readonly string[]; readonly validUntil: number }[];
  /** Switchyard's version, for `switchyard_build_info`. */
  readonly version: string;
}

/** A fleet node's view of its shared store (docs/fleet.md). */
export interface RegistryReport {
  readonly up: boolean;
  readonly revision: number;
  readonly resyncs: Readonly<Record<string, number>>;
  /** Services keeping expired endpoints now (self-preservation). */
  readonly preserving: readonly string[];
  /** The declared services, so that self-preservation reads 0 for them while inactive. */
  readonly services: readonly string[];
  readonly nodes: number;
}

/** Everything one scrape reads, gathered before any series is rendered, so all series describe the same instant. */
export interface Scrape {
  readonly registry: RegistryReport | undefined;
  readonly traffic: TrafficReport;
  readonly certificates: readonly ServedCertificate[];
  readonly snapshot: Snapshot | undefined;
  readonly healthChecks: readonly HealthCheckCounts[];
  readonly reloads: ReloadCounts;
  readonly acmeCertificates: readonly { readonly domains: readonly string[]; readonly validUntil: number }[];
  readonly version: string;
}

export type Labels = Readonly<Record<string, string>>;
/** One series of a counter or gauge. */
export type Sample = readonly [labels: Labels, value: number];

export interface ScalarDefinition {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  readonly labelNames: readonly string[];
  samples(scrape: Scrape): Iterable<Sample>;
}

/** One series of a histogram: counts per bucket, not cumulative, with one slot more than `buckets` (+Inf). */
export interface HistogramSeries {
  readonly labels: Labels;
  readonly counts: readonly number[];
  readonly sum: number;
}

export interface HistogramDefinition {
  readonly name: string;
  readonly type: 'histogram';
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[];
  series(scrape: Scrape): Iterable<HistogramSeries>;
}

export type MetricDefinition = ScalarDefinition | HistogramDefinition;
