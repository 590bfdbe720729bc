/**
 * Integrates each endpoint's load (a step function of virtual time) into fixed-width steps: the chart's points and
 * the imbalance measurement both read these exact time averages, not samples.
 */
export class LoadRecorder {
  readonly stepMs: number;
  readonly durationMs: number;
  readonly #integrals: number[][];
  readonly #values: number[];
  readonly #sinceMs: number[];

  constructor(endpointCount: number, durationMs: number, stepMs: number) {
    this.stepMs = stepMs;
    this.durationMs = durationMs;
    const steps = Math.ceil(durationMs / stepMs);
    this.#integrals = Array.from({ length: endpointCount }, () => new Array<number>(steps).fill(0));
    this.#values = new Array<number>(endpointCount).fill(0);
    this.#sinceMs = new Array<number>(endpointCount).fill(0);
  }

  /** Endpoint `index` carries `value` from `nowMs` on. */
  set(index: number, value: number, nowMs: number): void {
    if (this.#values[index] === value) return;
    this.#accumulate(index, Math.min(nowMs, this.durationMs));
    this.#values[index] = value;
  }

  /** The average load of each endpoint in each step (the last step may be shorter). */
  finish(): number[][] {
    return this.#integrals.map((integral, index) => {
      this.#accumulate(index, this.durationMs);
      return integral.map(
        (area, step) => area / (Math.min(this.durationMs, (step + 1) * this.stepMs) - step * this.stepMs),
      );
    });
  }

  #accumulate(index: number, untilMs: number): void {
    const value = this.#values[index]!;
    const integral = this.#integrals[index]!;
    let from = this.#sinceMs[index]!;
    if (untilMs <= from) return;
    this.#sinceMs[index] = untilMs;
    if (value === 0) return;
    while (from < untilMs) {
      const step = Math.floor(from / this.stepMs);
      const end = Math.min(untilMs, (step + 1) * this.stepMs);
      integral[step]! += value * (end - from);
      from = end;
    }
  }
}
