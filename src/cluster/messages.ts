import type { AddressInfo } from 'node:net';
import type { AcmeMaterial } from '../core/acme-material.js';
import type { EndpointCounters } from '../core/worker-report.js';
import type { Snapshot } from '../core/snapshot.js';
import type { ServedCertificate, TrafficReport } from '../core/traffic.js';

/**
 * The messages between the cluster primary (control plane) and its workers (data plane). Every one is plain JSON:
 * a snapshot crosses as the same object the in-process data plane receives (docs/architecture.md). Each carries `sy` so that
 * nothing else on the IPC channel is mistaken for one.
 */

/** The live counters of one endpoint in one worker (as `DataPlane.counters`). */
export interface EndpointCountersReport extends EndpointCounters {
  readonly service: string;
  readonly endpoint: string;
}

/** What a worker counted: the primary adds the reports of all workers up for metrics and the admin API. */
export interface WorkerReport {
  readonly traffic: TrafficReport;
  readonly certificates: readonly ServedCertificate[];
  readonly endpoints: readonly EndpointCountersReport[];
}

/** Primary → worker. */
export type PrimaryMessage =
  /** Apply this snapshot (one at a time, in order); answered by `applied` or `apply-failed`. */
  | { readonly sy: 'apply'; readonly seq: number; readonly snapshot: Snapshot }
  /** Serve this ACME material (managed certificates, pending challenges); answered by `acme-applied`. */
  | { readonly sy: 'acme'; readonly seq: number; readonly material: AcmeMaterial }
  /** Send a `report`. */
  | { readonly sy: 'report'; readonly seq: number }
  /** Stop accepting, let in-flight work finish within `deadlineMs`, answer `drained`, then exit. */
  | { readonly sy: 'drain'; readonly deadlineMs: number }
  /** Reopen the access log files (the primary got SIGUSR1). */
  | { readonly sy: 'reopen-logs' };

/** Worker → primary. */
export type WorkerMessage =
  /** The worker listens for messages: the primary sends it the current snapshot. */
  | { readonly sy: 'ready' }
  /** A snapshot was applied; the bound address of every listener (so the primary can answer `address()`). */
  | {
      readonly sy: 'applied';
      readonly seq: number;
      readonly version: number;
      readonly addresses: Readonly<Record<string, AddressInfo>>;
    }
  | { readonly sy: 'apply-failed'; readonly seq: number; readonly message: string; readonly code?: string }
  | { readonly sy: 'report'; readonly seq: number; readonly report: WorkerReport }
  /** The ACME material of `acme` is served. */
  | { readonly sy: 'acme-applied'; readonly seq: number }
  /** A passive-health fact (`FactSink.upstreamFailure`) for the control plane. */
  | {
      readonly sy: 'fact';
      readonly fact: 'upstreamFailure';
      readonly service: string;
      readonly endpoint: string;
      readonly consecutiveErrors: number;
    }
  /** Every listener closed (`forced`: the deadline cut connections); its final report; the worker exits next. */
  | { readonly sy: 'drained'; readonly forced: boolean; readonly report: WorkerReport };

/** True for a message of this protocol (cluster's own messages and anything else are ignored). */
export function isSwitchyardMessage<T extends { readonly sy: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { sy?: unknown }).sy === 'string';
}
