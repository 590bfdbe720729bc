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

/** Why a node re-read its shared store: its watch resumed after a disconnection, or was lost and had to re-list. */
export type ResyncReason = 'reconnected' | 'compacted' | 'watch_error';

/** One change a shared store reports (this node's own writes included), in the store's order. */
export type StoreChange =
  | { readonly kind: 'registration'; readonly registration: Registration }
  | {
      readonly kind: 'registration-removed';
      readonly service: string;
      readonly id: EndpointId;
      /** The store expired its lease (as opposed to a deregistration). */
      readonly expired: boolean;
    }
  | { readonly kind: 'override'; readonly override: Override }
  | { readonly kind: 'override-removed'; readonly service: string; readonly id: EndpointId }
  /** A fleet node's announcement (`value` undefined: it is gone). */
  | { readonly kind: 'node'; readonly name: string; readonly value: unknown }
  /** The shared routes and services (`switchyard push`), with the revision that wrote them. */
  | { readonly kind: 'config'; readonly value: unknown; readonly revision: number };

/** Everything a shared store holds at one revision. */
export interface StoreContent extends RegistryData {
  readonly revision: number;
  readonly nodes: ReadonlyMap<string, unknown>;
  readonly config: { readonly value: unknown; readonly revision: number } | undefined;
}

/** Who hears a shared store's changes. */
export interface StoreListener {
  /** Changes of one watch response, in order; `revision` is the store revision they bring this node to. */
  changes(changes: readonly StoreChange[], revision: number): void;
  /** The watch was lost (compaction, error) and the store re-listed: apply the difference to what the node has. */
  resync(content: StoreContent, reason: ResyncReason): void;
  /** The store became reachable (true) or not (false). */
  availability(up: boolean): void;
}

/**
 * A store several nodes share (etcd): listed once, then watched from the revision of that list. Leases belong to
 * the store (it expires registrations itself), so a heartbeat on any node renews them.
 */
export interface SharedRegistryStore extends RegistryStore {
  readonly shared: true;
  /** The whole content and its revision (`load()` returns its registry part). */
  loadAll(): Promise<StoreContent>;
  /** Starts the one watch of the prefix, from the revision after the last `loadAll()`. */
  watch(listener: StoreListener): void;
  /** Renews a registration's lease; false when the store has no live lease for it. */
  renew(service: string, id: EndpointId): Promise<boolean>;
  /** Reachable now, the revision applied, resyncs so far by reason. */
  status(): {
    readonly up: boolean;
    readonly revision: number;
    readonly resyncs: Readonly<Record<ResyncReason, number>>;
  };
}

export const isSharedStore = (store: RegistryStore): store is SharedRegistryStore =>
  (store as Partial<SharedRegistryStore>).shared === true;

/** A write the shared store could not take (it is unreachable or timed out): the API answers 503 + Retry-After. */
export class RegistryUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`the registry store cannot be reached: ${(cause as Error).message ?? String(cause)}`, { cause });
    this.name = 'RegistryUnavailableError';
  }
}

export const registryKey = (service: string, id: EndpointId): string => `${service}\u0000${id}`;
