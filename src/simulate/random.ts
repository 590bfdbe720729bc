/** A source of uniform numbers in [0, 1), like `Math.random` but seeded. */
export type Random = () => number;

/**
 * mulberry32: a 32-bit state generator, fast and good enough for simulation (not for secrets). The same seed gives
 * the same sequence on every platform, because it uses only 32-bit integer arithmetic.
 */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * An independent stream for one purpose (`workload`, `balancer` …) derived from the user's seed: the workload is the
 * same for every algorithm however many random numbers an algorithm draws.
 */
export function seededRandom(seed: number, stream: string): Random {
  // FNV-1a over "seed:stream" spreads nearby seeds and names over the whole 32-bit state space.
  let hash = 0x811c9dc5;
  for (const char of `${seed}:${stream}`) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return mulberry32(hash);
}

/** A distribution of a non-negative quantity (ms of work, MB of memory, ms of session length). */
export type Distribution =
  | { readonly kind: 'fixed'; readonly value: number }
  | { readonly kind: 'uniform'; readonly min: number; readonly max: number }
  | { readonly kind: 'exponential'; readonly mean: number }
  /** Pareto truncated to [min, max]: most values near `min`, a few huge; smaller `alpha` is a heavier tail. */
  | { readonly kind: 'pareto'; readonly min: number; readonly max: number; readonly alpha: number };

/** Draws one value of `distribution` (inverse transform: exactly one random number per draw). */
export function sample(distribution: Distribution, random: Random): number {
  const u = random();
  switch (distribution.kind) {
    case 'fixed':
      return distribution.value;
    case 'uniform':
      return distribution.min + u * (distribution.max - distribution.min);
    case 'exponential':
      return -distribution.mean * Math.log(1 - u);
    case 'pareto': {
      const { min, max, alpha } = distribution;
      const tail = 1 - Math.pow(min / max, alpha);
      return min / Math.pow(1 - u * tail, 1 / alpha);
    }
  }
}

/** The mean of a distribution, for sizing arrival rates to a target utilisation. */
export function meanOf(distribution: Distribution): number {
  switch (distribution.kind) {
    case 'fixed':
      return distribution.value;
    case 'uniform':
      return (distribution.min + distribution.max) / 2;
    case 'exponential':
      return distribution.mean;
    case 'pareto': {
      const { min, max, alpha } = distribution;
      const ratio = Math.pow(min / max, alpha);
      if (alpha === 1) return (min * Math.log(max / min)) / (1 - ratio);
      return ((alpha * min) / (alpha - 1)) * ((1 - Math.pow(min / max, alpha - 1)) / (1 - ratio));
    }
  }
}

/**
 * Zipf's law over `count` items: item k (0-based) is drawn with probability ∝ 1 / (k + 1)^exponent. Exponent 0 is
 * uniform; around 1 a few items dominate, as a few clients do in real traffic.
 */
export function zipfSampler(count: number, exponent: number): (random: Random) => number {
  const cumulative: number[] = [];
  let total = 0;
  for (let k = 0; k < count; k++) {
    total += 1 / Math.pow(k + 1, exponent);
    cumulative.push(total);
  }
  return (random) => {
    const target = random() * total;
    let low = 0;
    let high = count - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (cumulative[mid]! > target) high = mid;
      else low = mid + 1;
    }
    return low;
  };
}
