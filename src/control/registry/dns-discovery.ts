import { Resolver } from 'node:dns/promises';
import type { DnsConfig } from '../../config/service-schema.js';
import { endpointIdOf } from '../../core/endpoint.js';
import type { Logger } from '../../core/log.js';

/** One endpoint found in DNS: plain data, ready to merge into a service's endpoint set. */
export interface DiscoveredEndpoint {
  /** `host:port`, the id `endpointIdOf` gives the URL: lower-case names, IPv6 in brackets (`[::1]:8080`). */
  readonly id: string;
  /** `scheme://host:port`, IPv6 in brackets (RFC 3986 §3.2.2). */
  readonly url: string;
  /** 1 for A and AAAA records; the SRV weight for SRV records, where 0 becomes 1. */
  readonly weight: number;
}

/** The queries discovery needs; `node:dns/promises`' `Resolver` fits, and so does a test double. */
export interface DnsResolver {
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveSrv(name: string): Promise<{ name: string; port: number; priority: number; weight: number }[]>;
}

export interface DnsDiscoveryOptions {
  /**
   * Called with a service's whole sorted set when it differs from the last one reported (ids or weights), including
   * the first answer after a service starts; never when a refresh finds the same set. A throw is logged, not raised.
   */
  onChange(service: string, endpoints: readonly DiscoveredEndpoint[]): void;
  log: Logger;
  /**
   * Where queries go; its own timeout and tries bound every refresh. Defaults to a `Resolver` with the system's
   * servers, `timeout: 1000` ms and `tries: 2`.
   */
  resolver?: DnsResolver;
}

/** One service under discovery: its settings, the last known set and the pending refresh. */
interface Watch {
  readonly service: string;
  dns: DnsConfig;
  endpoints: readonly DiscoveredEndpoint[] | undefined;
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
}

/**
 * The DNS registry: each service with a `dns` block follows the records of its name.
 *
 * - A / AAAA: one endpoint per address on the configured `port`, weight 1.
 * - SRV: only the records of the lowest priority value (RFC 2782: a client must try those first; falling back to
 *   higher values when they are all down is not modelled). Weight is the SRV weight, except that 0 becomes 1:
 *   RFC 2782 gives weight-0 records "a very small chance" of selection, and an endpoint weight of 0 would give none.
 *   The host is the target name without its trailing dot. A target of `.` ("decidedly not available", RFC 2782) or
 *   one no URL can hold is skipped, so an answer of only `.` targets is an empty set, not a failure.
 *
 * A failed refresh (timeout, SERVFAIL, NXDOMAIN, REFUSED, no records) keeps the last known set, as nginx and HAProxy
 * do, so a DNS outage never empties a service; it logs a warning with the error code and the next refresh tries again.
 * A refresh starts `refreshMs` after the previous one ended, so two never overlap for one service.
 */
export class DnsDiscovery {
  readonly #onChange: DnsDiscoveryOptions['onChange'];
  readonly #log: Logger;
  readonly #resolver: DnsResolver;
  readonly #ownResolver: Resolver | undefined;
  readonly #watches = new Map<string, Watch>();
  #closed = false;

  constructor(options: DnsDiscoveryOptions) {
    this.#onChange = (service, endpoints) => options.onChange(service, endpoints);
    this.#log = options.log;
    this.#ownResolver = options.resolver === undefined ? new Resolver({ timeout: 1000, tries: 2 }) : undefined;
    this.#resolver = options.resolver ?? this.#ownResolver!;
  }

  /**
   * Reconciles the services that use DNS with this list. A new service resolves at once and then every `refreshMs`;
   * a service missing from the list stops (its last set is forgotten; an answer in flight is dropped). A change of
   * name, type, port or scheme restarts the service as if new: its set is forgotten until the first answer, which is
   * reported by `onChange`. A change of `refreshMs` alone keeps the set and times the next refresh from the new value.
   * Does nothing after `close()`.
   */
  sync(services: readonly { readonly service: string; readonly dns: DnsConfig }[]): void {
    if (this.#closed) return;
    const wanted = new Map(services.map((entry) => [entry.service, entry.dns]));
    for (const [service, watch] of this.#watches) {
      const dns = wanted.get(service);
      if (dns === undefined || settingsOf(dns) !== settingsOf(watch.dns)) {
        this.#stop(watch);
        this.#watches.delete(service);
      }
    }
    for (const [service, dns] of wanted) {
      const watch = this.#watches.get(service);
      if (watch === undefined) {
        const started: Watch = { service, dns, endpoints: undefined, timer: undefined, stopped: false };
        this.#watches.set(service, started);
        void this.#refresh(started);
      } else if (watch.dns.refreshMs !== dns.refreshMs) {
        watch.dns = dns;
        // A refresh in flight schedules the next one itself, with the new interval.
        if (watch.timer !== undefined) this.#schedule(watch);
      } else {
        watch.dns = dns;
      }
    }
  }

  /** The last known set of a service, sorted by id; undefined before its first successful answer. */
  endpoints(service: string): readonly DiscoveredEndpoint[] | undefined {
    return this.#watches.get(service)?.endpoints;
  }

  /** Stops every service for good; answers in flight are dropped. Timers never keep the process alive anyway. */
  close(): void {
    this.#closed = true;
    for (const watch of this.#watches.values()) this.#stop(watch);
    this.#watches.clear();
    this.#ownResolver?.cancel();
  }

  #stop(watch: Watch): void {
    watch.stopped = true;
    clearTimeout(watch.timer);
    watch.timer = undefined;
  }

  #schedule(watch: Watch): void {
    clearTimeout(watch.timer);
    watch.timer = setTimeout(() => void this.#refresh(watch), watch.dns.refreshMs).unref();
  }

  /** One refresh; never rejects. */
  async #refresh(watch: Watch): Promise<void> {
    watch.timer = undefined;
    const { service, dns } = watch;
    const outcome = await this.#resolve(dns).then(
      (endpoints) => ({ endpoints }),
      (error: unknown) => ({ error }),
    );
    // Removed or restarted while the query was in flight: the answer belongs to settings no longer in force.
    if (watch.stopped) return;
    if ('endpoints' in outcome) {
      this.#accept(watch, outcome.endpoints);
    } else {
      const code = (outcome.error as NodeJS.ErrnoException).code ?? String(outcome.error);
      this.#log.warn(
        { service, name: dns.name, type: dns.type, code, endpoints: watch.endpoints?.length },
        'DNS discovery failed; keeping the last known endpoints',
      );
    }
    this.#schedule(watch);
  }

  #accept(watch: Watch, endpoints: readonly DiscoveredEndpoint[]): void {
    if (watch.endpoints !== undefined && sameSet(watch.endpoints, endpoints)) return;
    watch.endpoints = endpoints;
    this.#log.info({ service: watch.service, endpoints: endpoints.length }, 'DNS endpoints changed');
    try {
      this.#onChange(watch.service, endpoints);
    } catch (error) {
      this.#log.error({ service: watch.service, err: error }, 'DNS discovery onChange failed');
    }
  }

  async #resolve(dns: DnsConfig): Promise<DiscoveredEndpoint[]> {
    if (dns.type === 'SRV') {
      const records = (await this.#resolver.resolveSrv(dns.name))
        .map((record) => ({ ...record, name: record.name.replace(/\.$/, '') }))
        .filter((record) => record.name !== '');
      const lowest = Math.min(...records.map((record) => record.priority));
      return toSet(
        records
          .filter((record) => record.priority === lowest)
          .map((record) => endpointOf(dns.scheme, record.name, record.port, record.weight || 1)),
      );
    }
    // The schema requires a port for A and AAAA; 0 would only be reached by a config that skipped validation.
    const port = dns.port ?? 0;
    const addresses =
      dns.type === 'A' ? await this.#resolver.resolve4(dns.name) : await this.#resolver.resolve6(dns.name);
    const host = (address: string): string => (dns.type === 'A' ? address : `[${address}]`);
    return toSet(addresses.map((address) => endpointOf(dns.scheme, host(address), port, 1)));
  }
}

/** What the records mean; `refreshMs` is only when to ask again. */
function settingsOf(dns: DnsConfig): string {
  return JSON.stringify([dns.name, dns.type, dns.port, dns.scheme]);
}

/** Undefined for a target no URL can hold (a record we skip rather than fail the whole answer for). */
function endpointOf(scheme: string, host: string, port: number, weight: number): DiscoveredEndpoint | undefined {
  const text = `${scheme}://${host}:${port}`;
  if (!URL.canParse(text)) return undefined;
  const url = new URL(text);
  return { id: endpointIdOf(url), url: `${url.protocol}//${url.hostname}:${port}`, weight };
}

/** Sorted by id (code-unit order, not locale) with duplicates dropped, so equal answers give equal sets. */
function toSet(endpoints: readonly (DiscoveredEndpoint | undefined)[]): DiscoveredEndpoint[] {
  const byId = new Map<string, DiscoveredEndpoint>();
  for (const endpoint of endpoints)
    if (endpoint !== undefined && !byId.has(endpoint.id)) byId.set(endpoint.id, endpoint);
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function sameSet(a: readonly DiscoveredEndpoint[], b: readonly DiscoveredEndpoint[]): boolean {
  return a.length === b.length && a.every((endpoint, i) => endpoint.id === b[i]?.id && endpoint.weight === b[i].weight);
}
