import { Lease } from './lease.js';

/** A request waiting at an `EndpointGate`. */
export interface GateWaiter {
  /** A slot is free and taken for the request: it goes now, and gives the slot back by releasing `slot`. */
  proceed(slot: Lease): void;
  /** It waited its whole `timeoutMs`: the request is answered 503 and leaves the queue. */
  expire(): void;
}

/** A place in the queue, to leave it early (the client went away). */
export interface GateTicket {
  waiter: GateWaiter | undefined;
  readonly deadline: number;
}

/**
 * The requests in flight to one endpoint's connection pool, and the bounded queue in front of it (docs/guarantees.md:
 * `maxConnectionsPerEndpoint` / `maxPendingPerEndpoint`, then 503 + Retry-After). undici's pool would queue without a
 * bound and without a timeout, so Switchyard never hands it more requests than it has room for: one beyond that
 * waits here, first come first served, until a slot is given back or `queueMs` passes.
 *
 * The gate counts slots, not sockets: `capacity` is what the pool can carry at once. An HTTP/1.1 pool carries one
 * request per connection (capacity = `maxConnectionsPerEndpoint`); a pool that multiplexes (HTTP/2) says so with
 * `resize(connections × streams per connection)` whenever a session's `SETTINGS_MAX_CONCURRENT_STREAMS` changes.
 * A slot is a `Lease`: taken by `take()` or handed to a waiter, given back exactly once.
 *
 * One gate per pool (pools are shared by endpoints with the same URL and settings, and kept across snapshots), so the
 * count stays right while snapshots come and go. A single timer serves the whole queue: it fires for the oldest entry.
 */
export class EndpointGate {
  #active = 0;
  /** Requests waiting (cancelled places excluded). */
  waiting = 0;
  #capacity: number;
  #queue: GateTicket[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Slots taken now (requests handed to the pool and not yet finished). */
  get active(): number {
    return this.#active;
  }

  /** How many requests the pool can carry at once. */
  get capacity(): number {
    return this.#capacity;
  }

  /** True when a request may go to the pool now. */
  get free(): boolean {
    return this.#active < this.#capacity;
  }

  /** Takes a slot if one is free; undefined when the pool is at capacity. */
  take(): Lease | undefined {
    if (this.#active >= this.#capacity) return undefined;
    this.#active++;
    return new Lease(this.#release);
  }

  /** The pool can now carry `capacity` at once (HTTP/2: streams per session changed); waiters take new room at once. */
  resize(capacity: number): void {
    this.#capacity = capacity;
    this.#wake();
  }

  /**
   * Queues `waiter` for at most `timeoutMs`; undefined (the queue is full: 503 at once) when `maxPending` wait already.
   */
  enqueue(waiter: GateWaiter, maxPending: number, timeoutMs: number): GateTicket | undefined {
    if (this.waiting >= maxPending) return undefined;
    const ticket: GateTicket = { waiter, deadline: Date.now() + timeoutMs };
    this.#queue.push(ticket);
    this.waiting++;
    if (this.#timer === undefined) this.#arm(timeoutMs);
    return ticket;
  }

  /** Leaves the queue (the request ended while waiting); its place is skipped when reached. */
  cancel(ticket: GateTicket): void {
    if (ticket.waiter === undefined) return;
    ticket.waiter = undefined;
    this.waiting--;
  }

  /** A slot came back: the oldest waiting requests take the room there is. */
  readonly #release = (): void => {
    this.#active--;
    this.#wake();
  };

  #wake(): void {
    while (this.waiting > 0 && this.#active < this.#capacity) {
      const waiter = this.#next();
      if (waiter === undefined) break;
      this.#active++;
      waiter.proceed(new Lease(this.#release));
    }
  }

  /** The oldest live waiter, taken off the queue. */
  #next(): GateWaiter | undefined {
    while (this.#head < this.#queue.length) {
      const ticket = this.#queue[this.#head++]!;
      const waiter = ticket.waiter;
      if (waiter === undefined) continue;
      ticket.waiter = undefined;
      this.waiting--;
      this.#compact();
      return waiter;
    }
    this.#compact();
    return undefined;
  }

  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(this.#expire, Math.max(1, delayMs));
    this.#timer.unref();
  }

  /**
   * Answers every request at the head of the queue whose time is up, then waits for the next oldest. (Deadlines are in
   * queue order unless a reload changed `queueMs`; a later entry with an earlier deadline then waits for the head.)
   */
  readonly #expire = (): void => {
    this.#timer = undefined;
    const now = Date.now();
    while (this.#head < this.#queue.length) {
      const ticket = this.#queue[this.#head]!;
      if (ticket.waiter !== undefined && ticket.deadline > now) break;
      this.#head++;
      const waiter = ticket.waiter;
      if (waiter === undefined) continue;
      ticket.waiter = undefined;
      this.waiting--;
      waiter.expire();
    }
    this.#compact();
    const oldest = this.#queue[this.#head];
    if (oldest !== undefined) this.#arm(oldest.deadline - now);
  };
}
