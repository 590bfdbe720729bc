import type { SelfPreservationConfig } from '../../config/schema.js';
import { registryKey, type Registration } from './registry-store.js';

/** What one lease expiry means for a service. */
export type ExpiryVerdict =
  | { readonly keep: false }
  /** Keep `registration` and bring back `restored` (expired earlier in the window); `activated` on the first one. */
  | {
      readonly keep: true;
      readonly restored: readonly Registration[];
      readonly activated: boolean;
      readonly until: number;
    };

/**
 * Self-preservation (Netflix Eureka's answer to a store that revokes every lease at once — etcd-io/etcd #15247): when
 * more than `maxLossPercent` of a service's lease-backed endpoints vanish by lease expiry within `windowMs`, the node
 * keeps all of them (the ones expired earlier in the window come back) for `holdMs`, still health-checked, instead
 * of emptying the service. A held endpoint that registers again is an ordinary registration once more; at the end
 * of the hold the ones still held go.
 */
export class SelfPreservation {
  readonly #config: SelfPreservationConfig;
  readonly #now: () => number;
  /** Recent expiries by service, oldest first. */
  readonly #recent = new Map<string, { at: number; registration: Registration }[]>();
  readonly #activeUntil = new Map<string, number>();
  /** Registry keys of the registrations held now, by service. */
  readonly #held = new Map<string, Set<string>>();

  constructor(config: SelfPreservationConfig, now: () => number) {
    this.#config = config;
    this.#now = now;
  }

  /** A lease of `service` expired; `leaseBacked` counts its lease-backed registrations before this one went. */
  expired(registration: Registration, leaseBacked: number): ExpiryVerdict {
    const now = this.#now();
    const service = registration.service;
    const until = this.#activeUntil.get(service);
    if (until !== undefined && until > now) {
      this.#hold(registration);
      return { keep: true, restored: [], activated: false, until };
    }
    const recent = (this.#recent.get(service) ?? []).filter((e) => e.at > now - this.#config.windowMs);
    recent.push({ at: now, registration });
    this.#recent.set(service, recent);
    // Those that expired earlier in the window are no longer counted in leaseBacked.
    const population = leaseBacked + recent.length - 1;
    if (population === 0 || (recent.length * 100) / population <= this.#config.maxLossPercent) return { keep: false };
    const holdUntil = now + this.#config.holdMs;
    this.#activeUntil.set(service, holdUntil);
    this.#recent.delete(service);
    const restored = recent.slice(0, -1).map((e) => e.registration);
    for (const r of [...restored, registration]) this.#hold(r);
    return { keep: true, restored, activated: true, until: holdUntil };
  }

  /** True while `service` keeps its expired endpoints. */
  isActive(service: string): boolean {
    return (this.#activeUntil.get(service) ?? 0) > this.#now();
  }

  /** The services keeping expired endpoints now. */
  activeServices(): string[] {
    return [...this.#activeUntil.keys()].filter((service) => this.isActive(service));
  }

  isHeld(service: string, key: string): boolean {
    return this.#held.get(service)?.has(key) ?? false;
  }

  /** The registration is live again (registered anew, or deregistered): it is no longer held. */
  release(service: string, key: string): void {
    this.#held.get(service)?.delete(key);
  }

  /** Ends holds whose time is up; returns the registry keys of the registrations to drop now. */
  due(): string[] {
    const now = this.#now();
    const drop: string[] = [];
    for (const [service, until] of this.#activeUntil) {
      if (until > now) continue;
      this.#activeUntil.delete(service);
      drop.push(...(this.#held.get(service) ?? []));
      this.#held.delete(service);
    }
    return drop;
  }

  #hold(registration: Registration): void {
    const held = this.#held.get(registration.service) ?? new Set<string>();
    held.add(registryKey(registration.service, registration.id));
    this.#held.set(registration.service, held);
  }
}
