import {
  registryKey,
  type Override,
  type Registration,
  type RegistryData,
  type StoreChange,
} from './registry-store.js';

/** What a resync changed. */
export interface ResyncCounts {
  readonly added: number;
  readonly removed: number;
  readonly changed: number;
}

/**
 * The changes that turn what a node has into what a shared store listed (a resync after a lost watch): only the
 * difference, so unchanged endpoints are not touched. A lease-backed registration that is gone counts as expired
 * (its lease ran out while the node was away); one self-preservation holds is left alone.
 */
export function registryDifference(
  registrations: ReadonlyMap<string, Registration>,
  overrides: ReadonlyMap<string, Override>,
  data: RegistryData,
  isHeld: (service: string, key: string) => boolean,
): { readonly changes: StoreChange[]; readonly counts: ResyncCounts } {
  const counts = { added: 0, removed: 0, changed: 0 };
  const changes: StoreChange[] = [];
  const listed = new Map(data.registrations.map((r) => [registryKey(r.service, r.id), r] as const));
  for (const [key, registration] of registrations) {
    if (listed.has(key) || isHeld(registration.service, key)) continue;
    counts.removed++;
    const expired = registration.ttlSeconds !== undefined;
    changes.push({ kind: 'registration-removed', service: registration.service, id: registration.id, expired });
  }
  for (const [key, registration] of listed) {
    const existing = registrations.get(key);
    if (existing === undefined) counts.added++;
    else if (sameRegistration(existing, registration)) continue;
    else counts.changed++;
    changes.push({ kind: 'registration', registration });
  }
  const listedOverrides = new Map(data.overrides.map((o) => [registryKey(o.service, o.id), o] as const));
  for (const [key, override] of overrides) {
    if (!listedOverrides.has(key))
      changes.push({ kind: 'override-removed', service: override.service, id: override.id });
  }
  for (const [key, override] of listedOverrides) {
    const existing = overrides.get(key);
    if (existing?.state === override.state && existing?.weight === override.weight) continue;
    counts.changed++;
    changes.push({ kind: 'override', override });
  }
  return { changes, counts };
}

/** Same content as far as routing is concerned (the lease clock and the reported load time are local). */
export function sameRegistration(a: Registration, b: Registration): boolean {
  return (
    a.url === b.url &&
    a.weight === b.weight &&
    a.state === b.state &&
    a.ttlSeconds === b.ttlSeconds &&
    a.load === b.load &&
    JSON.stringify(a.metadata ?? {}) === JSON.stringify(b.metadata ?? {})
  );
}
