import type { SelfPreservationConfig, ServiceConfig, SwitchyardConfig } from '../../config/schema.js';
import { endpointOrigin, endpointIdOf, type AdminState, type EndpointId } from '../../core/endpoint.js';
import type { DiscoveredEndpoint } from './dns-discovery.js';
import {
  isSharedStore,
  registryKey,
  type Override,
  type Registration,
  type RegistryData,
  type RegistryStore,
  type StoreChange,
} from './registry-store.js';
import { registryDifference, sameRegistration, type ResyncCounts } from './registry-difference.js';
import { SelfPreservation } from './self-preservation.js';

/** What the registry tells the control plane beyond "something changed". */
export interface RegistryNotices {
  /** Self-preservation started keeping a service's expired endpoints (until epoch ms). */
  preserving?(service: string, kept: number, until: number): void;
  /** A shared store expired a registration's lease and this node removed it. */
  expired?(service: string, id: EndpointId): void;
}

/** Where the registry learnt of an endpoint. */
export type EndpointSource = 'config' | 'dns' | 'api';

/** The control plane's view of one endpoint: its membership facts, before health is applied. */
export interface EndpointRecord {
  readonly service: string;
  readonly id: EndpointId;
  readonly url: string;
  /** The weight in force: the registration's or config's, or an admin override. */
  readonly weight: number;
  readonly state: AdminState;
  readonly source: EndpointSource;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly ttlSeconds?: number;
  readonly leaseExpiresAt?: number;
  readonly registeredAt?: number;
  readonly load?: number;
  readonly loadReportedAt?: number;
}

/** What an instance sends to register (SPEC.md `POST /api/services/{service}/endpoints`). */
export interface RegisterInput {
  readonly id?: EndpointId;
  readonly url: string;
  readonly weight?: number;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly ttlSeconds?: number;
}

export type RegisterResult =
  | { readonly ok: true; readonly registration: Registration; readonly created: boolean }
  | { readonly ok: false; readonly reason: 'unknown_service' | 'conflict'; readonly message: string };

export type MutationResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: 'not_found' | 'static' };

/**
 * The source of truth for membership: static endpoints from the config, endpoints found in DNS and endpoints
 * registered through the API (persisted in a `RegistryStore`), plus admin overrides of state and weight. The config
 * file never erases registrations; registrations are accepted only for services the config declares.
 */
export class Registry {
  readonly #store: RegistryStore;
  readonly #now: () => number;
  readonly #onChange: () => void;
  #services = new Map<string, ServiceConfig>();
  readonly #discovered = new Map<string, readonly DiscoveredEndpoint[]>();
  readonly #registrations = new Map<string, Registration>();
  readonly #overrides = new Map<string, Override>();
  /** With a shared store, leases are the store's and admin state and weight are override keys for every endpoint. */
  readonly #shared: boolean;
  readonly #preservation: SelfPreservation;
  readonly #notices: RegistryNotices;

  constructor(
    store: RegistryStore,
    options: {
      readonly now?: () => number;
      readonly onChange: () => void;
      readonly selfPreservation?: SelfPreservationConfig;
      readonly notices?: RegistryNotices;
    },
  ) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange;
    this.#shared = isSharedStore(store);
    this.#notices = options.notices ?? {};
    this.#preservation = new SelfPreservation(
      options.selfPreservation ?? { maxLossPercent: 50, windowMs: 10_000, holdMs: 60_000 },
      this.#now,
    );
  }

  /** The services keeping expired endpoints now (self-preservation), for metrics. */
  preservingServices(): string[] {
    return this.#preservation.activeServices();
  }

  /**
   * Reads the store. Leases restart from now: the instances could not renew them while the balancer was down, so
   * each gets one more lease length to send its next heartbeat.
   */
  async load(): Promise<void> {
    const data = await this.#store.load();
    for (const registration of data.registrations) {
      this.#registrations.set(registryKey(registration.service, registration.id), this.#leased(registration));
    }
    for (const override of data.overrides) this.#overrides.set(registryKey(override.service, override.id), override);
  }

  /** A registration with its lease counted from now (the store's own expiry is what ends it). */
  #leased(registration: Registration): Registration {
    return registration.ttlSeconds === undefined
      ? registration
      : { ...registration, leaseExpiresAt: this.#now() + registration.ttlSeconds * 1000 };
  }

  /**
   * Applies changes a shared store reported (this node's own writes come back too, and change nothing then). A lease
   * expiry goes through self-preservation. Returns whether anything changed.
   */
  applyChanges(changes: readonly StoreChange[]): boolean {
    let changed = false;
    for (const change of changes) changed = this.#applyChange(change) || changed;
    if (changed) this.#onChange();
    return changed;
  }

  /**
   * A resync: the store's whole content replaces what this node has, applied as a difference (unchanged endpoints are
   * untouched, so their pools stay warm). A lease-backed registration that vanished counts as expired.
   */
  resync(data: RegistryData): ResyncCounts {
    const { changes, counts } = registryDifference(this.#registrations, this.#overrides, data, (service, key) =>
      this.#preservation.isHeld(service, key),
    );
    this.applyChanges(changes);
    return counts;
  }

  #applyChange(change: StoreChange): boolean {
    switch (change.kind) {
      case 'registration': {
        const key = registryKey(change.registration.service, change.registration.id);
        this.#preservation.release(change.registration.service, key);
        const existing = this.#registrations.get(key);
        if (existing !== undefined && sameRegistration(existing, change.registration)) return false;
        this.#registrations.set(key, this.#leased(change.registration));
        return true;
      }
      case 'registration-removed':
        return this.#applyRemoval(change.service, change.id, change.expired);
      case 'override': {
        const key = registryKey(change.override.service, change.override.id);
        const existing = this.#overrides.get(key);
        if (existing?.state === change.override.state && existing?.weight === change.override.weight) return false;
        this.#overrides.set(key, change.override);
        return true;
      }
      case 'override-removed':
        return this.#overrides.delete(registryKey(change.service, change.id));
      default:
        return false;
    }
  }

  #applyRemoval(service: string, id: EndpointId, expired: boolean): boolean {
    const key = registryKey(service, id);
    const registration = this.#registrations.get(key);
    if (registration === undefined) return false;
    if (expired && registration.ttlSeconds !== undefined) {
      const leaseBacked = [...this.#registrations.values()].filter(
        (r) => r.service === service && r.ttlSeconds !== undefined,
      ).length;
      const verdict = this.#preservation.expired(registration, leaseBacked);
      if (verdict.keep) {
        for (const restored of verdict.restored) this.#registrations.set(registryKey(service, restored.id), restored);
        if (verdict.activated)
          this.#notices.preserving?.(service, leaseBacked + verdict.restored.length, verdict.until);
        return verdict.restored.length > 0;
      }
    }
    this.#preservation.release(service, key);
    this.#registrations.delete(key);
    if (expired) this.#notices.expired?.(service, id);
    return true;
  }

  /** Takes the services and static endpoints of a (validated) configuration. */
  setConfig(config: SwitchyardConfig): void {
    this.#services = new Map(Object.entries(config.services));
    for (const service of this.#discovered.keys()) {
      if (this.#services.get(service)?.dns === undefined) this.#discovered.delete(service);
    }
  }

  /** Replaces the endpoints DNS discovery found for a service. */
  setDiscovered(service: string, endpoints: readonly DiscoveredEndpoint[]): void {
    this.#discovered.set(service, endpoints);
    this.#onChange();
  }

  hasService(service: string): boolean {
    return this.#services.has(service);
  }

  /** The declared services, in config order. */
  services(): string[] {
    return [...this.#services.keys()];
  }

  /** Every endpoint of a service: config first, then DNS, then registrations; admin overrides applied. */
  endpoints(service: string): EndpointRecord[] {
    const config = this.#services.get(service);
    if (config === undefined) return [];
    const records: EndpointRecord[] = [];
    const seen = new Set<EndpointId>();
    const add = (record: EndpointRecord): void => {
      if (seen.has(record.id)) return;
      seen.add(record.id);
      const override =
        record.source === 'api' && !this.#shared ? undefined : this.#overrides.get(registryKey(service, record.id));
      records.push(
        override === undefined
          ? record
          : { ...record, state: override.state ?? record.state, weight: override.weight ?? record.weight },
      );
    };
    for (const endpoint of config.endpoints) {
      const url = new URL(endpoint.url);
      const id = endpoint.id ?? endpointIdOf(url);
      add({
        service,
        id,
        url: endpointOrigin(url),
        weight: endpoint.weight,
        state: 'ready',
        source: 'config',
        ...(endpoint.metadata === undefined ? {} : { metadata: endpoint.metadata }),
      });
    }
    for (const endpoint of this.#discovered.get(service) ?? []) {
      add({ service, id: endpoint.id, url: endpoint.url, weight: endpoint.weight, state: 'ready', source: 'dns' });
    }
    for (const registration of this.#registrations.values()) {
      if (registration.service === service) add({ ...registration, source: 'api' });
    }
    return records;
  }

  /** One endpoint by id, or undefined. */
  endpoint(service: string, id: EndpointId): EndpointRecord | undefined {
    return this.endpoints(service).find((record) => record.id === id);
  }

  /** Registers (or re-registers, idempotently by id) an instance. A re-registration keeps the admin state. */
  async register(service: string, input: RegisterInput): Promise<RegisterResult> {
    if (!this.#services.has(service))
      return { ok: false, reason: 'unknown_service', message: `unknown service "${service}"` };
    const url = new URL(input.url);
    const id = input.id ?? endpointIdOf(url);
    const existing = this.#registrations.get(registryKey(service, id));
    if (existing === undefined && this.endpoint(service, id) !== undefined) {
      return {
        ok: false,
        reason: 'conflict',
        message: `endpoint "${id}" of "${service}" comes from the config or DNS`,
      };
    }
    const now = this.#now();
    const registration: Registration = {
      service,
      id,
      url: endpointOrigin(url),
      weight: input.weight ?? existing?.weight ?? 1,
      state: existing?.state ?? 'ready',
      registeredAt: existing?.registeredAt ?? now,
      ...(input.metadata === undefined ? {} : { metadata: input.metadata }),
      ...(input.ttlSeconds === undefined
        ? {}
        : { ttlSeconds: input.ttlSeconds, leaseExpiresAt: now + input.ttlSeconds * 1000 }),
      ...(existing?.load === undefined ? {} : { load: existing.load, loadReportedAt: existing.loadReportedAt ?? now }),
    };
    await this.#store.putRegistration(registration);
    this.#preservation.release(service, registryKey(service, id));
    this.#registrations.set(registryKey(service, id), registration);
    this.#onChange();
    return { ok: true, registration, created: existing === undefined };
  }

  /** Renews a lease (and records the load the instance reports). */
  async heartbeat(service: string, id: EndpointId, load?: number): Promise<MutationResult<Registration>> {
    const existing = this.#registrations.get(registryKey(service, id));
    if (existing === undefined)
      return { ok: false, reason: this.endpoint(service, id) === undefined ? 'not_found' : 'static' };
    const registration: Registration = {
      ...existing,
      ...(existing.ttlSeconds === undefined ? {} : { leaseExpiresAt: this.#now() + existing.ttlSeconds * 1000 }),
      ...(load === undefined ? {} : { load, loadReportedAt: this.#now() }),
    };
    if (this.#shared && isSharedStore(this.#store)) {
      // The lease is the store's: renew it there (any node can); a lease that is gone means "register again".
      const held = this.#preservation.isHeld(service, registryKey(service, id));
      if (existing.ttlSeconds !== undefined && (held || !(await this.#store.renew(service, id))))
        return { ok: false, reason: 'not_found' };
      if (load !== undefined) await this.#store.putRegistration(registration);
    } else {
      await this.#store.putRegistration(registration);
    }
    this.#registrations.set(registryKey(service, id), registration);
    // A reported load feeds least-load balancing, so it goes into the next snapshot.
    if (load !== undefined) this.#onChange();
    return { ok: true, value: registration };
  }

  /** Removes a registration; its in-flight requests finish (the data plane drains its pool). */
  async deregister(service: string, id: EndpointId): Promise<MutationResult<EndpointId>> {
    const key = registryKey(service, id);
    if (!this.#registrations.has(key)) {
      return { ok: false, reason: this.endpoint(service, id) === undefined ? 'not_found' : 'static' };
    }
    // A shared store removes the endpoint's override in the same transaction (nothing half-applied).
    await this.#store.removeRegistration(service, id);
    if (this.#shared) this.#overrides.delete(key);
    this.#preservation.release(service, key);
    this.#registrations.delete(key);
    this.#onChange();
    return { ok: true, value: id };
  }

  /** Sets an endpoint's admin state (a registration's own, or an override of a config/DNS endpoint). */
  setState(service: string, id: EndpointId, state: AdminState): Promise<MutationResult<EndpointRecord>> {
    return this.#change(service, id, { state });
  }

  /** Sets an endpoint's weight. */
  setWeight(service: string, id: EndpointId, weight: number): Promise<MutationResult<EndpointRecord>> {
    return this.#change(service, id, { weight });
  }

  /** Removes registrations whose lease ended; returns the ones removed. */
  async expireLeases(): Promise<Registration[]> {
    if (this.#shared) {
      // The store expires leases itself; only self-preservation's holds end here.
      const dropped = this.#preservation.due().flatMap((key) => {
        const registration = this.#registrations.get(key);
        this.#registrations.delete(key);
        return registration === undefined ? [] : [registration];
      });
      if (dropped.length > 0) this.#onChange();
      return dropped;
    }
    const now = this.#now();
    const expired = [...this.#registrations.values()].filter(
      (r) => r.leaseExpiresAt !== undefined && r.leaseExpiresAt <= now,
    );
    for (const registration of expired) {
      this.#registrations.delete(registryKey(registration.service, registration.id));
      await this.#store.removeRegistration(registration.service, registration.id);
    }
    if (expired.length > 0) this.#onChange();
    return expired;
  }

  async close(): Promise<void> {
    await this.#store.close();
  }

  async #change(
    service: string,
    id: EndpointId,
    change: { state?: AdminState; weight?: number },
  ): Promise<MutationResult<EndpointRecord>> {
    const key = registryKey(service, id);
    const registration = this.#registrations.get(key);
    if (registration !== undefined && !this.#shared) {
      const updated = { ...registration, ...change };
      await this.#store.putRegistration(updated);
      this.#registrations.set(key, updated);
    } else {
      if (this.endpoint(service, id) === undefined) return { ok: false, reason: 'not_found' };
      const override: Override = { ...this.#overrides.get(key), service, id, ...change };
      await this.#store.putOverride(override);
      this.#overrides.set(key, override);
    }
    this.#onChange();
    const record = this.endpoint(service, id);
    return record === undefined ? { ok: false, reason: 'not_found' } : { ok: true, value: record };
  }
}
