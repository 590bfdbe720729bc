import type { AcmeConfig, SwitchyardConfig } from '../../config/schema.js';
import type { AcmeAlpnChallenge, AcmeMaterial } from '../../core/acme-material.js';
import type { Logger } from '../../core/log.js';
import { AcmeAccount, type ChallengeBoard } from './acme-order.js';
import { AcmeStorage, certificateId } from './acme-storage.js';
import { ManagedCertificate, type AcmeCertificateStatus } from './managed-certificate.js';

/** Serialises orders: in one process a queue; with the etcd store, a lock in etcd so one node of the fleet orders. */
export interface OrderLock {
  /** Runs `order` while holding the lock for certificate `id`. */
  run<T>(id: string, order: () => Promise<T>): Promise<T>;
}

/** What `GET /api/acme` answers. */
export interface AcmeStatus {
  readonly directory: string | undefined;
  readonly certificates: readonly AcmeCertificateStatus[];
}

export interface AcmeResolverOptions {
  readonly log: Logger;
  /** Hands the data plane new material; resolves once it is served (with workers: by every worker). */
  readonly publish: (material: AcmeMaterial) => Promise<void>;
  readonly lock?: OrderLock;
}

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
  readonly #lock: OrderLock | undefined;
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
    this.#lock = options.lock;
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
      const [key, stored] = await Promise.all([storage.certificateKey(id), storage.readCertificate(id)]);
      const managed = new ManagedCertificate(id, listener, domains, key, stored);
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
    for (const managed of added) this.#schedule(managed, managed.renewalDueAt());
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
    this.#schedule(managed, Date.now());
    return true;
  }

  /** Stops every timer; an order under way finishes but nothing new starts. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  #schedule(managed: ManagedCertificate, at: number): void {
    clearTimeout(this.#timers.get(managed.id));
    if (this.#closed) return;
    managed.nextAttemptAt = at;
    const timer = setTimeout(
      () => {
        if (this.#managed.get(managed.id) !== managed) return;
        if (Date.now() < at) this.#schedule(managed, at);
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
      const order = async (): Promise<string> => {
        const account = await this.#accountNow();
        const key = await this.#storage!.certificateKey(managed.id);
        return account.order(managed.domains, key, this.#challenge, this.#board);
      };
      const cert = await (this.#lock === undefined ? order() : this.#lock.run(managed.id, order));
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
      this.#schedule(managed, managed.renewalDueAt());
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

  #accountNow(): Promise<AcmeAccount> {
    const config = this.#config;
    if (config === undefined) return Promise.reject(new Error('no acme resolver is configured'));
    this.#account ??= this.#storage!.accountKey().then((key) => new AcmeAccount(config, key));
    return this.#account;
  }

  readonly #board: ChallengeBoard = {
    addHttp01: (token, keyAuthorization) => {
      this.#http01.set(token, keyAuthorization);
      return this.#publishNow();
    },
    removeHttp01: (token) => {
      this.#http01.delete(token);
      return this.#publishNow();
    },
    addTlsAlpn01: (domain, cert, key) => {
      this.#alpn.set(domain, { domain, cert, key });
      return this.#publishNow();
    },
    removeTlsAlpn01: (domain) => {
      this.#alpn.delete(domain);
      return this.#publishNow();
    },
  };

  #publishNow(): Promise<void> {
    return this.#publish({
      certificates: [...this.#managed.values()].map((m) => m.material),
      http01: Object.fromEntries(this.#http01),
      tlsAlpn01: [...this.#alpn.values()],
    });
  }
}
