/**
 * What a data plane (one process, or each worker) reports about itself besides its traffic: the live counters of an
 * endpoint and, with workers, a summary of each worker. Shared words of the admin API, the cluster and main.
 */

/** Live counters of one endpoint: requests (L7), open connections or sessions and their bytes (L4). */
export interface EndpointCounters {
  readonly inFlight: number;
  readonly requests: number;
  readonly stickyRequests: number;
  readonly bytesOut: number;
  readonly bytesIn: number;
  /**
   * Upstream answers by `codeClasses` index (0: no response), and answered attempts by `durationBucketIndex`: the
   * error rate and latency percentiles of the dashboard. Optional: without them those show as unknown.
   */
  readonly responses?: readonly number[];
  readonly durationBuckets?: readonly number[];
  /** The last load the instance reported, as this data plane holds it (least-load reads it); absent before one. */
  readonly loadReport?: LoadReport;
}

/** A load an instance reported: its value, when (epoch ms), and how (`X-Load` response header or heartbeat). */
export interface LoadReport {
  readonly value: number;
  readonly at: number;
  readonly source: 'header' | 'heartbeat';
}

/** One worker process of a balancer started with `workers`. */
export interface WorkerSummary {
  /** The cluster worker id (1, 2, … ; a replacement gets a new one). */
  readonly id: number;
  readonly pid: number;
  /** `starting` until it applied the current snapshot, `serving`, then `draining` once told to stop. */
  readonly state: 'starting' | 'serving' | 'draining';
  /** Epoch ms it was forked. */
  readonly startedAt: number;
  /** The snapshot version it applied last. */
  readonly snapshotVersion: number;
  /** Requests it answered (as of its last report). */
  readonly requests: number;
}
