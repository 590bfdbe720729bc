/** Seconds of history the budget looks at. */
const windowSeconds = 10;

/**
 * How many retries a service may make: at most `budgetPercent` of its requests over the last ten seconds, and
 * always at least `minRetries` (Finagle's RetryBudget; docs/guarantees.md §1's "20 % of active requests, minimum 3"). A
 * window rather than a count of retries in flight, so that the burst of resets when one instance dies is absorbed
 * by the traffic that came before it, while a service that fails every request gets at most 20 % more attempts.
 */
export class RetryBudget {
  readonly #requests = new Array<number>(windowSeconds).fill(0);
  readonly #retries = new Array<number>(windowSeconds).fill(0);
  readonly #now: () => number;
  #second = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Counts one request (every request deposits into the budget). */
  deposit(): void {
    this.#requests[this.#slot()]!++;
  }

  /** Takes one retry from the budget; false when the budget is spent. */
  withdraw(budgetPercent: number, minRetries: number): boolean {
    const slot = this.#slot();
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < windowSeconds; i++) {
      requests += this.#requests[i]!;
      retries += this.#retries[i]!;
    }
    if (retries >= Math.max(minRetries, (requests * budgetPercent) / 100)) return false;
    this.#retries[slot]!++;
    return true;
  }

  /** The ring slot of the current second, clearing the slots of the seconds that passed since the last call. */
  #slot(): number {
    const second = Math.floor(this.#now() / 1000);
    if (second !== this.#second) {
      const passed = Math.min(windowSeconds, second - this.#second);
      for (let i = 1; i <= passed; i++) {
        const slot = (this.#second + i) % windowSeconds;
        this.#requests[slot] = 0;
        this.#retries[slot] = 0;
      }
      this.#second = second;
    }
    return second % windowSeconds;
  }
}
