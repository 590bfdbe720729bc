import { createHash } from 'node:crypto';
import type { SwitchyardConfig } from '../../config/schema.js';
import { SwitchyardError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { EtcdStore } from '../registry/etcd-store.js';
import type { Registry } from '../registry/registry.js';
import type { ResyncReason, StoreChange, StoreContent, StoreListener } from '../registry/registry-store.js';
import { NodeAnnouncer, type NodeRecord } from './node-announcer.js';
import { parseSharedConfig, type SharedConfig } from './shared-config.js';

/** A shared revision this node could not apply: it keeps its running configuration. */
export interface Refusal {
  readonly revision: number;
  readonly problems: readonly string[];
  /** ISO time. */
  readonly at: string;
}

export interface FleetOptions {
  readonly store: EtcdStore;
  readonly registry: Registry;
  readonly log: Logger;
  readonly name: string;
  readonly version: string;
  readonly startedAt: number;
  /** `registry.etcd.sharedConfig`: routes and services come from the store. */
  readonly sharedConfig: boolean;
  /** The configuration in force (its routes and services are hashed for the nodes view). */
  readonly config: () => SwitchyardConfig;
  /** The admin API's bound address, once it listens. */
  readonly adminAddress: () => string | undefined;
  /** Applies shared routes and services (undefined: the file's own) as a hot reload; rejects to refuse them. */
  readonly applyShared: (shared: SharedConfig | undefined) => Promise<void>;
}

/** One node as `GET /api/nodes` shows it. */
export interface NodeView extends NodeRecord {
  /** This is the node that answered. */
  readonly self: boolean;
  /** It has not announced the newest change this node applied (a stuck or slow node). */
  readonly behind: boolean;
}

/**
 * This node's part in a fleet (docs/fleet.md): it hears the one watch of the shared store and hands each change to
 * the registry (registrations, overrides) or applies it itself (shared routes and services, the other nodes'
 * announcements), and announces itself under `nodes/{name}` on a short lease whenever what it has applied changes.
 */
export class Fleet implements StoreListener {
  readonly #options: FleetOptions;
  readonly #log: Logger;
  readonly #announcer: NodeAnnouncer;
  readonly #nodes = new Map<string, NodeRecord>();
  #refusal: Refusal | undefined;
  /** The store revision of the shared configuration in force (undefined: the file's own routes and services). */
  #sharedRevision: number | undefined;
  /** The newest revision of a registration, override or config change this node applied. */
  #dataRevision = 0;
  /** Shared configurations are applied one at a time, newest last. */
  #applying: Promise<void> = Promise.resolve();

  constructor(options: FleetOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'fleet' });
    this.#announcer = new NodeAnnouncer(options.store, this.#log, () => this.#record());
  }

  /**
   * The shared configuration the store holds now, for the first start (`undefined` without `sharedConfig` or when
   * none was pushed yet). `content` is the store's first list.
   */
  initialShared(content: StoreContent): { shared: SharedConfig; revision: number } | undefined {
    if (!this.#options.sharedConfig || content.config === undefined) return undefined;
    const parsed = parseSharedConfig(content.config.value);
    if (!parsed.ok) {
      this.#refuse(content.config.revision, parsed.problems);
      return undefined;
    }
    return { shared: parsed.config, revision: content.config.revision };
  }

  /** The first shared configuration was applied (or refused) at start; `revision` undefined: none. */
  started(content: StoreContent, appliedRevision: number | undefined): void {
    this.#sharedRevision = appliedRevision;
    this.#dataRevision = content.revision;
    for (const [name, value] of content.nodes) this.#setNode(name, value);
    this.#options.store.watch(this);
    this.#announcer.start();
  }

  /** Refuses a revision (it failed validation); the running configuration stays. */
  refuse(revision: number, problems: readonly string[]): void {
    this.#refuse(revision, problems);
  }

  changes(changes: readonly StoreChange[], revision: number): void {
    const data = changes.filter((c) => c.kind !== 'node');
    for (const change of changes) if (change.kind === 'node') this.#setNode(change.name, change.value);
    if (data.length === 0) return;
    this.#options.registry.applyChanges(data);
    this.#dataRevision = revision;
    for (const change of data) if (change.kind === 'config') this.#onConfig(change.value, change.revision);
    this.#announcer.schedule();
  }

  resync(content: StoreContent, reason: ResyncReason): void {
    const counts = this.#options.registry.resync(content);
    this.#nodes.clear();
    for (const [name, value] of content.nodes) this.#setNode(name, value);
    this.#log.info({ reason, revision: content.revision, ...counts }, 'registry resynced: difference applied');
    if (this.#options.sharedConfig && content.config?.revision !== this.#sharedRevision)
      this.#onConfig(content.config?.value, content.config?.revision ?? 0);
    this.#dataRevision = Math.max(this.#dataRevision, content.revision);
    this.#announcer.schedule();
  }

  availability(up: boolean): void {
    if (up) {
      this.#log.info('etcd reachable again');
      this.#announcer.schedule();
    } else this.#log.warn('etcd unreachable: serving the last state seen; registrations answer 503');
  }

  /** Every node of the fleet, this one first (its live values, even while etcd is away), then by name. */
  nodes(): NodeView[] {
    const self = this.#record();
    const others = [...this.#nodes.values()].filter((n) => n.name !== self.name);
    others.sort((a, b) => a.name.localeCompare(b.name));
    return [self, ...others].map((node) => ({
      ...node,
      self: node.name === self.name,
      behind: node.revision < this.#dataRevision,
    }));
  }

  /** What this node's view of the store is (for `/api/nodes` and metrics). */
  status() {
    return { ...this.#options.store.status(), dataRevision: this.#dataRevision, nodes: this.nodes().length };
  }

  async close(): Promise<void> {
    await this.#applying.catch(() => undefined);
    await this.#announcer.close();
  }

  #record(): NodeRecord {
    const config = this.#options.config();
    const status = this.#options.store.status();
    return {
      name: this.#options.name,
      adminAddress: this.#options.adminAddress() ?? null,
      version: this.#options.version,
      configHash: configHash(config),
      revision: status.revision,
      sharedConfigRevision: this.#sharedRevision ?? null,
      registryUp: status.up,
      startedAt: new Date(this.#options.startedAt).toISOString(),
      refused: this.#refusal ?? null,
    };
  }

  #setNode(name: string, value: unknown): void {
    if (value === undefined) this.#nodes.delete(name);
    else if (typeof value === 'object' && value !== null) this.#nodes.set(name, { ...(value as NodeRecord), name });
  }

  #onConfig(value: unknown, revision: number): void {
    if (!this.#options.sharedConfig) return;
    const parsed = value === undefined ? undefined : parseSharedConfig(value);
    if (parsed !== undefined && !parsed.ok) {
      this.#refuse(revision, parsed.problems);
      return;
    }
    this.#applying = this.#applying.then(async () => {
      try {
        await this.#options.applyShared(parsed?.config);
        this.#sharedRevision = parsed === undefined ? undefined : revision;
        this.#refusal = undefined;
        this.#log.info({ revision }, 'shared configuration applied');
      } catch (error) {
        const problems = error instanceof SwitchyardError ? error.problems : [(error as Error).message];
        this.#refuse(revision, problems);
      }
      this.#announcer.schedule();
    });
  }

  #refuse(revision: number, problems: readonly string[]): void {
    this.#refusal = { revision, problems, at: new Date().toISOString() };
    this.#log.warn({ revision, problems }, 'shared configuration refused: the running configuration stays');
    this.#announcer.schedule();
  }
}

/** A short hash of the routes and services in force: nodes of one fleet show the same one. */
export function configHash(config: SwitchyardConfig): string {
  return createHash('sha256')
    .update(JSON.stringify({ routes: config.routes, services: config.services }))
    .digest('hex')
    .slice(0, 12);
}
