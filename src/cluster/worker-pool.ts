import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { EndpointCounters, WorkerSummary } from '../core/worker-report.js';
import { SwitchyardError } from '../core/errors.js';
import type { FactSink } from '../core/facts.js';
import type { LogFormat, Logger } from '../core/log.js';
import type { AcmeMaterial } from '../core/acme-material.js';
import type { Snapshot } from '../core/snapshot.js';
import { sumTraffic, type ServedCertificate, type TrafficReport } from '../core/traffic.js';
import type { DataPlaneHandle } from '../main.js';
import { relayLogReopen } from '../observability/access-log.js';
import { isSwitchyardMessage, type PrimaryMessage, type WorkerMessage, type WorkerReport } from './messages.js';
import { workerLogFormatEnv } from './worker.js';
import { requestsOf, retire, sumCounters } from './worker-reports.js';

export interface WorkerPoolOptions {
  /** How many workers serve traffic. */
  readonly size: number;
  readonly log: Logger;
  /** Where the workers' passive-health facts go (the control plane). */
  readonly facts: FactSink;
  readonly logFormat?: LogFormat;
  /** How long the primary waits for a worker's report before using its previous one (ms). */
  readonly reportTimeoutMs?: number;
}

interface Entry {
  readonly worker: Worker;
  readonly startedAt: number;
  state: WorkerSummary['state'];
  version: number;
  report: WorkerReport | undefined;
  /** Replies awaited from this worker, by sequence number. */
  readonly waiting: Map<number, (reply: WorkerMessage | undefined) => void>;
  readonly exited: Promise<void>;
}

const emptyReport: WorkerReport = {
  traffic: { listeners: [], routes: [], endpoints: [], services: [] },
  certificates: [],
  endpoints: [],
};
/** A worker that dies sooner than this after its fork counts as crashing at once: its replacement waits (backoff). */
const crashLoopMs = 5_000;
const maxBackoffMs = 10_000;
/** How long a new worker may take to start and apply the current snapshot. */
const startTimeoutMs = 30_000;
/** How often the primary gathers the workers' reports without being asked (ms). */
const backgroundRefreshMs = 1_000;

/**
 * The cluster primary's data plane: `size` worker processes, each running a `DataPlane` on the listening sockets the
 * primary holds (cluster's round-robin scheduling hands each accepted connection to one worker). Snapshots go to every
 * worker; reads (`traffic`, `counters`, `certificates`) answer from the reports the last `refresh()` gathered, summed.
 * A worker that dies is replaced (after a backoff when it keeps dying at once); `roll()` replaces them one at a time.
 */
export class WorkerPool implements DataPlaneHandle {
  readonly #options: WorkerPoolOptions;
  readonly #log: Logger;
  readonly #entries = new Map<number, Entry>();
  /** The ACME resolver's last material: sent to every worker, and to a new one before its first snapshot. */
  #acme: AcmeMaterial | undefined;
  #current: Snapshot | undefined;
  #addresses: Readonly<Record<string, AddressInfo>> = {};
  /** What exited workers counted (gauges zeroed), so that totals never go down when a worker is replaced. */
  #retired: WorkerReport = emptyReport;
  #seq = 0;
  #started = false;
  #closing = false;
  #backoffMs = 0;
  #refreshing: Promise<void> | undefined;
  #rolling: Promise<unknown> = Promise.resolve();
  #refreshTimer: NodeJS.Timeout | undefined;
  /** SIGUSR1 reaches the primary: each worker reopens its own access log files. */
  readonly #unrelayLogReopen = relayLogReopen({
    reopen: () => {
      for (const entry of this.#live()) this.#send(entry, { sy: 'reopen-logs' });
    },
  });

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'cluster' });
    const self = fileURLToPath(import.meta.url);
    // The worker entry beside this file: .ts under tsx (tests), .js in the build.
    cluster.setupPrimary({ exec: self.replace(/worker-pool(\.[cm]?[jt]s)$/, 'worker-main$1'), args: [] });
  }

  async apply(snapshot: Snapshot): Promise<void> {
    const previous = this.#current;
    this.#current = snapshot;
    if (!this.#started) {
      this.#started = true;
      // Reads between admin calls (the dashboard's sampler) see counters at most this old.
      this.#refreshTimer = setInterval(() => void this.refresh(), backgroundRefreshMs);
      this.#refreshTimer.unref();
      await Promise.all(Array.from({ length: this.#options.size }, () => this.#spawn()));
      return;
    }
    const serving = [...this.#entries.values()].filter((e) => e.state === 'serving');
    const results = await Promise.allSettled(serving.map((e) => this.#applyTo(e, snapshot)));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure === undefined) return;
    // The control plane keeps its previous configuration: put the workers that took the new snapshot back on it.
    if (previous !== undefined) {
      this.#current = previous;
      for (const entry of serving) {
        this.#applyTo(entry, previous).catch((error: unknown) =>
          this.#log.error({ err: error, worker: entry.worker.id }, 'restoring the previous snapshot failed'),
        );
      }
    }
    throw failure.reason;
  }

  address(listener: string): AddressInfo | undefined {
    return this.#addresses[listener];
  }

  traffic(): TrafficReport {
    return sumTraffic([this.#retired.traffic, ...this.#live().map((e) => e.report?.traffic ?? emptyReport.traffic)]);
  }

  certificates(): readonly ServedCertificate[] {
    return this.#live().find((e) => e.report !== undefined)?.report?.certificates ?? [];
  }

  counters(service: string, endpoint: string): EndpointCounters {
    return sumCounters([this.#retired, ...this.#live().map((e) => e.report)], service, endpoint);
  }

  /** Asks every live worker for its report (at most `reportTimeoutMs`; a silent one keeps its previous report). */
  refresh = (): Promise<void> => {
    this.#refreshing ??= Promise.all(
      this.#live().map(async (entry) => {
        const reply = await this.#ask(entry, (seq) => ({ sy: 'report', seq }), this.#options.reportTimeoutMs ?? 1_000);
        if (reply?.sy === 'report') entry.report = reply.report;
      }),
    ).then(
      () => (this.#refreshing = undefined),
      () => (this.#refreshing = undefined),
    );
    return this.#refreshing;
  };

  workers = (): WorkerSummary[] =>
    [...this.#entries.values()].map((e) => ({
      id: e.worker.id,
      pid: e.worker.process.pid ?? 0,
      state: e.state,
      startedAt: e.startedAt,
      snapshotVersion: e.version,
      requests: requestsOf(e.report),
    }));

  /**
   * Replaces every worker, one at a time: a new one is forked and must have applied the current snapshot (its
   * listeners joined the primary's sockets) before the old one is told to drain. Rolls never overlap.
   */
  roll = (): Promise<WorkerSummary[]> => {
    const run = this.#rolling.then(async () => {
      const old = [...this.#entries.values()].filter((e) => e.state !== 'draining');
      this.#log.info({ workers: old.length }, 'worker roll started');
      for (const entry of old) {
        if (this.#closing) throw new SwitchyardError('the balancer is stopping');
        if (!this.#entries.has(entry.worker.id)) continue; // it died meanwhile and was replaced
        await this.#spawn();
        void this.#drain(entry, 30_000);
      }
      this.#log.info('worker roll done');
      return this.workers().filter((w) => w.state !== 'draining');
    });
    this.#rolling = run.catch(() => undefined);
    return run;
  };

  /** Every worker drains in parallel; resolves true when one had to cut connections (or was killed). */
  async close(deadlineMs: number): Promise<boolean> {
    this.#closing = true;
    clearInterval(this.#refreshTimer);
    this.#unrelayLogReopen();
    const entries = [...this.#entries.values()];
    const outcomes = await Promise.all(
      entries.map(async (entry) => {
        if (entry.state === 'starting') {
          entry.worker.process.kill('SIGKILL');
          await entry.exited;
          return false;
        }
        const drained = this.#drain(entry, deadlineMs);
        const timer = setTimeout(() => entry.worker.process.kill('SIGKILL'), deadlineMs + 5_000);
        const forced = await drained;
        // It exits right after its `drained` message: wait for that rather than kill it.
        await Promise.race([entry.exited, new Promise((resolve) => setTimeout(resolve, 2_000))]);
        clearTimeout(timer);
        return forced;
      }),
    );
    return outcomes.includes(true);
  }

  /** Kills every worker at once (a second stop signal). */
  kill(): void {
    this.#closing = true;
    clearInterval(this.#refreshTimer);
    for (const entry of this.#entries.values()) entry.worker.process.kill('SIGKILL');
  }

  /** The workers that answer messages (a starting one may not listen yet). */
  #live(): Entry[] {
    return [...this.#entries.values()].filter((e) => e.state !== 'starting');
  }

  /** Forks a worker and resolves once it applied the current snapshot; rejects when it dies or fails first. */
  #spawn(): Promise<Entry> {
    const worker = cluster.fork({
      ...(this.#options.logFormat === undefined ? {} : { [workerLogFormatEnv]: this.#options.logFormat }),
    });
    const waiting = new Map<number, (reply: WorkerMessage | undefined) => void>();
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const entry: Entry = {
      worker,
      startedAt: Date.now(),
      state: 'starting',
      version: 0,
      report: undefined,
      waiting,
      exited,
    };
    this.#entries.set(worker.id, entry);
    worker.on('error', (error) => this.#log.debug({ err: error, worker: worker.id }, 'worker channel error'));
    worker.once('exit', (code, signal) => this.#onExit(entry, code, signal));
    return new Promise<Entry>((resolve, reject) => {
      const timer = setTimeout(() => {
        worker.process.kill('SIGKILL');
        reject(new SwitchyardError(`worker ${worker.id} did not start within ${startTimeoutMs} ms`));
      }, startTimeoutMs);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        reject(error);
      };
      void exited.then(() => fail(new SwitchyardError(`worker ${worker.id} exited while starting`)));
      worker.on('message', (message: unknown) => {
        if (!isSwitchyardMessage<WorkerMessage>(message)) return;
        if (message.sy !== 'ready') {
          this.#onMessage(entry, message);
          return;
        }
        void this.#catchUp(entry).then(
          () => {
            clearTimeout(timer);
            entry.state = 'serving';
            this.#log.info({ worker: worker.id, pid: worker.process.pid }, 'worker serving');
            resolve(entry);
          },
          (error: Error) => {
            worker.process.kill('SIGKILL');
            fail(error);
          },
        );
      });
    });
  }

  /**
   * Hands every serving worker the ACME material and resolves once each serves it (a starting one gets it in
   * `#catchUp`, before its first snapshot, so its https listeners open with their certificates).
   */
  async acme(material: AcmeMaterial): Promise<void> {
    this.#acme = material;
    const serving = [...this.#entries.values()].filter((e) => e.state === 'serving');
    await Promise.all(serving.map((e) => this.#ask(e, (seq) => ({ sy: 'acme', seq, material }))));
  }

  /**
   * Gives a starting worker the ACME material, then applies the current snapshot until it has the latest of both
   * (a publish may come meanwhile).
   */
  async #catchUp(entry: Entry): Promise<void> {
    let material: AcmeMaterial | undefined;
    while (material !== this.#acme || (this.#current !== undefined && entry.version !== this.#current.version)) {
      if (material !== this.#acme) {
        const next = (material = this.#acme!);
        await this.#ask(entry, (seq) => ({ sy: 'acme', seq, material: next }));
      } else if (this.#current !== undefined) await this.#applyTo(entry, this.#current);
    }
  }

  async #applyTo(entry: Entry, snapshot: Snapshot): Promise<void> {
    const reply = await this.#ask(entry, (seq) => ({ sy: 'apply', seq, snapshot }));
    if (reply === undefined) return; // it died: it is replaced with the current snapshot
    if (reply.sy === 'apply-failed') {
      const error = new SwitchyardError(`worker ${entry.worker.id}: ${reply.message}`) as SwitchyardError & {
        code?: string;
      };
      if (reply.code !== undefined) error.code = reply.code;
      throw error;
    }
    if (reply.sy === 'applied') {
      entry.version = reply.version;
      this.#addresses = reply.addresses;
    }
  }

  /** Sends a request and resolves with the reply carrying its `seq`, or undefined when the worker exits or times out. */
  #ask(entry: Entry, message: (seq: number) => PrimaryMessage, timeoutMs?: number): Promise<WorkerMessage | undefined> {
    const seq = ++this.#seq;
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => settle(undefined), timeoutMs);
      const settle = (reply: WorkerMessage | undefined): void => {
        clearTimeout(timer);
        entry.waiting.delete(seq);
        resolve(reply);
      };
      entry.waiting.set(seq, settle);
      this.#send(entry, message(seq), () => settle(undefined));
    });
  }

  #send(entry: Entry, message: PrimaryMessage, onError?: () => void): void {
    if (!entry.worker.isConnected()) {
      onError?.();
      return;
    }
    entry.worker.send(message, undefined, (error: Error | null) => {
      if (error !== null) onError?.();
    });
  }

  #onMessage(entry: Entry, message: WorkerMessage): void {
    switch (message.sy) {
      case 'fact':
        this.#options.facts.upstreamFailure(message.service, message.endpoint, message.consecutiveErrors);
        return;
      case 'drained':
        entry.report = message.report;
        entry.waiting.get(-1)?.(message);
        return;
      case 'ready':
        return;
      default:
        entry.waiting.get(message.seq)?.(message);
    }
  }

  /** Tells a worker to drain and exit; resolves with whether its deadline cut connections. */
  #drain(entry: Entry, deadlineMs: number): Promise<boolean> {
    entry.state = 'draining';
    const drained = new Promise<boolean>((resolve) => {
      entry.waiting.set(-1, (reply) => resolve(reply?.sy === 'drained' ? reply.forced : true));
      void entry.exited.then(() => resolve(entry.worker.process.exitCode !== 0));
    });
    this.#log.info({ worker: entry.worker.id, pid: entry.worker.process.pid }, 'worker draining');
    this.#send(entry, { sy: 'drain', deadlineMs });
    return drained;
  }

  #onExit(entry: Entry, code: number | null, signal: string | null): void {
    this.#entries.delete(entry.worker.id);
    for (const settle of [...entry.waiting.values()]) settle(undefined);
    this.#retired = { ...this.#retired, ...retire(this.#retired, entry.report) };
    const expected = entry.state === 'draining' || this.#closing;
    const details = { worker: entry.worker.id, pid: entry.worker.process.pid, code, signal };
    if (expected) {
      this.#log.info(details, 'worker exited');
      return;
    }
    const lifetimeMs = Date.now() - entry.startedAt;
    this.#backoffMs = lifetimeMs < crashLoopMs ? Math.min(maxBackoffMs, Math.max(100, this.#backoffMs * 2)) : 0;
    this.#log.error({ ...details, restartInMs: this.#backoffMs }, 'worker died: replacing it');
    if (entry.state === 'starting') return; // its #spawn rejects: the caller decides
    const replace = (): void => {
      if (this.#closing) return;
      this.#spawn().catch((error: unknown) => {
        this.#log.error({ err: error, retryInMs: this.#backoffMs }, 'replacing a worker failed');
        if (!this.#closing) setTimeout(replace, Math.max(100, this.#backoffMs)).unref();
      });
    };
    if (this.#backoffMs === 0) replace();
    else setTimeout(replace, this.#backoffMs).unref();
  }
}
