import type { Lease } from 'etcd3';
import type { Logger } from '../../core/log.js';
import type { EtcdStore } from '../registry/etcd-store.js';

/** What a node announces under `nodes/{name}` (JSON; nothing secret). */
export interface NodeRecord {
  readonly name: string;
  /** Where its admin API listens (`host:port`), or null without one. */
  readonly adminAddress: string | null;
  readonly version: string;
  /** Hash of the routes and services in force (fleet.ts `configHash`). */
  readonly configHash: string;
  /** The store revision it had applied when it announced. */
  readonly revision: number;
  /** The store revision of the shared configuration it runs; null: its file's own routes and services. */
  readonly sharedConfigRevision: number | null;
  readonly registryUp: boolean;
  /** ISO time it started. */
  readonly startedAt: string;
  /** The last shared revision it refused, or null. */
  readonly refused: { readonly revision: number; readonly problems: readonly string[]; readonly at: string } | null;
}

/** The announcement's lease: a node that dies leaves the list within this many seconds. */
export const nodeLeaseSeconds = 5;

/**
 * Keeps `nodes/{name}` on a short lease kept alive by etcd3's `Lease`, rewritten (coalesced) whenever `schedule()`
 * is called; a lost lease (etcd was away longer than its TTL) is granted anew and the record written again.
 */
export class NodeAnnouncer {
  readonly #store: EtcdStore;
  readonly #log: Logger;
  readonly #record: () => NodeRecord;
  #lease: Lease | undefined;
  #writing = false;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(store: EtcdStore, log: Logger, record: () => NodeRecord) {
    this.#store = store;
    this.#log = log;
    this.#record = record;
  }

  start(): void {
    this.schedule();
  }

  /** Writes the record soon (changes within a few ms are written once). */
  schedule(): void {
    if (this.#closed) return;
    this.#dirty = true;
    if (this.#timer !== undefined || this.#writing) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#write();
    }, 10);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const lease = this.#lease;
    this.#lease = undefined;
    // Revoking removes the record at once: the others see this node leave without waiting for the TTL.
    await lease?.revoke().catch(() => undefined);
  }

  async #write(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#dirty && !this.#closed) {
        this.#dirty = false;
        const record = this.#record();
        const lease = this.#currentLease();
        try {
          await lease.put(this.#store.key(`nodes/${encodeURIComponent(record.name)}`)).value(JSON.stringify(record));
        } catch (error) {
          this.#log.debug({ err: (error as Error).message }, 'announcing this node failed');
          // While etcd is away the record waits: availability() schedules it again when the store is back.
          if (!this.#store.status().up) break;
          this.#dirty = true;
          await new Promise((resolve) => setTimeout(resolve, 1_000).unref());
        }
      }
    } finally {
      this.#writing = false;
    }
  }

  #currentLease(): Lease {
    if (this.#lease !== undefined && !this.#lease.revoked()) return this.#lease;
    const lease = this.#store.client.lease(nodeLeaseSeconds);
    lease.on('lost', () => {
      if (this.#lease === lease) this.#lease = undefined;
      if (this.#store.status().up) this.schedule();
      else this.#dirty = true;
    });
    lease.grant().catch(() => undefined);
    this.#lease = lease;
    return lease;
  }
}
