import type { Endpoint } from '../../core/endpoint.js';
import type { Balancer, BalancerOptions, LoadGauge, PickContext } from './balancer.js';
import { murmur3 } from './murmur3.js';
import { WeightedRandom } from './random.js';

/**
 * Ring points per unit of weight (`ring` method), as nginx's `hash … consistent` (ketama): each endpoint's share of the
 * keys is then within about ± 8 % (one standard deviation) of its weight's share.
 */
export const RING_POINTS_PER_WEIGHT = 160;
/** The ring never holds more points than this; above it every endpoint's count is scaled down alike. */
export const MAX_RING_POINTS = 1 << 17;
/** The Maglev table size of the paper (a prime); services of more than 655 endpoints get the first prime ≥ 100 n. */
export const MAGLEV_TABLE_SIZE = 65_537;

const MAGLEV_OFFSET_SEED = 0x9e3779b9;
const MAGLEV_SKIP_SEED = 0x85ebca6b;

/** Construction-time choices beyond the config, for tests and the simulator. */
export interface ConsistentHashOptions extends BalancerOptions {
  /**
   * Maglev table size (default {@link MAGLEV_TABLE_SIZE}); a smaller one builds faster in tests. Raised to a prime and
   * to at least 100 × the number of endpoints, which the paper needs for even shares.
   */
  readonly maglevTableSize?: number;
}

/**
 * Consistent hashing on `ctx.hashKey` (a client IP, header, cookie … chosen by `balancing.hashKey`): the same key goes
 * to the same endpoint while membership holds, and a membership change moves few keys, about 1/n of them when one
 * endpoint joins n, and only the leaving endpoint's keys when one leaves (exactly for `ring`; Maglev moves a few more).
 * Keys are hashed with 32-bit MurmurHash3. Endpoints are ordered by id first, so the layout does not depend on the order
 * of the snapshot.
 *
 * - `ring` (ketama): `160 × weight` points per endpoint, hashed from `${id}#${i}`; a key goes to the first point at
 *   or after its hash, by binary search.
 * - `maglev` (Eisenbud et al., NSDI 2016): a lookup table of prime size filled from per-endpoint offset/skip
 *   permutations, taking turns in proportion to weight (Envoy's weighted fill); a key is one table read.
 *
 * Bounded load (Mirrokni, Thorup, Zadimoghaddam, 2018), when `boundedLoadFactor` > 0: an endpoint is full when its
 * `active` ≥ ⌈factor × (Σ active + 1) × weight ÷ Σ weight⌉ (⌈factor × (Σ active + 1) ÷ n⌉ for equal weights); a full
 * or excluded endpoint passes the key on to the next distinct endpoint on the ring, or the next table entry. When every
 * allowed endpoint is full (possible only with a factor below 1) the key's first allowed endpoint takes it anyway.
 *
 * Without a key (the request has no such header, cookie …) the pick is weighted random. A pick reads one slot in the
 * common case; a diverted key walks slots until an allowed endpoint with room, at most one lap.
 */
export class ConsistentHash implements Balancer {
  readonly #endpoints: readonly Endpoint[];
  readonly #load: LoadGauge;
  readonly #factor: number;
  readonly #totalWeight: number;
  readonly #fallback: WeightedRandom;
  /** The endpoint index of every ring point (sorted by hash) or Maglev table entry. */
  readonly #slots: Uint32Array;
  /** The ring points' hashes in ascending order; undefined for Maglev. */
  readonly #ring: Uint32Array | undefined;
  /** The pick number in which endpoint i was last tried, so a walk counts distinct endpoints without allocating. */
  readonly #triedIn: Uint32Array;
  #pickNumber = 0;

  constructor(endpoints: readonly Endpoint[], load: LoadGauge, options: ConsistentHashOptions) {
    this.#endpoints = endpoints.filter((e) => e.weight > 0).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.#load = load;
    this.#factor = options.balancing.consistentHash.boundedLoadFactor;
    this.#totalWeight = this.#endpoints.reduce((sum, e) => sum + e.weight, 0);
    this.#fallback = new WeightedRandom(this.#endpoints, load, options);
    this.#triedIn = new Uint32Array(this.#endpoints.length);
    if (options.balancing.consistentHash.method === 'maglev') {
      const size = nextPrime(Math.max(options.maglevTableSize ?? MAGLEV_TABLE_SIZE, 100 * this.#endpoints.length));
      this.#slots = maglevTable(this.#endpoints, this.#endpoints.length === 0 ? 0 : size);
      this.#ring = undefined;
    } else {
      const ring = hashRing(this.#endpoints);
      this.#slots = ring.owners;
      this.#ring = ring.hashes;
    }
  }

  pick(ctx: PickContext): Endpoint | undefined {
    if (ctx.hashKey === undefined) return this.#fallback.pick(ctx);
    const slots = this.#slots.length;
    if (slots === 0) return undefined;
    const start = this.#startSlot(murmur3(ctx.hashKey));
    const pickNumber = this.#nextPickNumber();
    let distinct = 0;
    let firstAllowed: Endpoint | undefined;
    let capacityPerWeight = -1;
    for (let step = 0; step < slots && distinct < this.#endpoints.length; step++) {
      const index = this.#slots[(start + step) % slots]!;
      if (this.#triedIn[index] === pickNumber) continue;
      this.#triedIn[index] = pickNumber;
      distinct++;
      const endpoint = this.#endpoints[index]!;
      if (ctx.exclude?.has(endpoint.id)) continue;
      firstAllowed ??= endpoint;
      if (this.#factor <= 0) return endpoint;
      const active = this.#load.active(endpoint.id);
      // An idle endpoint always has room, so the O(n) sum is only taken for a busy one.
      if (active === 0) return endpoint;
      if (capacityPerWeight < 0) capacityPerWeight = this.#capacityPerWeight();
      if (active < Math.ceil(capacityPerWeight * endpoint.weight)) return endpoint;
    }
    return firstAllowed;
  }

  #nextPickNumber(): number {
    this.#pickNumber = (this.#pickNumber + 1) >>> 0;
    if (this.#pickNumber === 0) {
      // After 2^32 picks the numbers wrap: forget old marks so none can match a new pick by chance.
      this.#triedIn.fill(0);
      this.#pickNumber = 1;
    }
    return this.#pickNumber;
  }

  #startSlot(keyHash: number): number {
    const ring = this.#ring;
    if (ring === undefined) return keyHash % this.#slots.length;
    let low = 0;
    let high = ring.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (ring[middle]! < keyHash) low = middle + 1;
      else high = middle;
    }
    return low === ring.length ? 0 : low;
  }

  /**
   * factor × (Σ active + 1) ÷ Σ weight: an endpoint's bound is this × its weight, rounded up. Σ active is the gauge's
   * service total when it keeps one (O(1)), else the sum over the endpoints.
   */
  #capacityPerWeight(): number {
    let total = this.#load.totalActive?.();
    if (total === undefined) {
      total = 0;
      for (const endpoint of this.#endpoints) total += this.#load.active(endpoint.id);
    }
    return (this.#factor * (total + 1)) / this.#totalWeight;
  }
}

/** The ring: `160 × weight` points per endpoint (scaled down alike above {@link MAX_RING_POINTS}), sorted by hash. */
function hashRing(endpoints: readonly Endpoint[]): { hashes: Uint32Array; owners: Uint32Array } {
  const totalWeight = endpoints.reduce((sum, e) => sum + e.weight, 0);
  const scale = Math.min(1, MAX_RING_POINTS / (RING_POINTS_PER_WEIGHT * totalWeight));
  const counts = endpoints.map((e) => Math.max(1, Math.round(RING_POINTS_PER_WEIGHT * e.weight * scale)));
  // hash × 2^20 + endpoint index stays below 2^52, exact in a double: one numeric sort orders by hash, then by id.
  const packed = new Float64Array(counts.reduce((sum, count) => sum + count, 0));
  let next = 0;
  endpoints.forEach((endpoint, index) => {
    for (let i = 0; i < counts[index]!; i++) packed[next++] = murmur3(`${endpoint.id}#${i}`) * 2 ** 20 + index;
  });
  packed.sort();
  const hashes = new Uint32Array(packed.length);
  const owners = new Uint32Array(packed.length);
  packed.forEach((point, i) => {
    hashes[i] = Math.floor(point / 2 ** 20);
    owners[i] = point % 2 ** 20;
  });
  return { hashes, owners };
}

/**
 * The Maglev lookup table (paper §3.4): endpoint i tries slots offset_i, offset_i + skip_i, … (mod size) and takes
 * the first free one on its turn. Turns come in proportion to weight: on round r, endpoint i takes a turn when
 * r × weight_i has reached its next threshold, which then grows by the largest weight (Envoy's weighted Maglev).
 */
function maglevTable(endpoints: readonly Endpoint[], size: number): Uint32Array {
  const count = endpoints.length;
  const table = new Int32Array(size).fill(-1);
  const position = endpoints.map((e) => murmur3(e.id, MAGLEV_OFFSET_SEED) % size);
  const skip = endpoints.map((e) => (murmur3(e.id, MAGLEV_SKIP_SEED) % (size - 1)) + 1);
  const threshold = new Float64Array(count);
  const maxWeight = endpoints.reduce((max, e) => Math.max(max, e.weight), 0);
  let filled = 0;
  for (let round = 0; filled < size; round++) {
    for (let i = 0; i < count && filled < size; i++) {
      if (round * endpoints[i]!.weight < threshold[i]!) continue;
      threshold[i]! += maxWeight;
      let slot = position[i]!;
      while (table[slot] !== -1) slot = (slot + skip[i]!) % size;
      table[slot] = i;
      position[i] = (slot + skip[i]!) % size;
      filled++;
    }
  }
  return Uint32Array.from(table);
}

/** The smallest prime ≥ n (n ≥ 2; trial division is fine at these sizes, once per build). */
function nextPrime(n: number): number {
  for (let candidate = Math.max(2, n); ; candidate++) {
    let prime = true;
    for (let d = 2; d * d <= candidate; d++) {
      if (candidate % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) return candidate;
  }
}
