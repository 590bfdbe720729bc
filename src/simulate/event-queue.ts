/**
 * A priority queue of simulation events keyed by virtual time (ms). Events at the same instant come out in the order
 * they were pushed (a sequence number breaks ties), so a run never depends on the heap's internal layout.
 */
export class EventQueue<T> {
  readonly #times: number[] = [];
  readonly #sequences: number[] = [];
  readonly #items: T[] = [];
  #sequence = 0;

  get size(): number {
    return this.#items.length;
  }

  push(timeMs: number, item: T): void {
    this.#times.push(timeMs);
    this.#sequences.push(this.#sequence++);
    this.#items.push(item);
    this.#siftUp(this.#items.length - 1);
  }

  /** The time of the next event, or undefined when the queue is empty. */
  peekTime(): number | undefined {
    return this.#times[0];
  }

  /** Removes and returns the earliest event. */
  pop(): { readonly timeMs: number; readonly item: T } | undefined {
    if (this.#items.length === 0) return undefined;
    const timeMs = this.#times[0]!;
    const item = this.#items[0]!;
    const last = this.#items.length - 1;
    this.#move(last, 0);
    this.#times.pop();
    this.#sequences.pop();
    this.#items.pop();
    if (this.#items.length > 0) this.#siftDown(0);
    return { timeMs, item };
  }

  #before(a: number, b: number): boolean {
    const ta = this.#times[a]!;
    const tb = this.#times[b]!;
    return ta < tb || (ta === tb && this.#sequences[a]! < this.#sequences[b]!);
  }

  #move(from: number, to: number): void {
    this.#times[to] = this.#times[from]!;
    this.#sequences[to] = this.#sequences[from]!;
    this.#items[to] = this.#items[from]!;
  }

  #swap(a: number, b: number): void {
    [this.#times[a], this.#times[b]] = [this.#times[b]!, this.#times[a]!];
    [this.#sequences[a], this.#sequences[b]] = [this.#sequences[b]!, this.#sequences[a]!];
    [this.#items[a], this.#items[b]] = [this.#items[b]!, this.#items[a]!];
  }

  #siftUp(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (!this.#before(i, parent)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #siftDown(index: number): void {
    let i = index;
    const count = this.#items.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let first = i;
      if (left < count && this.#before(left, first)) first = left;
      if (right < count && this.#before(right, first)) first = right;
      if (first === i) return;
      this.#swap(i, first);
      i = first;
    }
  }
}
