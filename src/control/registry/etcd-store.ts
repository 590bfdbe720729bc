import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import type { EtcdConfig } from '../../config/schema.js';
import type { EndpointId } from '../../core/endpoint.js';
import type { Logger } from '../../core/log.js';
import { createEtcdClient, DeadlineError, withDeadline } from './etcd-client.js';
import { LeaseRenewals } from './lease-renewals.js';
import {
  RegistryUnavailableError,
  type Override,
  type Registration,
  type RegistryData,
  type ResyncReason,
  type SharedRegistryStore,
  type StoreChange,
  type StoreContent,
  type StoreListener,
} from './registry-store.js';

/**
 * The fleet's store on etcd (docs/fleet.md). Keys under the prefix, values JSON: `registrations/{service}/{id}` on
 * an etcd lease of the registration's TTL, `overrides/{service}/{id}` (admin state and weight, no lease),
 * `nodes/{name}` and `config` (written by the fleet code through `client`). One watch of the prefix, started from
 * the revision of the list, reports every change; a lost watch (compaction, cancel) re-lists and hands the listener
 * the whole content to apply as a difference.
 */
export class EtcdStore implements SharedRegistryStore {
  readonly shared = true as const;
  readonly client: Etcd3;
  readonly prefix: string;
  readonly #log: Logger;
  readonly #renewals: LeaseRenewals;
  /** The lease of each registration key, as the store last reported it. */
  readonly #leases = new Map<string, string>();
  #listener: StoreListener | undefined;
  #watcher: Watcher | undefined;
  #revision = 0;
  #primed: StoreContent | undefined;
  /** The watch (or the last list) reached etcd. */
  #up = false;
  /** A call ran past its deadline and none succeeded since (etcd frozen, a stalled leader, a partition). */
  #stalled = false;
  /** What the listener was last told. */
  #published = false;
  #probe: NodeJS.Timeout | undefined;
  readonly #deadlineMs: number;
  #closed = false;
  readonly #resyncs: Record<ResyncReason, number> = { reconnected: 0, compacted: 0, watch_error: 0 };

  constructor(config: EtcdConfig, log: Logger, client: Etcd3 = createEtcdClient(config)) {
    this.client = client;
    this.prefix = config.prefix;
    this.#log = log.child({ component: 'etcd' });
    this.#renewals = new LeaseRenewals(client, config.requestTimeoutMs);
    this.#deadlineMs = config.requestTimeoutMs;
  }

  /** The full key of a path under the prefix. */
  key(path: string): string {
    return `${this.prefix}${path}`;
  }

  /** The registry part of the last `loadAll()` when nothing was read since (the start lists once), else a new list. */
  async load(): Promise<RegistryData> {
    const { registrations, overrides } = this.#primed ?? (await this.loadAll());
    this.#primed = undefined;
    return { registrations, overrides };
  }

  async loadAll(): Promise<StoreContent> {
    const response = await this.#op(() => this.client.getAll().prefix(this.prefix).exec());
    const registrations: Registration[] = [];
    const overrides: Override[] = [];
    const nodes = new Map<string, unknown>();
    let config: StoreContent['config'];
    this.#leases.clear();
    for (const kv of response.kvs) {
      const change = this.#parse(kv);
      if (change?.kind === 'registration') registrations.push(change.registration);
      else if (change?.kind === 'override') overrides.push(change.override);
      else if (change?.kind === 'node') nodes.set(change.name, change.value);
      else if (change?.kind === 'config') config = { value: change.value, revision: change.revision };
    }
    this.#revision = Number(response.header.revision);
    this.#up = true;
    this.#publish();
    this.#primed = { registrations, overrides, nodes, config, revision: this.#revision };
    return this.#primed;
  }

  watch(listener: StoreListener): void {
    this.#listener = listener;
    this.#primed = undefined;
    this.#startWatch();
  }

  status() {
    return { up: this.#up && !this.#stalled, revision: this.#revision, resyncs: { ...this.#resyncs } };
  }

  /**
   * Writes a registration: one put decides (a granted lease without its put expires unused). Like every call below it
   * runs under one deadline (`requestTimeoutMs`): past it the caller gets `RegistryUnavailableError` and no further
   * step starts, but a put already sent may still land; the watch reports it then.
   */
  putRegistration(registration: Registration): Promise<void> {
    return this.#op((live) => this.#putRegistration(registration, live));
  }

  async #putRegistration(registration: Registration, live: () => void): Promise<void> {
    const key = this.key(registrationPath(registration.service, registration.id));
    const { leaseExpiresAt: _expires, ...stored } = registration;
    const value = JSON.stringify(stored);
    if (registration.ttlSeconds === undefined) {
      await this.client.put(key).value(value).exec();
      return;
    }
    const previous = this.#leases.get(key);
    // A re-registration renews the lease it has (a value change must not restart the lease clock either).
    if (previous !== undefined && (await this.#renewals.renew(previous).catch(() => false))) {
      try {
        live();
        await this.client.put(key).value(value).lease(previous).exec();
        return;
      } catch {
        // The lease ended between the renewal and the put: grant a new one below.
      }
    }
    live();
    const granted = await this.client.leaseClient.leaseGrant({ TTL: registration.ttlSeconds, ID: 0 });
    live();
    await this.client.put(key).value(value).lease(granted.ID).exec();
    this.#leases.set(key, granted.ID);
    if (previous !== undefined && previous !== granted.ID)
      void this.client.leaseClient.leaseRevoke({ ID: previous }).catch(() => undefined);
  }

  /**
   * Deregisters: one transaction writes the marker (it tells every node this is a deregistration, not a lease expiry:
   * self-preservation counts only those) and deletes the endpoint's override, so both happen or neither; the key
   * itself is deleted after (a marker left behind reads as "removed", and ends with its lease).
   */
  removeRegistration(service: string, id: EndpointId): Promise<void> {
    return this.#op(async (live) => {
      const key = this.key(registrationPath(service, id));
      const lease = this.#leases.get(key);
      const value = JSON.stringify({ service, id, removed: true });
      const marker = (leased: boolean) =>
        this.client
          .if(key, 'Version', '>', -1)
          .then(
            leased && lease !== undefined
              ? this.client.put(key).value(value).lease(lease)
              : this.client.put(key).value(value),
            this.client.delete().key(this.key(overridePath(service, id))),
          )
          .commit();
      await marker(true).catch((error: unknown) => {
        if (lease === undefined) throw error;
        live();
        return marker(false);
      });
      await this.client.delete().key(key).exec();
    });
  }

  async putOverride(override: Override): Promise<void> {
    await this.#op(() =>
      this.client
        .put(this.key(overridePath(override.service, override.id)))
        .value(JSON.stringify(override))
        .exec(),
    );
  }

  async removeOverride(service: string, id: EndpointId): Promise<void> {
    await this.#op(() =>
      this.client
        .delete()
        .key(this.key(overridePath(service, id)))
        .exec(),
    );
  }

  async renew(service: string, id: EndpointId): Promise<boolean> {
    const lease = this.#leases.get(this.key(registrationPath(service, id)));
    if (lease === undefined) return false;
    return this.#op(() => this.#renewals.renew(lease));
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#probe);
    this.#renewals.close();
    await this.#watcher?.cancel().catch(() => undefined);
    this.client.close();
  }

  /**
   * Runs one store operation (one or more etcd calls) under one deadline: etcd3 retries a call on each member, so
   * per-call deadlines add up. Any failure, the deadline included, is "the store is unavailable" to the API (503 +
   * Retry-After). `live()` throws once the deadline passed: a step not yet started never starts late.
   */
  async #op<T>(work: (live: () => void) => Promise<T>): Promise<T> {
    try {
      const result = await withDeadline(this.#deadlineMs, work);
      this.#setStalled(false);
      return result;
    } catch (error) {
      if (error instanceof DeadlineError) this.#setStalled(true);
      throw new RegistryUnavailableError(error);
    }
  }

  /**
   * A frozen etcd keeps its connections open, so the watch sees no disconnection: a call past its deadline marks the
   * store unavailable, and a probe every 500 ms (a one-key read under the same deadline) marks it back.
   */
  #setStalled(stalled: boolean): void {
    if (this.#stalled === stalled) return;
    this.#stalled = stalled;
    if (stalled) {
      this.#log.warn({ deadlineMs: this.#deadlineMs }, 'etcd did not answer in time: serving the last state seen');
      this.#scheduleProbe();
    } else {
      clearTimeout(this.#probe);
      this.#probe = undefined;
      this.#log.info({ revision: this.#revision }, 'etcd answers again');
    }
    this.#publish();
  }

  #scheduleProbe(): void {
    if (this.#closed || !this.#stalled) return;
    clearTimeout(this.#probe);
    this.#probe = setTimeout(() => {
      void this.#op(() => this.client.get(this.key('config')).exec()).then(
        () => undefined,
        () => this.#scheduleProbe(),
      );
    }, 500);
    this.#probe.unref();
  }

  #startWatch(): void {
    if (this.#closed) return;
    const watcher = this.client
      .watch()
      .prefix(this.prefix)
      .withPreviousKV()
      .startRevision(String(this.#revision + 1))
      .watcher();
    this.#watcher = watcher;
    let disconnected = false;
    watcher.on('data', (response: IWatchResponse) => this.#onData(response));
    watcher.on('disconnected', (error: Error) => {
      // etcd3 resumes from the header revision of its create response; resume from what was applied instead.
      (watcher as unknown as { request: { start_revision: string } }).request.start_revision = String(
        this.#revision + 1,
      );
      if (disconnected || this.#closed) return;
      disconnected = true;
      this.#setUp(false);
      this.#log.warn({ err: error.message, revision: this.#revision }, 'etcd watch lost: serving the last state seen');
    });
    watcher.on('connected', () => {
      if (!disconnected) return;
      disconnected = false;
      this.#resyncs.reconnected++;
      this.#setUp(true);
      this.#log.info({ revision: this.#revision }, 'etcd watch resumed from the last revision applied');
    });
    watcher.on('error', (error: Error) => {
      if (this.#closed) return;
      // etcd 3.4 cancels a watch whose start revision was compacted with compact_revision set and no cancel_reason
      // (etcd3 passes on only the reason): an empty reason is a compaction; others name theirs (permission denied).
      const reason: ResyncReason = /compact|canceled: *$/i.test(error.message) ? 'compacted' : 'watch_error';
      this.#log.warn({ err: error.message, revision: this.#revision, reason }, 'etcd watch cancelled: re-listing');
      void this.#relist(reason);
    });
  }

  /** Lists the prefix again (until it succeeds), hands the content over as one resync, then watches from there. */
  async #relist(reason: ResyncReason): Promise<void> {
    this.#watcher = undefined;
    for (let delayMs = 100; !this.#closed; delayMs = Math.min(delayMs * 2, 1_000)) {
      try {
        const content = await this.loadAll();
        this.#primed = undefined;
        this.#resyncs[reason]++;
        this.#setUp(true);
        this.#listener?.resync(content, reason);
        this.#startWatch();
        return;
      } catch {
        this.#setUp(false);
        await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
      }
    }
  }

  #setUp(up: boolean): void {
    this.#up = up;
    this.#publish();
  }

  #publish(): void {
    const up = this.#up && !this.#stalled;
    if (this.#published === up) return;
    this.#published = up;
    this.#listener?.availability(up);
  }

  #onData(response: IWatchResponse): void {
    const changes: StoreChange[] = [];
    let revision = this.#revision;
    for (const event of response.events) {
      revision = Math.max(revision, Number(event.kv.mod_revision));
      const change =
        event.type === 'Put' ? this.#parse(event.kv) : this.#parseDelete(event.kv, event.prev_kv ?? undefined);
      if (change !== undefined) changes.push(change);
    }
    // A progress notification (no events) says everything up to its header revision was sent.
    if (response.events.length === 0) revision = Math.max(revision, Number(response.header.revision));
    this.#revision = revision;
    if (!this.#up) this.#setUp(true);
    // Watch data after a stall: etcd answers again.
    if (this.#stalled) this.#setStalled(false);
    if (changes.length > 0 || response.events.length === 0) this.#listener?.changes(changes, revision);
  }

  #parse(kv: IKeyValue): StoreChange | undefined {
    const path = kv.key.toString().slice(this.prefix.length);
    const value = parseJson(kv.value);
    if (value === undefined) {
      this.#log.warn({ key: kv.key.toString() }, 'etcd key with a value that is not JSON: ignored');
      return undefined;
    }
    const [kind, first, second] = path.split('/');
    if (kind === 'registrations' && first !== undefined && second !== undefined) {
      const record = value as Registration & { removed?: boolean };
      const service = decodeURIComponent(first);
      const id = decodeURIComponent(second);
      this.#leases.delete(kv.key.toString());
      if (record.removed === true) return { kind: 'registration-removed', service, id, expired: false };
      if (kv.lease !== '0') this.#leases.set(kv.key.toString(), kv.lease);
      return { kind: 'registration', registration: { ...record, service, id } };
    }
    if (kind === 'overrides' && first !== undefined && second !== undefined)
      return {
        kind: 'override',
        override: { ...(value as Override), service: decodeURIComponent(first), id: decodeURIComponent(second) },
      };
    if (kind === 'nodes' && first !== undefined) return { kind: 'node', name: decodeURIComponent(first), value };
    if (kind === 'config' && first === undefined) return { kind: 'config', value, revision: Number(kv.mod_revision) };
    return undefined;
  }

  #parseDelete(kv: IKeyValue, previous: IKeyValue | undefined): StoreChange | undefined {
    const path = kv.key.toString().slice(this.prefix.length);
    const [kind, first, second] = path.split('/');
    if (kind === 'registrations' && first !== undefined && second !== undefined) {
      const lease = this.#leases.get(kv.key.toString());
      this.#leases.delete(kv.key.toString());
      const removed = (parseJson(previous?.value) as { removed?: boolean } | undefined)?.removed === true;
      if (removed) return undefined; // the marker already removed it
      const leased = lease !== undefined || (previous !== undefined && previous.lease !== '0');
      return {
        kind: 'registration-removed',
        service: decodeURIComponent(first),
        id: decodeURIComponent(second),
        expired: leased,
      };
    }
    if (kind === 'overrides' && first !== undefined && second !== undefined)
      return { kind: 'override-removed', service: decodeURIComponent(first), id: decodeURIComponent(second) };
    if (kind === 'nodes' && first !== undefined)
      return { kind: 'node', name: decodeURIComponent(first), value: undefined };
    if (kind === 'config' && first === undefined)
      return { kind: 'config', value: undefined, revision: Number(kv.mod_revision) };
    return undefined;
  }
}

export const registrationPath = (service: string, id: EndpointId): string =>
  `registrations/${encodeURIComponent(service)}/${encodeURIComponent(id)}`;
export const overridePath = (service: string, id: EndpointId): string =>
  `overrides/${encodeURIComponent(service)}/${encodeURIComponent(id)}`;

function parseJson(value: Buffer | undefined): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value.toString()) as unknown;
  } catch {
    return undefined;
  }
}
