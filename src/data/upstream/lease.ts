/**
 * One held unit of something counted: an endpoint's in-flight count, a slot of its connection gate. Only the owner of
 * the count makes leases (it hands each one the only reference to its private release), and a lease gives that
 * release up the first time it is called: a second `release()` finds nothing to call, so a count can never be
 * released twice, and no code outside the owner can lower it. The protocol code that holds a lease releases it on
 * every path that ends its try (Pingora releases its connection lease on drop; JavaScript has no drop, so the attempt
 * ties the release to the close of what it serves).
 */
export class Lease {
  #release: (() => void) | undefined;

  /** @param release the owner's private "one unit fewer"; called at most once. */
  constructor(release: () => void) {
    this.#release = release;
  }

  /** True until the lease is released. */
  get held(): boolean {
    return this.#release !== undefined;
  }

  /** Gives the unit back. Returns true the first time, false on every later call (which changes nothing). */
  release(): boolean {
    const release = this.#release;
    if (release === undefined) return false;
    this.#release = undefined;
    release();
    return true;
  }
}
