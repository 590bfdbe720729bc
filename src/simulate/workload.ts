import type { z } from 'zod';
import type { balancingSchema } from '../config/service-schema.js';
import { type Distribution, type Random, sample, zipfSampler } from './random.js';

/** The `balancing:` block of a service as written in the config. */
export type BalancingInput = z.input<typeof balancingSchema>;

/** One simulated instance: how fast it works and how many requests it serves at full speed at once. */
export interface EndpointSpec {
  /** Work units done per virtual ms by one core: a request of cost c takes c / speed ms when it has a core alone. */
  readonly speed: number;
  /**
   * Cores. Up to this many working requests each progress at full speed; beyond it they share the cores equally
   * (processor sharing), so every request on a crowded endpoint slows down.
   */
  readonly cores: number;
  /** The weight the balancer sees (the config's `weight:`). */
  readonly weight: number;
}

/** One kind of request in the mix. */
export interface RequestClass {
  readonly name: string;
  /** Relative frequency among the classes. */
  readonly share: number;
  /** Work in ms of one core at speed 1 (the response is complete when it is done). */
  readonly costMs: Distribution;
  /** Memory the request holds on its endpoint from arrival until its connection closes (rounded to whole MB). */
  readonly memoryMb: Distribution;
  /**
   * Long-lived sessions (WebSocket, streaming): the connection stays open this long after arrival even when the work
   * is done sooner. Plain requests close as soon as their work is done.
   */
  readonly holdMs?: Distribution;
}

/** How requests arrive: a Poisson process, or one whose rate jumps during bursts. */
export type Arrivals =
  | { readonly kind: 'poisson'; readonly perEndpointPerSecond: number }
  | {
      readonly kind: 'bursty';
      /** The long-run average rate; calm periods run below it, bursts `burstFactor` times the calm rate. */
      readonly perEndpointPerSecond: number;
      readonly burstFactor: number;
      /** Mean length of a burst and of a calm period (both exponentially distributed). */
      readonly burstMs: number;
      readonly calmMs: number;
    };

/** An endpoint (by index) that fails at `downAtMs` and comes back at `upAtMs`. */
export interface Outage {
  readonly endpoint: number;
  readonly downAtMs: number;
  readonly upAtMs: number;
}

/**
 * An endpoint (by index) whose cores work `factor` times slower from `fromMs` until `toMs` (a noisy neighbour, a GC
 * storm, a cold cache): a request alone on it takes `factor` times as long, and it can do `1 / factor` of the work.
 */
export interface Slowdown {
  readonly endpoint: number;
  readonly fromMs: number;
  readonly toMs: number;
  readonly factor: number;
}

/**
 * A window of the request stream in which the report shows one endpoint's share of the requests, as a fraction of
 * its fair share (its weight ÷ the total weight): the requests arriving from `fromMs` (before `untilMs` when given),
 * leaving out the first `skip` of them and counting at most `count`.
 */
export interface ShareWindow {
  /** A column title, e.g. `next 200`. */
  readonly label: string;
  readonly endpoint: number;
  readonly fromMs: number;
  readonly untilMs?: number;
  readonly skip?: number;
  readonly count?: number;
}

/** What the simulator measures as an endpoint's load: open connections or memory in use. */
export type LoadMetric = 'in-flight' | 'memory';

/** A complete synthetic workload; the presets are values of this type. */
export interface Workload {
  readonly name: string;
  /** One line: what the workload models. */
  readonly description: string;
  /** One line: what it shows (the ordering the preset exists to demonstrate). */
  readonly expectation: string;
  /** Endpoint shapes, repeated in order when more endpoints are asked for. */
  readonly endpointSpecs: readonly EndpointSpec[];
  readonly endpointCount: number;
  readonly durationMs: number;
  readonly arrivals: Arrivals;
  readonly classes: readonly RequestClass[];
  /** Requests come from `count` clients, chosen with Zipf's law (`skew` 0 is uniform). */
  readonly clients: { readonly count: number; readonly skew: number };
  /** `compare` runs each algorithm twice: plain, and wrapped in stickiness (a returning client keeps its endpoint). */
  readonly stickiness: 'off' | 'on' | 'compare';
  readonly loadMetric: LoadMetric;
  readonly outages: readonly Outage[];
  readonly slowdowns: readonly Slowdown[];
  /** Windows of the request stream shown as one endpoint's share of requests (a second table in the report). */
  readonly windows: readonly ShareWindow[];
  /** How long health checks take to notice a failure or a recovery (the balancer is rebuilt after it). */
  readonly detectMs: number;
  /** Instances report their memory in use this often (heartbeats), and on every response (`X-Load`) too … */
  readonly heartbeatMs: number;
  /** … unless this is false: then only heartbeats carry reports. */
  readonly loadOnResponses?: boolean;
  /** Width of one step of the chart and of the imbalance measurement. */
  readonly stepMs: number;
  /** What the chart plots: each endpoint's load (the default), or the requests it is sent per second. */
  readonly chart?: 'load' | 'requests';
  /** The services' `balancing:` tuning, as in the config (defaults for what is left out). */
  readonly balancing?: BalancingInput;
}

/** One synthetic request, drawn before any algorithm runs so that every algorithm sees the same traffic. */
export interface SimRequest {
  readonly atMs: number;
  /** The stickiness and hash key: `client-<n>`. */
  readonly client: string;
  readonly costMs: number;
  readonly memoryMb: number;
  /** 0 for plain requests. */
  readonly holdMs: number;
}

/** The instants of a Poisson (or burst-modulated Poisson) process on [0, durationMs). */
function arrivalTimes(workload: Workload, random: Random): number[] {
  const { arrivals, durationMs, endpointCount } = workload;
  const meanPerMs = (arrivals.perEndpointPerSecond * endpointCount) / 1000;
  const times: number[] = [];
  if (arrivals.kind === 'poisson') {
    for (let t = -Math.log(1 - random()) / meanPerMs; t < durationMs; t += -Math.log(1 - random()) / meanPerMs) {
      times.push(t);
    }
    return times;
  }
  // Calm rate r and burst rate f·r, weighted by the time spent in each, average to the requested rate.
  const { burstFactor, burstMs, calmMs } = arrivals;
  const calmPerMs = (meanPerMs * (burstMs + calmMs)) / (calmMs + burstFactor * burstMs);
  let t = 0;
  let bursting = false;
  let switchAt = -Math.log(1 - random()) * calmMs;
  while (t < durationMs) {
    const rate = bursting ? calmPerMs * burstFactor : calmPerMs;
    const next = t - Math.log(1 - random()) / rate;
    if (next >= switchAt) {
      // Memoryless: restarting the draw at the switch with the new rate is exact.
      t = switchAt;
      bursting = !bursting;
      switchAt = t - Math.log(1 - random()) * (bursting ? burstMs : calmMs);
      continue;
    }
    t = next;
    if (t < durationMs) times.push(t);
  }
  return times;
}

/** Draws the whole request stream of a workload. */
export function generateRequests(workload: Workload, random: Random): SimRequest[] {
  const pickClient = zipfSampler(workload.clients.count, workload.clients.skew);
  const totalShare = workload.classes.reduce((sum, c) => sum + c.share, 0);
  return arrivalTimes(workload, random).map((atMs) => {
    let target = random() * totalShare;
    let requestClass = workload.classes[workload.classes.length - 1]!;
    for (const candidate of workload.classes) {
      target -= candidate.share;
      if (target < 0) {
        requestClass = candidate;
        break;
      }
    }
    return {
      atMs,
      client: `client-${pickClient(random) + 1}`,
      costMs: sample(requestClass.costMs, random),
      // Whole megabytes, so that adding and removing them never leaves rounding residue in an endpoint's total.
      memoryMb: Math.max(1, Math.round(sample(requestClass.memoryMb, random))),
      holdMs: requestClass.holdMs === undefined ? 0 : sample(requestClass.holdMs, random),
    };
  });
}

/** The endpoint shapes of a workload, the template repeated up to `endpointCount`. */
export function endpointSpecsOf(workload: Workload): EndpointSpec[] {
  return Array.from(
    { length: workload.endpointCount },
    (_, i) => workload.endpointSpecs[i % workload.endpointSpecs.length]!,
  );
}
