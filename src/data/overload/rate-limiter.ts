import type { RouteRateLimitSnapshot } from '../../core/snapshot.js';

/** One client key's bucket: `tokens` as of `at` (epoch ms). */
interface Bucket {
  tokens: number;
  at: number;
}

/** What a request spent: allowed or not, and the fields for the response (RateLimit-*, and Retry-After when refused). */
export interface RateDecision {
  readonly allowed: boolean;
  readonly headers: string[];
}

/** Longest header value used as a key; longer ones are cut (two such clients then share a budget, never escape it). */
const maxKeyLength = 256;

/**
 * A route's rate limit: a token bucket per client key (the client address, or a header's value), refilled at
 * `requestsPerSecond` up to `burst`. The key table is bounded by `maxKeys`: it is kept in least-recently-used order
 * (a Map re-inserted on each use), the oldest goes when it is full, and each new key also drops up to two idle keys
 * from the old end whose buckets have refilled (forgetting a full bucket changes nothing).
 *
 * The fields follow draft-ietf-httpapi-ratelimit-headers-06: `RateLimit-Limit` (the burst), `RateLimit-Remaining`
 * (whole tokens left), `RateLimit-Reset` (seconds until the bucket is full again), `RateLimit-Policy`
 * (`<burst>;w=<seconds to refill it>`), plus `Retry-After` (seconds until the next token) on a 429.
 */
export class RateLimiter {
  /** What it was built from: a reload with the same settings keeps the buckets. */
  readonly signature: string;
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  /** Lower-case header name for `header:<name>` keys; undefined keys on the client address. */
  readonly #header: string | undefined;
  readonly #limit: string;
  readonly #policy: string;
  readonly #buckets = new Map<string, Bucket>();

  constructor(config: RouteRateLimitSnapshot) {
    this.signature = JSON.stringify(config);
    this.#perMs = config.requestsPerSecond / 1000;
    this.#burst = config.burst;
    this.#maxKeys = config.maxKeys;
    this.#header = config.key.startsWith('header:') ? config.key.slice('header:'.length).toLowerCase() : undefined;
    this.#limit = String(config.burst);
    this.#policy = `${config.burst};w=${Math.max(1, Math.ceil(config.burst / config.requestsPerSecond))}`;
  }

  /** Keys remembered now (for tests and the admin API). */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * The request's key: the header's value (a request without that header is keyed by its client address, so it
   * cannot share an anonymous budget with everyone else), or the client address.
   */
  keyOf(rawHeaders: readonly string[], clientIp: string): string {
    const header = this.#header;
    if (header !== undefined) {
      for (let i = 0; i < rawHeaders.length; i += 2) {
        const name = rawHeaders[i]!;
        if (name.length !== header.length || name.toLowerCase() !== header) continue;
        const value = rawHeaders[i + 1]!;
        return `h:${value.length > maxKeyLength ? value.slice(0, maxKeyLength) : value}`;
      }
    }
    return `ip:${clientIp}`;
  }

  /** Spends one token of `key` if there is one. */
  take(key: string, now: number): RateDecision {
    const buckets = this.#buckets;
    let bucket = buckets.get(key);
    if (bucket === undefined) {
      this.#makeRoom(now);
      bucket = { tokens: this.#burst, at: now };
    } else {
      buckets.delete(key); // re-inserted below: the Map's order is the order of last use
      bucket.tokens = Math.min(this.#burst, bucket.tokens + Math.max(0, now - bucket.at) * this.#perMs);
      bucket.at = now;
    }
    buckets.set(key, bucket);
    // Refills add up in floating point (ten 0.1s make 0.9999…): a hair below one token counts as one.
    const allowed = bucket.tokens >= 1 - 1e-9;
    if (allowed) bucket.tokens = Math.max(0, bucket.tokens - 1);
    const headers = [
      'ratelimit-limit',
      this.#limit,
      'ratelimit-remaining',
      String(Math.floor(bucket.tokens)),
      'ratelimit-reset',
      String(Math.ceil((this.#burst - bucket.tokens) / this.#perMs / 1000)),
      'ratelimit-policy',
      this.#policy,
    ];
    if (!allowed) headers.push('retry-after', String(Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000))));
    return { allowed, headers };
  }

  /** Before a new key: drops up to two idle (refilled) keys from the least recently used end, and one more if full. */
  #makeRoom(now: number): void {
    const buckets = this.#buckets;
    for (let i = 0; i < 2 && buckets.size > 0; i++) {
      const [key, oldest] = buckets.entries().next().value!;
      if (oldest.tokens + (now - oldest.at) * this.#perMs < this.#burst) break;
      buckets.delete(key);
    }
    if (buckets.size >= this.#maxKeys) buckets.delete(buckets.keys().next().value!);
  }
}
