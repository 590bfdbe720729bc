import { balancingSchema, type algorithms } from '../config/service-schema.js';
import type { Endpoint, EndpointId } from '../core/endpoint.js';
import type { Balancer, BalancerOptions, LoadGauge } from '../data/balancing/balancer.js';
import { createBalancer } from '../data/balancing/create-balancer.js';
import { PeakEwmaEstimator } from '../data/balancing/peak-ewma.js';
import { EventQueue } from './event-queue.js';
import { LoadRecorder } from './load-recorder.js';
import { maxOverMean, percentile, perWeightSpread, stepImbalance, windowShares } from './metrics.js';
import { seededRandom } from './random.js';
import { type Job, SimEndpoint } from './sim-endpoint.js';
import { StickyBalancer } from './sticky.js';
import { endpointSpecsOf, generateRequests, type SimRequest, type Workload } from './workload.js';

export type AlgorithmName = (typeof algorithms)[number];

/** One algorithm as run by the simulator: plain, or wrapped in stickiness. */
export interface Variant {
  readonly algorithm: AlgorithmName;
  readonly sticky: boolean;
}

/** What one variant did with the workload. Loads are in the workload's `loadMetric` (connections or MB). */
export interface RunResult {
  /** `least-connections`, or `round-robin + sticky`. */
  readonly label: string;
  readonly variant: Variant;
  /** Each endpoint's share of the work done (cost units of completed requests), summing to 1. */
  readonly workShare: readonly number[];
  /** Requests each endpoint was given (first attempts and retries that reached it). */
  readonly requests: readonly number[];
  /** Of the endpoints' requests per unit of weight, the most ÷ the fewest (1 is perfect; Infinity if one got none). */
  readonly requestSpread: number;
  /** Per `workload.windows`: the endpoint's share of the window's requests ÷ its fair share (NaN: no requests). */
  readonly windowShares: readonly number[];
  /** Each endpoint's load averaged over the whole run. */
  readonly meanLoad: readonly number[];
  /**
   * Mean over the chart's steps of max ÷ mean load per unit of weight of the endpoints up in that step (see
   * `stepImbalance`).
   */
  readonly imbalance: number;
  /** max ÷ mean of `meanLoad` per unit of weight: only a lasting skew shows here, a moving one averages out. */
  readonly runImbalance: number;
  /** Response time of completed work in virtual ms (a session's open time after its work does not count). */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly completed: number;
  /** Refused (no endpoint left, or the one retry failed too) or cut off when an endpoint died. */
  readonly failed: number;
  /** First attempts that hit a dead endpoint and were retried on another. */
  readonly retried: number;
  /** Each endpoint's average load in each step of `stepMs`. */
  readonly series: readonly (readonly number[])[];
  /** The requests each endpoint was sent per second in each step of `stepMs`. */
  readonly requestSeries: readonly (readonly number[])[];
}

/** Everything a report needs: the workload as run, and one result per variant. */
export interface SimulationResult {
  readonly workload: Workload;
  readonly seed: number;
  readonly endpointIds: readonly string[];
  readonly requests: number;
  readonly runs: readonly RunResult[];
}

type SimEvent =
  | { readonly kind: 'arrival'; readonly index: number }
  | { readonly kind: 'work'; readonly endpoint: SimEndpoint; readonly version: number }
  | { readonly kind: 'close'; readonly job: Job }
  | { readonly kind: 'down' | 'up' | 'forget' | 'admit'; readonly endpoint: SimEndpoint }
  | { readonly kind: 'slow'; readonly endpoint: SimEndpoint; readonly factor: number }
  | { readonly kind: 'heartbeat' };

/** The variants a workload runs for the chosen algorithms, in table order. */
export function variantsOf(workload: Workload, chosen: readonly AlgorithmName[]): Variant[] {
  return chosen.flatMap((algorithm) => {
    if (workload.stickiness === 'off') return [{ algorithm, sticky: false }];
    if (workload.stickiness === 'on') return [{ algorithm, sticky: true }];
    return [
      { algorithm, sticky: false },
      { algorithm, sticky: true },
    ];
  });
}

/** Runs every variant against the same seeded request stream. Same inputs, same result, bit for bit. */
export function simulate(workload: Workload, chosen: readonly AlgorithmName[], seed: number): SimulationResult {
  const requests = generateRequests(workload, seededRandom(seed, 'workload'));
  const runs = variantsOf(workload, chosen).map((variant) => new Run(workload, requests, variant, seed).result());
  const endpointIds = endpointSpecsOf(workload).map((_, i) => `e${i + 1}`);
  return { workload, seed, endpointIds, requests: requests.length, runs };
}

/** One variant over one request stream: a discrete-event loop on a virtual clock. */
class Run {
  readonly #workload: Workload;
  readonly #requests: readonly SimRequest[];
  readonly #variant: Variant;
  readonly #queue = new EventQueue<SimEvent>();
  readonly #endpoints: SimEndpoint[];
  readonly #byId: Map<EndpointId, SimEndpoint>;
  readonly #eligible = new Set<EndpointId>();
  readonly #estimators = new Map<EndpointId, PeakEwmaEstimator>();
  readonly #reports = new Map<EndpointId, { readonly value: number; readonly atMs: number }>();
  readonly #stickyKeys = new Map<string, EndpointId>();
  readonly #recorder: LoadRecorder;
  readonly #latencies: number[] = [];
  readonly #work: number[];
  /** The endpoint index each request went to, by request index (-1: refused). */
  readonly #picked: Int16Array;
  readonly #options: BalancerOptions;
  readonly #gauge: LoadGauge;
  #balancer: Balancer;
  #nowMs = 0;
  #failed = 0;
  #retried = 0;

  constructor(workload: Workload, requests: readonly SimRequest[], variant: Variant, seed: number) {
    this.#workload = workload;
    this.#requests = requests;
    this.#variant = variant;
    this.#endpoints = endpointSpecsOf(workload).map((spec, i) => new SimEndpoint(i, spec));
    this.#byId = new Map(this.#endpoints.map((e) => [e.id, e]));
    this.#work = this.#endpoints.map(() => 0);
    this.#picked = new Int16Array(requests.length).fill(-1);
    this.#recorder = new LoadRecorder(this.#endpoints.length, workload.durationMs, workload.stepMs);
    const balancing = balancingSchema.parse(workload.balancing ?? {});
    this.#options = { random: seededRandom(seed, 'balancer'), now: () => this.#nowMs, balancing };
    this.#gauge = {
      active: (id) => this.#byId.get(id)?.open ?? 0,
      latencyMs: (id) => this.#estimators.get(id)?.value(this.#nowMs),
      reportedLoad: (id) => {
        const report = this.#reports.get(id);
        if (report === undefined || this.#nowMs - report.atMs > balancing.leastLoad.staleMs) return undefined;
        return report.value;
      },
      reportedAt: (id) => this.#reports.get(id)?.atMs,
    };
    for (const endpoint of this.#endpoints) this.#admit(endpoint);
    this.#balancer = this.#build();
  }

  result(): RunResult {
    this.#schedule();
    const { durationMs } = this.#workload;
    for (let next = this.#queue.pop(); next !== undefined; next = this.#queue.pop()) {
      // After the end only the work in progress drains, so that its response times count.
      if (next.timeMs > durationMs && next.item.kind !== 'work') continue;
      this.#nowMs = next.timeMs;
      this.#handle(next.item);
    }
    return this.#summarise();
  }

  #schedule(): void {
    const { durationMs, heartbeatMs, detectMs, outages, slowdowns } = this.#workload;
    if (this.#requests.length > 0) this.#queue.push(this.#requests[0]!.atMs, { kind: 'arrival', index: 0 });
    for (const outage of outages) {
      const endpoint = this.#endpoints[outage.endpoint];
      if (endpoint === undefined) continue;
      this.#queue.push(outage.downAtMs, { kind: 'down', endpoint });
      this.#queue.push(outage.downAtMs + detectMs, { kind: 'forget', endpoint });
      this.#queue.push(outage.upAtMs, { kind: 'up', endpoint });
      this.#queue.push(outage.upAtMs + detectMs, { kind: 'admit', endpoint });
    }
    for (const slowdown of slowdowns) {
      const endpoint = this.#endpoints[slowdown.endpoint];
      if (endpoint === undefined) continue;
      this.#queue.push(slowdown.fromMs, { kind: 'slow', endpoint, factor: slowdown.factor });
      this.#queue.push(slowdown.toMs, { kind: 'slow', endpoint, factor: 1 });
    }
    for (let t = heartbeatMs; t < durationMs; t += heartbeatMs) this.#queue.push(t, { kind: 'heartbeat' });
  }

  #handle(event: SimEvent): void {
    switch (event.kind) {
      case 'arrival':
        return this.#arrive(event.index);
      case 'work':
        if (event.version === event.endpoint.version && event.endpoint.up) this.#workDone(event.endpoint);
        return;
      case 'close':
        if (event.job.open) this.#close(event.job);
        return;
      case 'down':
        this.#failed += event.endpoint.fail(this.#nowMs).length;
        return this.#record(event.endpoint);
      case 'up':
        event.endpoint.up = true;
        return;
      case 'slow':
        event.endpoint.slowDown(event.factor, this.#nowMs);
        return this.#reschedule(event.endpoint);
      case 'forget':
        this.#eligible.delete(event.endpoint.id);
        this.#balancer = this.#build();
        return;
      case 'admit':
        this.#admit(event.endpoint);
        this.#balancer = this.#build();
        return;
      case 'heartbeat':
        for (const endpoint of this.#endpoints) {
          if (endpoint.up) this.#reports.set(endpoint.id, { value: endpoint.memoryMb, atMs: this.#nowMs });
        }
    }
  }

  /** The control plane's view changes: a fresh gauge for the (re)joining endpoint, as the data plane keeps none. */
  #admit(endpoint: SimEndpoint): void {
    this.#eligible.add(endpoint.id);
    this.#estimators.set(endpoint.id, new PeakEwmaEstimator(this.#options.balancing.peakEwma.decayMs));
    this.#reports.delete(endpoint.id);
  }

  /** A new balancer over the eligible endpoints, as `apply(snapshot)` builds one when membership changes. */
  #build(): Balancer {
    const endpoints: Endpoint[] = this.#endpoints
      .filter((e) => this.#eligible.has(e.id))
      .map((e) => ({ id: e.id, url: `http://${e.id}.sim`, weight: e.spec.weight, state: 'ready' }));
    const inner = createBalancer(this.#variant.algorithm, endpoints, this.#gauge, this.#options);
    return this.#variant.sticky ? new StickyBalancer(inner, endpoints, this.#stickyKeys) : inner;
  }

  #arrive(index: number): void {
    const next = this.#requests[index + 1];
    if (next !== undefined) this.#queue.push(next.atMs, { kind: 'arrival', index: index + 1 });
    const request = this.#requests[index]!;
    let target = this.#endpointFor(this.#balancer.pick({ hashKey: request.client }));
    if (target !== undefined && !target.up) {
      // A connect failure is retried once on another endpoint (docs/guarantees.md), then the client gets a 502.
      this.#retried++;
      const exclude = new Set([target.id]);
      target = this.#endpointFor(this.#balancer.pick({ hashKey: request.client, exclude }));
      if (target !== undefined && !target.up) target = undefined;
    }
    if (target === undefined) {
      this.#failed++;
      return;
    }
    this.#picked[index] = target.index;
    target.start({ request, endpoint: target, startMs: this.#nowMs, open: true }, this.#nowMs);
    this.#record(target);
    this.#reschedule(target);
  }

  #endpointFor(picked: Endpoint | undefined): SimEndpoint | undefined {
    return picked === undefined ? undefined : this.#byId.get(picked.id);
  }

  #workDone(endpoint: SimEndpoint): void {
    const index = endpoint.index;
    for (const job of endpoint.takeDone(this.#nowMs)) {
      const latencyMs = this.#nowMs - job.request.atMs;
      this.#latencies.push(latencyMs);
      this.#estimators.get(endpoint.id)?.observe(latencyMs, this.#nowMs);
      this.#work[index]! += job.request.costMs;
      const closeAtMs = job.startMs + job.request.holdMs;
      if (closeAtMs > this.#nowMs) this.#queue.push(closeAtMs, { kind: 'close', job });
      else endpoint.close(job);
    }
    // The response carries the instance's load (`X-Load`), as it stands once the finished requests are gone.
    if (this.#workload.loadOnResponses !== false) {
      this.#reports.set(endpoint.id, { value: endpoint.memoryMb, atMs: this.#nowMs });
    }
    this.#record(endpoint);
    this.#reschedule(endpoint);
  }

  #close(job: Job): void {
    job.endpoint.close(job);
    this.#record(job.endpoint);
  }

  #reschedule(endpoint: SimEndpoint): void {
    const atMs = endpoint.nextDoneMs();
    if (atMs !== undefined) this.#queue.push(atMs, { kind: 'work', endpoint, version: endpoint.version });
  }

  #record(endpoint: SimEndpoint): void {
    const value = this.#workload.loadMetric === 'memory' ? endpoint.memoryMb : endpoint.open;
    this.#recorder.set(endpoint.index, value, this.#nowMs);
  }

  #summarise(): RunResult {
    const series = this.#recorder.finish();
    const { durationMs, stepMs } = this.#workload;
    // The last step may be shorter than the others: weigh each by its length.
    const meanLoad = series.map(
      (steps) =>
        steps.reduce((sum, v, i) => sum + v * (Math.min(durationMs, (i + 1) * stepMs) - i * stepMs), 0) / durationMs,
    );
    const totalWork = this.#work.reduce((sum, w) => sum + w, 0);
    const sorted = Float64Array.from(this.#latencies).sort();
    const { algorithm, sticky } = this.#variant;
    const weights = this.#endpoints.map((e) => e.spec.weight);
    const requests = this.#endpoints.map(() => 0);
    const steps = series[0]?.length ?? 0;
    const requestSeries = this.#endpoints.map(() => new Array<number>(steps).fill(0));
    this.#picked.forEach((index, i) => {
      if (index < 0) return;
      requests[index]!++;
      const step = Math.min(steps - 1, Math.floor(this.#requests[i]!.atMs / stepMs));
      requestSeries[index]![step]! += 1000 / (Math.min(durationMs, (step + 1) * stepMs) - step * stepMs);
    });
    return {
      label: sticky ? `${algorithm} + sticky` : algorithm,
      variant: this.#variant,
      workShare: this.#work.map((w) => (totalWork === 0 ? 0 : w / totalWork)),
      requests,
      requestSpread: perWeightSpread(requests, weights),
      windowShares: windowShares(this.#workload.windows, this.#requests, this.#picked, weights),
      meanLoad,
      imbalance: stepImbalance(series, stepMs, this.#workload.outages, weights),
      runImbalance: maxOverMean(meanLoad.map((load, i) => load / weights[i]!)),
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      completed: sorted.length,
      failed: this.#failed,
      retried: this.#retried,
      series,
      requestSeries,
    };
  }
}
