import { codeClassIndex, durationBucketIndex, emptyCodeCounts, emptyDurationBuckets } from '../../core/traffic.js';
import type { LoadReport } from '../../core/worker-report.js';
import { Lease } from './lease.js';

/** A response-time estimator an algorithm asks its endpoints to keep (peak-EWMA); pure: time is passed in. */
export interface LatencyEstimator {
  observe(latencyMs: number, nowMs: number): void;
  value(nowMs: number): number | undefined;
}

/**
 * The live counters of one endpoint in this process, and the only code that changes them: the in-flight count moves
 * through leases (`enter`), the rest through the methods below, called by the upstream attempt. The same object
 * survives snapshot swaps, so a reload does not forget what is running; the admin API and metrics read it.
 */
export class EndpointGauge {
  #inFlight = 0;
  #consecutiveErrors = 0;
  #requests = 0;
  #stickyRequests = 0;
  #bytesOut = 0;
  #bytesIn = 0;
  #latency: LatencyEstimator | undefined;
  #reportedLoad: number | undefined;
  #reportedAt: number | undefined;
  #reportedBy: LoadReport['source'] = 'header';
  /** Upstream answers by `codeClasses` index (index 0: the attempt got no response head), for metrics. */
  readonly responses: number[] = emptyCodeCounts();
  /** Answered attempts by time from sent to response end (`durationBucketIndex`), for per-endpoint percentiles. */
  readonly durationBuckets: number[] = emptyDurationBuckets();
  /** The service's total in flight, moved with this endpoint's. */
  readonly #service: { inFlight: number };

  constructor(service: { inFlight: number } = { inFlight: 0 }) {
    this.#service = service;
  }

  /** Requests, tunnels, connections and sessions in flight to the endpoint now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Gateway errors in a row (reported to the control plane, which decides on ejection); a success resets it. */
  get consecutiveErrors(): number {
    return this.#consecutiveErrors;
  }

  /** Attempts sent to the endpoint, and how many of them because a stickiness key or hash chose it. */
  get requests(): number {
    return this.#requests;
  }

  get stickyRequests(): number {
    return this.#stickyRequests;
  }

  /** Bytes sent to the endpoint and received from it (HTTP bodies, tunnels, L4 connections, UDP datagrams). */
  get bytesOut(): number {
    return this.#bytesOut;
  }

  get bytesIn(): number {
    return this.#bytesIn;
  }

  /** The load the instance last reported (heartbeat or `X-Load`), and when (epoch ms). */
  get reportedLoad(): number | undefined {
    return this.#reportedLoad;
  }

  get reportedAt(): number | undefined {
    return this.#reportedAt;
  }

  /** The last report with its time and source (for the admin API), or undefined before the first. */
  get loadReport(): LoadReport | undefined {
    if (this.#reportedLoad === undefined || this.#reportedAt === undefined) return undefined;
    return { value: this.#reportedLoad, at: this.#reportedAt, source: this.#reportedBy };
  }

  /** One attempt begins: one more in flight until the returned lease is released (exactly once). */
  enter(sticky: boolean): Lease {
    this.#inFlight++;
    this.#service.inFlight++;
    this.#requests++;
    if (sticky) this.#stickyRequests++;
    return new Lease(this.#leave);
  }

  readonly #leave = (): void => {
    this.#inFlight--;
    this.#service.inFlight--;
  };

  /** The endpoint answered with a final status (its class is counted). */
  answered(status: number): void {
    this.responses[codeClassIndex(status)]!++;
  }

  /** An attempt ended: after `seconds` when it was answered, else (undefined) as an attempt with no response. */
  finished(seconds: number | undefined): void {
    if (seconds === undefined) this.responses[0]!++;
    else this.durationBuckets[durationBucketIndex(seconds)]!++;
  }

  /** A gateway error: the streak grows; returns it (for the control plane). */
  failed(): number {
    return ++this.#consecutiveErrors;
  }

  /** A good answer or a connect: the streak ends. An ejection also starts a new count. */
  succeeded(): void {
    this.#consecutiveErrors = 0;
  }

  sent(bytes: number): void {
    this.#bytesOut += bytes;
  }

  received(bytes: number): void {
    this.#bytesIn += bytes;
  }

  /** A response time for latency-aware algorithms; the estimator is made by `create` on the first one. */
  observeLatency(latencyMs: number, nowMs: number, create: () => LatencyEstimator): void {
    (this.#latency ??= create()).observe(latencyMs, nowMs);
  }

  /** The estimated response time at `nowMs`; undefined before the first response measured. */
  latencyMs(nowMs: number): number | undefined {
    return this.#latency?.value(nowMs);
  }

  /**
   * The instance reported its load at `at` (epoch ms), in an `X-Load` response header or a heartbeat; an older report
   * than the one kept changes nothing.
   */
  reportLoad(load: number, at: number, source: LoadReport['source']): void {
    if (this.#reportedAt !== undefined && at < this.#reportedAt) return;
    this.#reportedLoad = load;
    this.#reportedAt = at;
    this.#reportedBy = source;
  }

  /** The last report if it is at most `staleMs` old at `nowMs`. */
  freshLoad(staleMs: number, nowMs: number): number | undefined {
    return this.#reportedAt !== undefined && nowMs - this.#reportedAt <= staleMs ? this.#reportedLoad : undefined;
  }
}
