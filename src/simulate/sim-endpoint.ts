import { EventQueue } from './event-queue.js';
import type { EndpointSpec, SimRequest } from './workload.js';

/** One request on one endpoint, from arrival until its connection closes. */
export interface Job {
  readonly request: SimRequest;
  readonly endpoint: SimEndpoint;
  readonly startMs: number;
  /** Cleared when the connection closes or the endpoint dies with it. */
  open: boolean;
}

/** Work below this (a nanosecond of a core) is done: it keeps float rounding from scheduling a zero-length step. */
const epsilonMs = 1e-6;

/**
 * A simulated instance: processor sharing over `cores`. Every working request progresses at
 * `speed × min(1, cores / working)`, so all of them slow down together when the endpoint is crowded.
 *
 * Instead of updating every request on each change it keeps one "attained service" clock (the work each request
 * received since the endpoint started) and each request's finishing threshold on that clock, in a heap: O(log n).
 */
export class SimEndpoint {
  readonly id: string;
  /** Position in the workload's endpoint list (and in every per-endpoint array of the results). */
  readonly index: number;
  readonly spec: EndpointSpec;
  up = true;
  memoryMb = 0;
  /** The slowdown in force (1: the spec's speed); change it with `slowDown`. */
  #factor = 1;
  /** Bumped on every change of the working set: a scheduled "work done" event of an older version is stale. */
  version = 0;
  readonly #open = new Set<Job>();
  #working = new EventQueue<Job>();
  #servedMs = 0;
  #lastMs = 0;

  constructor(index: number, spec: EndpointSpec) {
    this.id = `e${index + 1}`;
    this.index = index;
    this.spec = spec;
  }

  /** Open connections: working requests and sessions whose work is done but which stay connected. */
  get open(): number {
    return this.#open.size;
  }

  /** Requests still working (the processor-sharing population). */
  get working(): number {
    return this.#working.size;
  }

  /** Accepts a request at `nowMs`. */
  start(job: Job, nowMs: number): void {
    this.#advance(nowMs);
    this.#working.push(this.#servedMs + job.request.costMs, job);
    this.#open.add(job);
    this.memoryMb += job.request.memoryMb;
    this.version++;
  }

  /** When the earliest working request finishes if nothing changes, or undefined when none works. */
  nextDoneMs(): number | undefined {
    const threshold = this.#working.peekTime();
    if (threshold === undefined) return undefined;
    return this.#lastMs + Math.max(0, threshold - this.#servedMs) / this.#rate();
  }

  /** Removes and returns the requests whose work is done at `nowMs`. */
  takeDone(nowMs: number): Job[] {
    this.#advance(nowMs);
    const done: Job[] = [];
    for (let threshold = this.#working.peekTime(); threshold !== undefined; threshold = this.#working.peekTime()) {
      if (threshold > this.#servedMs + epsilonMs) break;
      done.push(this.#working.pop()!.item);
    }
    if (done.length > 0) this.version++;
    return done;
  }

  /** Closes a connection: its memory is released. */
  close(job: Job): void {
    if (!this.#open.delete(job)) return;
    job.open = false;
    this.memoryMb -= job.request.memoryMb;
  }

  /** From `nowMs` on the cores work `factor` times slower than the spec says (1 restores the spec's speed). */
  slowDown(factor: number, nowMs: number): void {
    this.#advance(nowMs);
    this.#factor = factor;
    this.version++;
  }

  /** The instance dies: every open connection is lost and returned. */
  fail(nowMs: number): Job[] {
    const lost = [...this.#open];
    for (const job of lost) job.open = false;
    this.#open.clear();
    this.#working = new EventQueue<Job>();
    this.memoryMb = 0;
    this.up = false;
    this.#lastMs = nowMs;
    this.version++;
    return lost;
  }

  /** Work each working request receives per virtual ms. */
  #rate(): number {
    const working = this.#working.size;
    const speed = this.spec.speed / this.#factor;
    return working <= this.spec.cores ? speed : (speed * this.spec.cores) / working;
  }

  #advance(nowMs: number): void {
    if (this.#working.size > 0) this.#servedMs += (nowMs - this.#lastMs) * this.#rate();
    this.#lastMs = nowMs;
  }
}
