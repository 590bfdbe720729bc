import { accessSync, constants } from 'node:fs';
import { SwitchyardError } from '../core/errors.js';
import { randomBytes } from 'node:crypto';
import type { SelfPreservationConfig, ServiceConfig, SwitchyardConfig } from '../config/schema.js';
import type { EndpointId, Health } from '../core/endpoint.js';
import type { FactSink } from '../core/facts.js';
import type { Logger } from '../core/log.js';
import type { Snapshot } from '../core/snapshot.js';
import { HealthMonitor, type CheckCounts, type HealthStatus } from './health/health-monitor.js';
import { OutlierDetector } from './health/outlier-detector.js';
import { DnsDiscovery } from './registry/dns-discovery.js';
import { Registry, type EndpointRecord } from './registry/registry.js';
import { registryKey, type RegistryStore } from './registry/registry-store.js';
import { logPanicChanges } from './panic-log.js';
import { buildSnapshot, type EndpointView } from './snapshot.js';
import { ControlEvents, type ControlEvent } from './control-events.js';

/** Where the control plane hands its snapshots: the data plane's `apply`, in-process or over IPC. */
export type SnapshotSink = (snapshot: Snapshot) => Promise<void>;

export interface ControlPlaneOptions {
  readonly store: RegistryStore;
  readonly sink: SnapshotSink;
  readonly log: Logger;
  readonly now?: () => number;
  /** How often expired leases are swept (ms). */
  readonly leaseSweepMs?: number;
  /** DNS resolver override (tests point it at a local server). */
  readonly resolver?: ConstructorParameters<typeof DnsDiscovery>[0]['resolver'];
  /** Self-preservation of lease-backed endpoints (a shared store only). */
  readonly selfPreservation?: SelfPreservationConfig;
}

/** Everything the admin API shows about an endpoint. */
export interface EndpointStatus extends EndpointRecord {
  readonly health: Health;
  readonly effectiveWeight: number;
  readonly lastCheck?: HealthStatus['lastCheck'];
  readonly ejection?: { readonly until?: number; readonly count: number };
}

/** What the events compare between two publications, per endpoint. */
interface PublishedEndpoint {
  readonly service: string;
  readonly view: EndpointView;
}

/** Slow start ramps from this share of the weight. */
const slowStartFloor = 0.1;
/** While an endpoint ramps up, the snapshot is rebuilt this often (ms). */
const rampStepMs = 1_000;

/**
 * The control plane: owns the configuration, the registry (config, DNS, API registrations), health (active checks
 * and outlier detection) and slow start, and publishes a new immutable snapshot to the data plane whenever any of
 * them changes. Changes are coalesced: many at once give one snapshot.
 */
export class ControlPlane implements FactSink {
  readonly registry: Registry;
  /** What changed, as it is published (membership, health, state, weight, configuration), for the admin API. */
  readonly events = new ControlEvents();
  readonly #sink: SnapshotSink;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #health: HealthMonitor;
  readonly #outliers: OutlierDetector;
  readonly #dns: DnsDiscovery;
  readonly #leaseSweepMs: number;
  #config: SwitchyardConfig | undefined;
  #version = 0;
  #published: Snapshot | undefined;
  /** Endpoint keys in the last snapshot: an endpoint not among them is new (and ramps up). */
  #known = new Set<string>();
  /** Every endpoint as last published, by registry key, to tell what the next publication changed. */
  #publishedEndpoints = new Map<string, PublishedEndpoint>();
  /** Registrations the lease sweep removed, until the publication that drops them says why. */
  readonly #expired = new Set<string>();
  readonly #rampStart = new Map<string, number>();
  #publishing: Promise<void> | undefined;
  #pending = false;
  #scheduled = false;
  #sweepTimer: NodeJS.Timeout | undefined;
  #rampTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Signs stickiness keys when the config has no shared secret: valid on this node until it restarts. */
  readonly #localSecret = { id: 'local', secret: randomBytes(32).toString('base64url') };

  constructor(options: ControlPlaneOptions) {
    this.#sink = options.sink;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#leaseSweepMs = options.leaseSweepMs ?? 500;
    this.registry = new Registry(options.store, {
      now: this.#now,
      onChange: () => this.#schedule(),
      ...(options.selfPreservation === undefined ? {} : { selfPreservation: options.selfPreservation }),
      notices: {
        expired: (service, id) => this.#expired.add(registryKey(service, id)),
        preserving: (service, kept, until) =>
          this.#log.warn(
            { service, kept, until: new Date(until).toISOString() },
            'self-preservation: too many leases expired at once; keeping the endpoints (still health-checked)',
          ),
      },
    });
    this.#health = new HealthMonitor({
      log: options.log,
      now: this.#now,
      onChange: (service, id, status) => this.#onHealthChange(service, id, status),
    });
    this.#outliers = new OutlierDetector({
      log: options.log,
      now: this.#now,
      onChange: (service, id, ejected) => {
        if (!ejected) this.#startRamp(service, id);
        this.#schedule();
      },
    });
    this.#dns = new DnsDiscovery({
      log: options.log,
      ...(options.resolver === undefined ? {} : { resolver: options.resolver }),
      onChange: (service: string, endpoints) => this.registry.setDiscovered(service, endpoints),
    });
  }

  /** The configuration in force. */
  get config(): SwitchyardConfig {
    if (this.#config === undefined) throw new Error('the control plane has not started');
    return this.#config;
  }

  /** The last snapshot handed to the data plane. */
  get snapshot(): Snapshot | undefined {
    return this.#published;
  }

  /** Loads the registry, starts discovery and health checks, and publishes the first snapshot. */
  async start(config: SwitchyardConfig): Promise<void> {
    this.#checkFiles(config);
    await this.registry.load();
    this.#adopt(config);
    await this.#warmUp(config);
    await this.#publish();
    this.#sweepTimer = setInterval(() => void this.#sweepLeases(), this.#leaseSweepMs);
    this.#sweepTimer.unref();
  }

  /** Replaces the configuration (already validated) and publishes the snapshot built from it. */
  async setConfig(config: SwitchyardConfig): Promise<void> {
    this.#checkFiles(config);
    const previous = this.#config;
    this.#adopt(config);
    try {
      await this.#publish();
    } catch (error) {
      if (previous !== undefined) this.#adopt(previous);
      throw error;
    }
    this.events.emit({ type: 'config', at: this.#now(), ok: true, version: this.#version });
  }

  /** Publishes a snapshot with what is known now, and resolves when the data plane applied it. */
  async flush(): Promise<void> {
    await this.#publish();
  }

  upstreamFailure(service: string, endpoint: EndpointId, consecutiveErrors: number): void {
    const config = this.#config?.services[service];
    if (config === undefined) return;
    const ids = this.registry.endpoints(service).map((record) => record.id);
    this.#outliers.report(service, endpoint, consecutiveErrors, config.outlierDetection, ids);
  }

  /** How many active health checks of each endpoint passed and failed (for metrics). */
  healthCheckCounts(): CheckCounts[] {
    return this.#health.checkCounts();
  }

  /** Every endpoint of a service with its health and effective weight (for the admin API). */
  endpointStatuses(service: string): EndpointStatus[] {
    const config = this.#config?.services[service];
    if (config === undefined) return [];
    const now = this.#now();
    return this.#views(service, config, now).map((view) => {
      const lastCheck = this.#health.status(service, view.record.id)?.lastCheck;
      const ejection = this.#outliers.ejection(service, view.record.id);
      return {
        ...view.record,
        health: view.health,
        effectiveWeight: view.record.weight * view.weightFactor,
        ...(lastCheck === undefined ? {} : { lastCheck }),
        ...(ejection === undefined ? {} : { ejection }),
      };
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    clearTimeout(this.#rampTimer);
    this.#health.close();
    this.#outliers.close();
    this.#dns.close();
    while (this.#publishing !== undefined) await this.#publishing;
    await this.registry.close();
  }

  /**
   * Waits (at most one check timeout) for the first check of every health-checked endpoint, so that the balancer
   * does not open its listeners on endpoints it knows nothing about (Envoy's cluster warming): otherwise the first
   * requests after a start would find no healthy endpoint.
   */
  async #warmUp(config: SwitchyardConfig): Promise<void> {
    // DNS first (its endpoints are then checked too); a name that does not answer in time is not waited for longer.
    const dnsServices = Object.entries(config.services).filter(([, s]) => s.dns !== undefined);
    const dnsDeadline = Date.now() + 2_000;
    while (dnsServices.some(([service]) => this.#dns.endpoints(service) === undefined) && Date.now() < dnsDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.#syncHealthTargets();
    const checked = Object.entries(config.services).filter(([, s]) => s.healthCheck !== undefined);
    if (checked.length === 0) return;
    const deadline = Date.now() + Math.max(...checked.map(([, s]) => s.healthCheck?.timeoutMs ?? 0)) + 100;
    const pending = (): boolean =>
      checked.some(([service]) =>
        this.registry
          .endpoints(service)
          .some((record) => this.#health.status(service, record.id)?.lastCheck === undefined),
      );
    while (pending() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  /** Certificate and key files the config names must be readable: a start or reload fails with them listed. */
  #checkFiles(config: SwitchyardConfig): void {
    const files = [
      ...config.listeners.flatMap((l) => l.tls?.certificates.flatMap((c) => [c.cert, c.key]) ?? []),
      ...Object.values(config.services).flatMap((s) =>
        [s.upstreamTls?.ca, s.upstreamTls?.cert, s.upstreamTls?.key].filter((f): f is string => f !== undefined),
      ),
    ];
    const unreadable = files.filter((file) => {
      try {
        accessSync(file, constants.R_OK);
        return false;
      } catch {
        return true;
      }
    });
    if (unreadable.length > 0) {
      const problems = unreadable.map((file) => `cannot read ${file}`);
      throw new SwitchyardError(problems.join('\n'), 1, problems);
    }
  }

  #adopt(config: SwitchyardConfig): void {
    this.#config = config;
    this.registry.setConfig(config);
    this.#dns.sync(
      Object.entries(config.services).flatMap(([service, s]) => (s.dns === undefined ? [] : [{ service, dns: s.dns }])),
    );
    this.#syncHealthTargets();
  }

  #syncHealthTargets(): void {
    const config = this.#config;
    if (config === undefined) return;
    const targets = Object.entries(config.services).flatMap(([service, s]) => {
      const check = s.healthCheck;
      if (check === undefined) return [];
      return this.registry
        .endpoints(service)
        .map((record) => ({ service, endpoint: { id: record.id, url: record.url }, check }));
    });
    this.#health.sync(targets);
  }

  #onHealthChange(service: string, id: EndpointId, status: HealthStatus): void {
    const key = registryKey(service, id);
    // Slow start after a recovery, and after the first pass of an endpoint that joined after boot.
    if (status.health === 'up' && (this.#rampStart.has(key) || this.#wasDown(service, id))) {
      this.#startRamp(service, id);
    }
    this.#schedule();
  }

  /** Starts (or restarts) an endpoint's slow-start ramp, when its service has one. */
  #startRamp(service: string, id: EndpointId): void {
    if ((this.#config?.services[service]?.slowStartMs ?? 0) > 0)
      this.#rampStart.set(registryKey(service, id), this.#now());
  }

  #publishedHealth(service: string, id: EndpointId): Health | undefined {
    const health = this.#published?.services[service]?.endpoints.find((e) => e.id === id)?.health;
    return health === 'ejected' ? undefined : health;
  }

  #wasDown(service: string, id: EndpointId): boolean {
    const endpoint = this.#published?.services[service]?.endpoints.find((e) => e.id === id);
    return endpoint?.health === 'down' || endpoint?.health === 'ejected';
  }

  async #sweepLeases(): Promise<void> {
    try {
      const expired = await this.registry.expireLeases();
      for (const registration of expired) {
        this.#expired.add(registryKey(registration.service, registration.id));
        this.#log.info({ service: registration.service, endpoint: registration.id }, 'lease expired: endpoint removed');
      }
    } catch (error) {
      this.#log.error({ err: error }, 'lease sweep failed');
    }
  }

  #views(service: string, config: ServiceConfig, now: number): EndpointView[] {
    return this.registry.endpoints(service).map((record) => {
      const key = registryKey(service, record.id);
      let health: Health = 'up';
      if (config.healthCheck !== undefined) {
        health = this.#health.status(service, record.id)?.health ?? 'unknown';
        // Checks restarted by a config change start from unknown: keep the last published verdict until they answer.
        if (health === 'unknown') health = this.#publishedHealth(service, record.id) ?? 'unknown';
      }
      if (this.#outliers.isEjected(service, record.id)) health = 'ejected';
      return { record, health, weightFactor: this.#weightFactor(key, config.slowStartMs, now) };
    });
  }

  #weightFactor(key: string, windowMs: number, now: number): number {
    const started = this.#rampStart.get(key);
    if (started === undefined) return 1;
    const progress = windowMs === 0 ? 1 : (now - started) / windowMs;
    if (progress >= 1) {
      this.#rampStart.delete(key);
      return 1;
    }
    return slowStartFloor + (1 - slowStartFloor) * Math.max(0, progress);
  }

  /** Emits an event for every endpoint the publication added, removed or changed (health, state, weight). */
  #announce(published: ReadonlyMap<string, PublishedEndpoint>, at: number): void {
    for (const [key, { service, view }] of this.#publishedEndpoints) {
      if (published.has(key)) continue;
      const { id: endpoint, url, source } = view.record;
      const reason = this.#expired.has(key) ? { reason: 'lease expired' } : {};
      this.events.emit({ type: 'endpoint-removed', at, service, endpoint, url, source, ...reason });
    }
    this.#expired.clear();
    for (const [key, { service, view }] of published) {
      const { id: endpoint, url, source, state, weight } = view.record;
      const before = this.#publishedEndpoints.get(key)?.view;
      if (before === undefined) {
        this.events.emit({ type: 'endpoint-added', at, service, endpoint, url, source });
        continue;
      }
      if (before.health !== view.health)
        this.events.emit(this.#healthEvent(service, endpoint, before.health, view.health, at));
      if (before.record.state !== state)
        this.events.emit({ type: 'state', at, service, endpoint, from: before.record.state, to: state });
      if (before.record.weight !== weight)
        this.events.emit({ type: 'weight', at, service, endpoint, from: before.record.weight, to: weight });
    }
  }

  #healthEvent(service: string, endpoint: EndpointId, from: Health, to: Health, at: number): ControlEvent {
    if (to === 'ejected') {
      const ejection = this.#outliers.ejection(service, endpoint);
      const detail = 'consecutive gateway errors (outlier detection)';
      return {
        type: 'health',
        at,
        service,
        endpoint,
        from,
        to,
        detail,
        ...(ejection === undefined ? {} : { ejection }),
      };
    }
    const detail = this.#health.status(service, endpoint)?.lastCheck?.detail;
    return { type: 'health', at, service, endpoint, from, to, ...(detail === undefined ? {} : { detail }) };
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed || this.#config === undefined) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#publish().catch((error: unknown) => this.#log.error({ err: error }, 'publishing a snapshot failed'));
    });
  }

  /** Builds and hands over a snapshot; publications never overlap, and changes during one give one more after it. */
  async #publish(): Promise<void> {
    if (this.#publishing !== undefined) {
      this.#pending = true;
      await this.#publishing;
      if (!this.#pending) return;
    }
    this.#pending = false;
    this.#publishing = this.#publishOnce().finally(() => (this.#publishing = undefined));
    await this.#publishing;
  }

  async #publishOnce(): Promise<void> {
    const config = this.config;
    this.#syncHealthTargets();
    const now = this.#now();
    const first = this.#published === undefined;
    const keys = new Set<string>();
    for (const service of Object.keys(config.services)) {
      for (const record of this.registry.endpoints(service)) {
        const key = registryKey(service, record.id);
        keys.add(key);
        if (!first && !this.#known.has(key) && config.services[service]!.slowStartMs > 0) this.#rampStart.set(key, now);
      }
    }
    for (const key of this.#rampStart.keys()) if (!keys.has(key)) this.#rampStart.delete(key);
    this.#outliers.retain(keys);
    const secrets = config.stickinessSecrets.length > 0 ? config.stickinessSecrets : [this.#localSecret];
    const published = new Map<string, PublishedEndpoint>();
    const snapshot = buildSnapshot(
      config,
      this.#version + 1,
      (service) => {
        const views = this.#views(service, config.services[service]!, now);
        for (const view of views) published.set(registryKey(service, view.record.id), { service, view });
        return views;
      },
      secrets,
    );
    await this.#sink(snapshot);
    this.#version = snapshot.version;
    logPanicChanges(this.#published, snapshot, this.#log);
    this.#published = snapshot;
    this.#known = keys;
    if (!first) this.#announce(published, now);
    this.#publishedEndpoints = published;
    this.#log.debug({ version: snapshot.version }, 'snapshot published');
    clearTimeout(this.#rampTimer);
    if (this.#rampStart.size > 0 && !this.#closed) {
      this.#rampTimer = setTimeout(() => this.#schedule(), rampStepMs);
      this.#rampTimer.unref();
    }
  }
}
