import type { AddressInfo } from 'node:net';
import { AdminServer } from './admin/admin-server.js';
import type { EventStreamTuning } from './admin/event-stream.js';
import type { AdminContext } from './admin/admin-api.js';
import type { EndpointCounters } from './core/worker-report.js';
import { configSchema, type SwitchyardConfig, type SwitchyardConfigInput } from './config/schema.js';
import { ControlPlane } from './control/control-plane.js';
import { AcmeResolver } from './control/acme/acme-resolver.js';
import { acmeFleetFrom, type AcmeFleet } from './control/acme/acme-fleet.js';
import type { AcmeMaterial } from './core/acme-material.js';
import { Fleet } from './control/fleet/fleet.js';
import { withShared, type SharedConfig } from './control/fleet/shared-config.js';
import { EtcdStore } from './control/registry/etcd-store.js';
import type { RegistryStore } from './control/registry/registry-store.js';
import { createRegistryStore } from './control/registry/stores.js';
import { SwitchyardError } from './core/errors.js';
import type { FactSink } from './core/facts.js';
import type { Snapshot } from './core/snapshot.js';
import type { ServedCertificate, TrafficReport } from './core/traffic.js';
import { silentLogger, type Logger } from './core/log.js';
import { DataPlane } from './data/data-plane.js';
import { SwitchyardMetrics } from './observability/metrics.js';
import { packageVersion } from './cli/version.js';

/** Options of `createSwitchyard` beyond the configuration itself. */
export interface SwitchyardOptions {
  /** Process log (pino); silent by default for library use. */
  readonly logger?: Logger;
  /** Where registrations are kept; by default the store the config's `registry` names. */
  readonly store?: RegistryStore;
  /**
   * Re-reads the configuration (for `POST /api/reload`); the CLI passes its file loader. Resolves with the new
   * configuration, or rejects with a `SwitchyardError` listing every problem.
   */
  readonly reload?: () => Promise<SwitchyardConfigInput>;
  /** DNS resolver for `dns:` discovery (tests point it at a local server). */
  readonly resolver?: ConstructorParameters<typeof ControlPlane>[0]['resolver'];
  /** The ACME side of a fleet (lock, shared certificates and challenges); by default from `registry.store: etcd`. */
  readonly acmeFleet?: AcmeFleet;
  /** Tuning of the dashboard's event stream (`GET /api/events`): stats interval, slow-client limit, heartbeat. */
  readonly events?: EventStreamTuning;
}

/** A running balancer, as returned by `createSwitchyard`. */
export interface Switchyard {
  /** The bound address of a listener by name (the real port when the config said port 0); `admin` is the admin API. */
  address(listener: string): AddressInfo;
  /** Validates and applies a new configuration atomically; an invalid one throws and changes nothing. */
  apply(config: SwitchyardConfigInput): Promise<void>;
  /** Re-reads the configuration through `options.reload` and applies it (SIGHUP, `POST /api/reload`). */
  reload(): Promise<void>;
  /**
   * Stops accepting, lets in-flight requests finish within `deadlineMs` (default 30 s), then closes everything.
   * Resolves true when the deadline forced connections closed.
   */
  close(deadlineMs?: number): Promise<boolean>;
}

/** The default drain deadline (docs/guarantees.md §2). */
export const defaultDrainDeadlineMs = 30_000;

/**
 * What the composition root uses of the data plane: the in-process `DataPlane`, or (with `workers`) the primary's pool
 * of cluster workers, which answers the synchronous reads from the reports `refresh()` last gathered.
 */
export interface DataPlaneHandle {
  apply(snapshot: Snapshot): Promise<void>;
  close(deadlineMs: number): Promise<boolean>;
  address(listener: string): AddressInfo | undefined;
  traffic(): TrafficReport;
  certificates(): readonly ServedCertificate[];
  counters(service: string, endpoint: string): EndpointCounters;
  /** Gathers fresh counters for the reads above (workers: asks each one for its report); absent in one process. */
  refresh?(): Promise<void>;
  /** The worker processes, for `GET /api/overview`; absent in one process. */
  workers?: AdminContext['workers'];
  /** Replaces every worker, one at a time; absent in one process. */
  roll?: AdminContext['rollWorkers'];
  /** Hands over the ACME resolver's certificates and challenges; resolves once served (workers: all of them). */
  acme?(material: AcmeMaterial): Promise<void>;
}

/** Builds the data plane once the process log and the control plane's fact sink exist. */
export type DataPlaneFactory = (log: Logger, facts: FactSink) => DataPlaneHandle;

/**
 * Validates a configuration (an object shaped like the YAML file) and starts a balancer in this process.
 * `workers` is not honoured here: the library always runs the data plane in the calling process.
 */
export function createSwitchyard(input: SwitchyardConfigInput, options: SwitchyardOptions = {}): Promise<Switchyard> {
  return startSwitchyard(input, options, (log, facts) => new DataPlane(log, facts));
}

/**
 * The composition root: the only place that wires the control plane, a data plane and the admin API together
 * (`createSwitchyard` with the in-process data plane; the CLI's cluster primary with its workers).
 */
export async function startSwitchyard(
  input: SwitchyardConfigInput,
  options: SwitchyardOptions,
  createDataPlane: DataPlaneFactory,
): Promise<Switchyard> {
  const log = options.logger ?? silentLogger();
  let config = validate(input);
  const startedAt = Date.now();
  const store = options.store ?? createRegistryStore(config, log);
  // A fleet (registry.store: etcd): the file gives listeners, TLS, admin, registry and node; with sharedConfig the
  // routes and services pushed to the store replace the file's (docs/fleet.md).
  let fileInput = input;
  let shared: SharedConfig | undefined;
  // The data plane reports facts to the control plane, which hands it snapshots: each needs the other.
  const facts = { control: undefined as ControlPlane | undefined };
  const dataPlane = createDataPlane(log, {
    upstreamFailure: (s, e, n) => facts.control?.upstreamFailure(s, e, n),
  });
  const control = new ControlPlane({
    store,
    log,
    sink: (snapshot) => dataPlane.apply(snapshot),
    selfPreservation: config.registry.selfPreservation,
    ...(options.resolver === undefined ? {} : { resolver: options.resolver }),
  });
  facts.control = control;
  // Before any listener opens (and before each new configuration): an https listener with tls.acme needs its
  // stored certificate or stand-in in the data plane to start.
  const acmeFleet = options.acmeFleet ?? acmeFleetFrom(config, log);
  const acme = new AcmeResolver({
    log,
    publish: (material) => dataPlane.acme?.(material) ?? Promise.resolve(),
    ...(acmeFleet === undefined ? {} : { fleet: acmeFleet }),
  });
  /** Every configuration change: the ACME certificates it names first, then the control plane. */
  const setConfig = async (next: SwitchyardConfig): Promise<void> => {
    await acme.configure(next);
    await control.setConfig(next);
  };
  const fleet =
    store instanceof EtcdStore
      ? new Fleet({
          store,
          registry: control.registry,
          log,
          name: config.node.name,
          version: packageVersion(),
          startedAt,
          sharedConfig: config.registry.etcd?.sharedConfig ?? false,
          config: () => control.config,
          adminAddress: () => {
            const bound = admin?.address();
            return bound === undefined ? undefined : `${bound.address}:${bound.port}`;
          },
          applyShared: (next) =>
            counted(async () => {
              await setConfig(validate(withShared(fileInput, next)));
              shared = next;
            }),
        })
      : undefined;
  let admin: AdminServer | undefined;
  /** Configuration changes on the running balancer, for `switchyard_config_reloads_total`. */
  const reloads = { success: 0, failure: 0 };
  const counted = async <T>(change: () => Promise<T>): Promise<T> => {
    try {
      const result = await change();
      reloads.success++;
      return result;
    } catch (error) {
      reloads.failure++;
      const problems = error instanceof SwitchyardError ? error.problems : [String((error as Error).message)];
      control.events.emit({ type: 'config', at: Date.now(), ok: false, problems });
      throw error;
    }
  };
  const reload = (): Promise<number> =>
    counted(async () => {
      if (options.reload === undefined)
        throw new SwitchyardError('Switchyard was started without a configuration file');
      const next = await options.reload();
      await setConfig(validate(withShared(next, shared)));
      fileInput = next;
      return control.snapshot?.version ?? 0;
    });
  const metrics = new SwitchyardMetrics({
    traffic: () => dataPlane.traffic(),
    certificates: () => dataPlane.certificates(),
    snapshot: () => control.snapshot,
    healthChecks: () => control.healthCheckCounts(),
    reloads: () => ({ ...reloads }),
    acmeCertificates: () => acme.status().certificates,
    registry: () => {
      if (fleet === undefined) return undefined;
      const status = fleet.status();
      return {
        ...status,
        preserving: control.registry.preservingServices(),
        services: control.registry.services(),
      };
    },
    version: packageVersion(),
  });
  try {
    const content = store instanceof EtcdStore ? await store.loadAll() : undefined;
    const initial = content === undefined ? undefined : fleet?.initialShared(content);
    if (initial !== undefined) {
      try {
        config = validate(withShared(input, initial.shared));
        shared = initial.shared;
      } catch (error) {
        fleet?.refuse(initial.revision, error instanceof SwitchyardError ? error.problems : [String(error)]);
      }
    }
    await acme.configure(config);
    await control.start(config);
    if (content !== undefined) fleet?.started(content, shared === undefined ? undefined : initial?.revision);
    if (config.admin.enabled) {
      const ctx: AdminContext = {
        control,
        acme,
        startedAt,
        counters: (service, endpoint) => dataPlane.counters(service, endpoint),
        metrics: async () => {
          await dataPlane.refresh?.();
          return { contentType: metrics.contentType, body: await metrics.render() };
        },
        ...(dataPlane.refresh === undefined ? {} : { refresh: () => dataPlane.refresh!() }),
        ...(dataPlane.workers === undefined ? {} : { workers: dataPlane.workers }),
        ...(dataPlane.roll === undefined ? {} : { rollWorkers: dataPlane.roll }),
        ...(fleet === undefined ? {} : { fleet }),
        listenerTraffic: () => Object.fromEntries(dataPlane.traffic().listeners.map((l) => [l.listener, l] as const)),
        listenerAddresses: () =>
          Object.fromEntries(
            control.config.listeners.flatMap((l) => {
              const bound = dataPlane.address(l.name);
              return bound === undefined ? [] : [[l.name, `${bound.address}:${bound.port}`]];
            }),
          ),
        ...(options.reload === undefined
          ? {}
          : {
              reload: async () => {
                try {
                  return { ok: true as const, version: await reload() };
                } catch (error) {
                  const problems =
                    error instanceof SwitchyardError ? error.problems : [String((error as Error).message)];
                  return { ok: false as const, problems };
                }
              },
            }),
      };
      admin = new AdminServer(config.admin, ctx, log, options.events);
      await admin.listen();
    }
  } catch (error) {
    acme.close();
    await dataPlane.close(0);
    await fleet?.close();
    await control.close();
    if (error instanceof Error && error.name === 'RegistryUnavailableError')
      throw new SwitchyardError(`cannot start: ${error.message}`);
    throw error;
  }
  let closing: Promise<boolean> | undefined;
  return {
    address(listener) {
      const address = listener === 'admin' ? admin?.address() : dataPlane.address(listener);
      if (address === undefined) throw new SwitchyardError(`no listener named "${listener}"`);
      return address;
    },
    async apply(next) {
      await counted(() => setConfig(validate(next)));
    },
    async reload() {
      await reload();
    },
    close(deadlineMs = defaultDrainDeadlineMs) {
      closing ??= (async () => {
        admin?.startDraining();
        acme.close();
        const forced = await dataPlane.close(deadlineMs);
        await admin?.close();
        await fleet?.close();
        await control.close();
        return forced;
      })();
      return closing;
    },
  };
}

function validate(input: SwitchyardConfigInput): SwitchyardConfig {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new SwitchyardError(`invalid configuration:\n${lines.join('\n')}`, 1, lines);
}
