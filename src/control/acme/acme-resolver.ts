import type { AcmeConfig, SwitchyardConfig } from '../../config/schema.js';
import type { AcmeAlpnChallenge, AcmeMaterial } from '../../core/acme-material.js';
import type { Logger } from '../../core/log.js';
import type { AcmeFleet, SharedChallenges } from './acme-fleet.js';
import { AcmeAccount, type ChallengeBoard } from './acme-order.js';
import { AcmeStorage, certificateId, type StoredCertificate } from './acme-storage.js';
import { ManagedCertificate, type AcmeCertificateStatus } from './managed-certificate.js';
import { pickInWindow } from './renewal-info.js';

/** What `GET /api/acme` answers. */
export interface AcmeStatus {
  readonly directory: string | undefined;
  readonly certificates: readonly AcmeCertificateStatus[];
}

export interface AcmeResolverOptions {
  readonly log: Logger;
  /** Hands the data plane new material; resolves once it is served (with workers: by every worker). */
  readonly publish: (material: AcmeMaterial) => Promise<void>;
  /** With the etcd registry store: the lock, the shared certificates and challenges of the fleet. */
  readonly fleet?: AcmeFleet;
}

/** With a fleet, how long a challenge put in etcd is given to reach every node before the CA is told to validate. */
const fleetSpreadMs = 1_000;

/** setTimeout's longest delay is ~24.8 days; longer waits are taken in steps. */
const longestTimerMs = 86_400_000;

/**
 * The ACME certificate resolver (control plane): for every `tls.acme` of the configuration, serves what is stored (or
 * a short-lived self-signed stand-in, logged) at once, orders in the background, renews at two thirds of the lifetime,
 * backs off after failures, and hands each new certificate to the data plane, which swaps it in like a file reload
 * (new handshakes get it, open connections keep theirs). Orders run one at a time.
 */
export class AcmeResolver {
  readonly #log: Logger;
  readonly #publish: AcmeResolverOptions['publish'];
  readonly #fleet: AcmeFleet | undefined;
  /** The challenges other nodes of the fleet wait on (answered here too: the CA may connect to any node). */
  #remote: SharedChallenges = { http01: new Map(), tlsAlpn01: new Map() };
  #watching: Promise<void> | undefined;
  /** Certificates to order even when not due (renew and revoke through the API). */
  readonly #forced = new Set<string>();
  #config: AcmeConfig | undefined;
  #storage: AcmeStorage | undefined;
  #account: Promise<AcmeAccount> | undefined;
  #challenge: 'http-01' | 'tls-alpn-01' = 'http-01';
  readonly #managed = new Map<string, ManagedCertificate>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #http01 = new Map<string, string>();
  readonly #alpn = new Map<string, AcmeAlpnChallenge>();
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: AcmeResolverOptions) {
    this.#log = options.log.child({ component: 'acme' });
    this.#publish = options.publish;
    this.#fleet = options.fleet;
  }

  /**
   * Takes a (validated) configuration: certificates it no longer names are dropped, new ones get what is stored or
   * a stand-in before this resolves (so a listener opening next has a certificate), and their orders are scheduled.
   */
  async configure(config: SwitchyardConfig): Promise<void> {
    const acme = config.acme;
    const wanted = new Map<string, { listener: string; domains: string[] }>();
    for (const listener of config.listeners) {
      const domains = listener.tls?.acme?.domains.map((d) => d.toLowerCase());
      if (domains !== undefined)
        wanted.set(certificateId(listener.name, domains), { listener: listener.name, domains });
    }
    if (acme === undefined || wanted.size === 0) wanted.clear();
    if (JSON.stringify(acme) !== JSON.stringify(this.#config)) {
      this.#config = acme;
      this.#account = undefined;
      this.#storage = acme === undefined ? undefined : new AcmeStorage(acme.storage, acme.keyType);
    }
    this.#challenge =
      acme?.challenge ?? (config.listeners.some((l) => l.protocol === 'http') ? 'http-01' : 'tls-alpn-01');
    for (const id of [...this.#managed.keys()]) {
      if (wanted.has(id)) continue;
      this.#managed.delete(id);
      clearTimeout(this.#timers.get(id));
      this.#timers.delete(id);
    }
    const added: ManagedCertificate[] = [];
    for (const [id, { listener, domains }] of wanted) {
      if (this.#managed.has(id)) continue;
      const storage = this.#storage!;
      const [key, local] = await Promise.all([storage.certificateKey(id), storage.readCertificate(id)]);
      const stored = await this.#newest(id, domains, local);
      const managed = new ManagedCertificate(id, listener, domains, stored?.key ?? key, stored);
      this.#managed.set(id, managed);
      added.push(managed);
      const { until } = managed.validity;
      if (managed.selfSigned)
        this.#log.warn(
          { listener, domains, validUntil: new Date(until).toISOString() },
          'serving a self-signed certificate while the first ACME order runs',
        );
      else
        this.#log.info(
          { listener, domains, validUntil: new Date(until).toISOString() },
          'serving the stored certificate',
        );
    }
    await this.#publishNow();
    for (const managed of added) void this.#planRenewal(managed);
    if (this.#fleet !== undefined && this.#managed.size > 0 && this.#watching === undefined)
      this.#watching = this.#watchFleet(this.#fleet);
  }

  /** The stored certificate, or the fleet's when it is newer (which then replaces the stored one). */
  async #newest(id: string, domains: readonly string[], local: StoredCertificate | undefined) {
    const shared = await this.#fleet?.read(id).catch((error: unknown) => {
      this.#log.warn({ err: error, id }, 'shared certificates unreadable (etcd away?); using the stored one');
      return undefined;
    });
    if (shared === undefined || !ManagedCertificate.covers(shared.cert, domains)) return local;
    if (local !== undefined && ManagedCertificate.notAfter(local.cert) >= ManagedCertificate.notAfter(shared.cert))
      return local;
    await this.#storage!.writeCertificate(id, shared.cert, shared.key);
    return shared;
  }

  async #watchFleet(fleet: AcmeFleet): Promise<void> {
    try {
      await fleet.watch(
        (id) => void this.#adoptShared(id),
        (challenges) => {
          this.#remote = challenges;
          void this.#publishNow().catch(() => undefined);
        },
      );
    } catch (error) {
      this.#watching = undefined;
      this.#log.warn({ err: error }, 'cannot watch the fleet for certificates; retried at the next configuration');
    }
  }

  /** Another node obtained certificate `id`: serve it when it is newer than ours. */
  async #adoptShared(id: string): Promise<boolean> {
    const managed = this.#managed.get(id);
    if (managed === undefined || this.#fleet === undefined) return false;
    const shared = await this.#fleet.read(id).catch(() => undefined);
    if (
      shared === undefined ||
      shared.cert === managed.cert ||
      !ManagedCertificate.covers(shared.cert, managed.domains)
    )
      return false;
    if (!managed.selfSigned && ManagedCertificate.notAfter(shared.cert) <= managed.validity.until) return false;
    await this.#storage!.writeCertificate(id, shared.cert, shared.key);
    managed.adopt(shared.cert, shared.key);
    await this.#publishNow();
    this.#log.info(
      { listener: managed.listener, domains: managed.domains },
      'serving the certificate another node obtained',
    );
    if (!managed.ordering) void this.#planRenewal(managed);
    return true;
  }

  /** Every managed certificate's state. */
  status(): AcmeStatus {
    return {
      directory: this.#config?.directory,
      certificates: [...this.#managed.values()].map((m) => m.status()),
    };
  }

  /** Orders certificate `id` now (`POST /api/acme/certificates/{id}/renew`); false when there is no such one. */
  renew(id: string): boolean {
    const managed = this.#managed.get(id);
    if (managed === undefined) return false;
    this.#forced.add(id);
    this.#schedule(managed, Date.now());
    return true;
  }

  /**
   * Revokes the served certificate at the CA (a key compromise, a name that is no longer ours) and orders a new one
   * at once; the revoked one is served until the new one is issued.
   */
  async revoke(id: string): Promise<boolean> {
    const managed = this.#managed.get(id);
    if (managed === undefined) return false;
    if (managed.selfSigned) throw new Error('the served certificate is the self-signed stand-in: nothing to revoke');
    const account = await this.#accountNow();
    await account.revoke(managed.cert);
    this.#log.warn({ listener: managed.listener, domains: managed.domains }, 'certificate revoked; ordering a new one');
    this.#forced.add(id);
    this.#schedule(managed, Date.now());
    return true;
  }

  /** Stops every timer; an order under way finishes but nothing new starts. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    void this.#fleet?.close();
  }

  #schedule(managed: ManagedCertificate, at: number): void {
    clearTimeout(this.#timers.get(managed.id));
    if (this.#closed) return;
    managed.nextAttemptAt = at;
    const timer = setTimeout(
      () => {
        if (this.#managed.get(managed.id) !== managed) return;
        // A wait longer than a timer takes is done in steps; each step asks the CA's renewal information again.
        if (Date.now() < at) void this.#planRenewal(managed);
        else this.#queue = this.#queue.then(() => this.#attempt(managed));
      },
      Math.min(Math.max(0, at - Date.now()), longestTimerMs),
    );
    timer.unref();
    this.#timers.set(managed.id, timer);
  }

  async #attempt(managed: ManagedCertificate): Promise<void> {
    if (this.#closed || this.#managed.get(managed.id) !== managed) return;
    const config = this.#config!;
    const startedAt = Date.now();
    managed.ordering = true;
    try {
      const order = async (): Promise<string | undefined> => {
        // Under the fleet's lock: another node may have renewed it while this one waited.
        await this.#adoptShared(managed.id);
        const forced = this.#forced.delete(managed.id);
        if (!forced && !managed.selfSigned && managed.renewalDueAt() > Date.now()) return undefined;
        const account = await this.#accountNow();
        const key = await this.#storage!.certificateKey(managed.id);
        const issued = await account.order(managed.domains, key, this.#challenge, this.#board);
        await this.#fleet?.write(managed.id, { cert: issued, key });
        return issued;
      };
      const cert = await (this.#fleet === undefined ? order() : this.#fleet.run(managed.id, order));
      if (cert === undefined) {
        void this.#planRenewal(managed);
        return;
      }
      await this.#storage!.writeCertificate(managed.id, cert);
      managed.issued(cert);
      await this.#publishNow();
      const { until } = managed.validity;
      this.#log.info(
        {
          listener: managed.listener,
          domains: managed.domains,
          validUntil: new Date(until).toISOString(),
          ms: Date.now() - startedAt,
        },
        'ACME certificate issued and served',
      );
      void this.#planRenewal(managed);
    } catch (error) {
      const waitMs = managed.failed(error, config.backoff.minMs, config.backoff.maxMs);
      if (managed.selfSigned) await this.#publishNow().catch(() => undefined);
      this.#log.error(
        { err: error, listener: managed.listener, domains: managed.domains, retryInMs: waitMs },
        'ACME order failed; the served certificate stays',
      );
      this.#account = undefined; // the CA may have been away: look the directory and account up again
      this.#schedule(managed, Date.now() + waitMs);
    } finally {
      managed.ordering = false;
    }
  }

  /**
   * Schedules the next order: at once for a stand-in; else at two thirds of the lifetime, or earlier at a random
   * moment of the window the CA suggests (ARI, RFC 9773) when it offers renewal information.
   */
  async #planRenewal(managed: ManagedCertificate): Promise<void> {
    this.#schedule(managed, managed.renewalDueAt());
    if (managed.selfSigned) return;
    const cert = managed.cert;
    const window = await this.#accountNow()
      .then((account) => account.renewalWindow(cert))
      .catch(() => undefined);
    if (window === undefined || this.#managed.get(managed.id) !== managed || managed.cert !== cert) return;
    const at = managed.renewalDueAt(pickInWindow(window));
    this.#log.info(
      { domains: managed.domains, renewAt: new Date(at).toISOString() },
      'renewal window from the CA (ARI)',
    );
    this.#schedule(managed, at);
  }

  #accountNow(): Promise<AcmeAccount> {
    const config = this.#config;
    if (config === undefined) return Promise.reject(new Error('no acme resolver is configured'));
    this.#account ??= this.#storage!.accountKey().then((key) => new AcmeAccount(config, key));
    return this.#account;
  }

  /** Challenge answers: served here at once, and with a fleet put in etcd for the other nodes first. */
  readonly #board: ChallengeBoard = {
    addHttp01: async (token, keyAuthorization) => {
      this.#http01.set(token, keyAuthorization);
      await this.#publishNow();
      await this.#spread(() => this.#fleet?.shareHttp01(token, keyAuthorization));
    },
    removeHttp01: async (token) => {
      this.#http01.delete(token);
      await this.#publishNow();
      await this.#fleet?.shareHttp01(token, undefined).catch(() => undefined);
    },
    addTlsAlpn01: async (domain, cert, key) => {
      this.#alpn.set(domain, { domain, cert, key });
      await this.#publishNow();
      await this.#spread(() => this.#fleet?.shareTlsAlpn01(domain, { cert, key }));
    },
    removeTlsAlpn01: async (domain) => {
      this.#alpn.delete(domain);
      await this.#publishNow();
      await this.#fleet?.shareTlsAlpn01(domain, undefined).catch(() => undefined);
    },
  };

  async #spread(share: () => Promise<void> | undefined): Promise<void> {
    if (this.#fleet === undefined) return;
    await share();
    await new Promise((resolve) => setTimeout(resolve, fleetSpreadMs));
  }

  #publishNow(): Promise<void> {
    const http01 = { ...Object.fromEntries(this.#remote.http01), ...Object.fromEntries(this.#http01) };
    const alpn = new Map([...this.#remote.tlsAlpn01].map(([domain, c]) => [domain, { domain, ...c }] as const));
    for (const [domain, c] of this.#alpn) alpn.set(domain, c);
    return this.#publish({
      certificates: [...this.#managed.values()].map((m) => m.material),
      http01,
      tlsAlpn01: [...alpn.values()],
    });
  }
}
