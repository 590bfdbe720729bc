import type { AdminState, EndpointId } from '../../core/endpoint.js';

/** An endpoint registered through the admin API, as stored. Plain, JSON-serialisable. */
export interface Registration {
  readonly service: string;
  readonly id: EndpointId;
  readonly url: string;
  readonly weight: number;
  readonly state: AdminState;
  readonly metadata?: Readonly<Record<string, string>>;
  /** The lease length; undefined means registered until deregistered. */
  readonly ttlSeconds?: number;
  /** Epoch ms at which the lease ends unless a heartbeat renews it. */
  readonly leaseExpiresAt?: number;
  /** Epoch ms of the first registration. */
  readonly registeredAt: number;
  /** The last load the instance reported with a heartbeat (for load-aware algorithms), and when (epoch ms). */
  readonly load?: number;
  readonly loadReportedAt?: number;
}

/** An admin change (state, weight) to an endpoint that comes from the config file or DNS, not from a registration. */
export interface Override {
  readonly service: string;
  readonly id: EndpointId;
  readonly state?: AdminState;
  readonly weight?: number;
}

/** Everything a store holds. */
export interface RegistryData {
  readonly registrations: readonly Registration[];
  readonly overrides: readonly Override[];
}

/**
 * Where the registry keeps registrations so that they survive a restart. Writes are per key so that a shared store
 * (etcd, Redis) can be added later with its own keys and leases; the file store rewrites one file atomically.
 */
export interface RegistryStore {
  /** Everything stored; read once at start. A corrupt store rejects: it is never silently emptied. */
  load(): Promise<RegistryData>;
  putRegistration(registration: Registration): Promise<void>;
  removeRegistration(service: string, id: EndpointId): Promise<void>;
  putOverride(override: Override): Promise<void>;
  removeOverride(service: string, id: EndpointId): Promise<void>;
  /** Flushes pending writes and releases the store. */
  close(): Promise<void>;
}

export const registryKey = (service: string, id: EndpointId): string => `${service}\u0000${id}`;
