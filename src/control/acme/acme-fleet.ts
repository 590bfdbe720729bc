import { createCipheriv, createDecipheriv, randomBytes, scryptSync, X509Certificate } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3, Watcher } from 'etcd3';
import type { SwitchyardConfig } from '../../config/schema.js';
import { createEtcdClient } from '../registry/etcd-client.js';
import type { Logger } from '../../core/log.js';

/** Serialises orders across a fleet: a lock in etcd so that one node orders a certificate at a time. */
export interface OrderLock {
  /** Runs `order` while holding the lock for certificate `id`. */
  run<T>(id: string, order: () => Promise<T>): Promise<T>;
}

/** A certificate one node of the fleet obtained, as every node may serve it. */
export interface SharedCertificate {
  readonly cert: string;
  readonly key: string;
}

/** What the fleet shares about pending challenges: any node may be the one the CA connects to. */
export interface SharedChallenges {
  readonly http01: ReadonlyMap<string, string>;
  readonly tlsAlpn01: ReadonlyMap<string, { readonly cert: string; readonly key: string }>;
}

/**
 * The ACME side of a fleet on etcd: a lock per certificate so that one node orders at a time, the issued certificates
 * (their private keys encrypted with `acme.fleetKey`, AES-256-GCM: never in clear in etcd), and the pending challenges
 * (public by design: an HTTP-01 key authorization is served in clear to anyone; a TLS-ALPN-01 certificate has a
 * throwaway key), all under `<prefix>acme/`.
 */
export interface AcmeFleet extends OrderLock {
  /** The shared certificate `id`, or undefined (none, or not decryptable with this node's key). */
  read(id: string): Promise<SharedCertificate | undefined>;
  write(id: string, shared: SharedCertificate): Promise<void>;
  /** Puts a challenge answer for the other nodes (on a lease of a few minutes); `undefined` withdraws it. */
  shareHttp01(token: string, keyAuthorization: string | undefined): Promise<void>;
  shareTlsAlpn01(domain: string, challenge: { cert: string; key: string } | undefined): Promise<void>;
  /** Calls back on every change another node makes: a certificate `id`, or the challenges as they now are. */
  watch(onCertificate: (id: string) => void, onChallenges: (challenges: SharedChallenges) => void): Promise<void>;
  close(): Promise<void>;
}

/** How long a lock holder may go silent before etcd frees the lock (its lease). */
const lockTtlSeconds = 30;
const challengeTtlSeconds = 300;

interface EncryptedKey {
  readonly alg: 'aes-256-gcm';
  readonly iv: string;
  readonly tag: string;
  readonly data: string;
}

/** `AcmeFleet` on an etcd3 client. */
export class EtcdAcmeFleet implements AcmeFleet {
  readonly #client: Etcd3;
  /** True when `close()` closes the client too (it was made for this fleet). */
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  /** Undefined without `acme.fleetKey`: certificates are then not shared (each node orders its own). */
  readonly #key: Buffer | undefined;
  readonly #log: Logger;
  #watchers: Watcher[] = [];
  readonly #http01 = new Map<string, string>();
  readonly #alpn = new Map<string, { cert: string; key: string }>();

  /**
   * `fleetKey`: the passphrase every node shares (scrypt, salted with the prefix, makes the AES key); without it
   * only the lock and the challenges are shared.
   */
  constructor(client: Etcd3, prefix: string, fleetKey: string | undefined, log: Logger, ownsClient = false) {
    this.#client = client;
    this.#ownsClient = ownsClient;
    this.#prefix = `${prefix.replace(/\/?$/, '/')}acme/`;
    this.#key = fleetKey === undefined ? undefined : scryptSync(fleetKey, `switchyard-acme:${prefix}`, 32);
    this.#log = log;
  }

  /**
   * A lease-backed key created only if absent (the etcd recipe etcd3's `Lock` follows, with a JSON value so that the
   * registry store's watch on the same prefix reads it as an unknown key, not as garbage). The lease is kept alive
   * while the order runs; a node that dies frees the lock within `lockTtlSeconds`.
   */
  async run<T>(id: string, order: () => Promise<T>): Promise<T> {
    const key = `${this.#prefix}locks/${id}`;
    for (;;) {
      const lease = this.#client.lease(lockTtlSeconds);
      lease.on('lost', () => this.#log.warn({ id }, 'the ACME order lock lease was lost'));
      const leaseId = await lease.grant();
      const taken = await this.#client
        .if(key, 'Create', '==', 0)
        .then(
          this.#client
            .put(key)
            .value(JSON.stringify({ pid: process.pid, at: Date.now() }))
            .lease(leaseId),
        )
        .commit();
      if (!taken.succeeded) {
        await lease.revoke().catch(() => undefined);
        await sleep(500 + Math.random() * 500); // another node orders this certificate now
        continue;
      }
      try {
        return await order();
      } finally {
        await lease.revoke().catch(() => undefined);
      }
    }
  }

  async read(id: string): Promise<SharedCertificate | undefined> {
    if (this.#key === undefined) return undefined;
    const text = await this.#client.get(`${this.#prefix}certificates/${id}`).string();
    if (text === null) return undefined;
    try {
      const stored = JSON.parse(text) as { cert: string; key: EncryptedKey };
      new X509Certificate(stored.cert);
      return { cert: stored.cert, key: this.#decrypt(stored.key) };
    } catch (error) {
      this.#log.error({ err: error, id }, 'shared certificate not usable (another acme.fleetKey?); ordering locally');
      return undefined;
    }
  }

  async write(id: string, shared: SharedCertificate): Promise<void> {
    if (this.#key === undefined) return;
    const value = JSON.stringify({ cert: shared.cert, key: this.#encrypt(shared.key) });
    await this.#client.put(`${this.#prefix}certificates/${id}`).value(value);
  }

  async shareHttp01(token: string, keyAuthorization: string | undefined): Promise<void> {
    const key = `${this.#prefix}challenges/http-01/${token}`;
    if (keyAuthorization === undefined) await this.#client.delete().key(key);
    else
      await this.#client
        .lease(challengeTtlSeconds, { autoKeepAlive: false })
        .put(key)
        .value(JSON.stringify(keyAuthorization));
  }

  async shareTlsAlpn01(domain: string, challenge: { cert: string; key: string } | undefined): Promise<void> {
    const key = `${this.#prefix}challenges/tls-alpn-01/${domain}`;
    if (challenge === undefined) await this.#client.delete().key(key);
    else
      await this.#client.lease(challengeTtlSeconds, { autoKeepAlive: false }).put(key).value(JSON.stringify(challenge));
  }

  async watch(
    onCertificate: (id: string) => void,
    onChallenges: (challenges: SharedChallenges) => void,
  ): Promise<void> {
    const certificates = await this.#client.watch().prefix(`${this.#prefix}certificates/`).create();
    certificates.on('put', (kv) => onCertificate(kv.key.toString().slice(`${this.#prefix}certificates/`.length)));
    const challengePrefix = `${this.#prefix}challenges/`;
    const apply = (key: string, value: string | undefined): void => {
      const rest = key.slice(challengePrefix.length);
      if (rest.startsWith('http-01/')) {
        if (value === undefined) this.#http01.delete(rest.slice(8));
        else this.#http01.set(rest.slice(8), JSON.parse(value) as string);
      } else if (rest.startsWith('tls-alpn-01/')) {
        if (value === undefined) this.#alpn.delete(rest.slice(12));
        else this.#alpn.set(rest.slice(12), JSON.parse(value) as { cert: string; key: string });
      }
      onChallenges({ http01: this.#http01, tlsAlpn01: this.#alpn });
    };
    const challenges = await this.#client.watch().prefix(challengePrefix).create();
    challenges.on('put', (kv) => apply(kv.key.toString(), kv.value.toString()));
    challenges.on('delete', (kv) => apply(kv.key.toString(), undefined));
    for (const watcher of [certificates, challenges])
      watcher.on('error', (error) => this.#log.warn({ err: error }, 'acme fleet watch error; it reconnects'));
    this.#watchers = [certificates, challenges];
  }

  async close(): Promise<void> {
    await Promise.all(this.#watchers.map((w) => w.cancel().catch(() => undefined)));
    this.#watchers = [];
    if (this.#ownsClient) this.#client.close();
  }

  #encrypt(plain: string): EncryptedKey {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key!, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return {
      alg: 'aes-256-gcm',
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
  }

  #decrypt(sealed: EncryptedKey): string {
    const decipher = createDecipheriv('aes-256-gcm', this.#key!, Buffer.from(sealed.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
  }
}

/**
 * The fleet of `registry.store: etcd` (a client on the registry's endpoints, prefix, credentials and TLS), or
 * undefined for a single node. Only when some listener has `tls.acme`.
 */
export function acmeFleetFrom(config: SwitchyardConfig, log: Logger): AcmeFleet | undefined {
  const etcd = config.registry.etcd;
  if (config.registry.store !== 'etcd' || etcd === undefined || config.acme === undefined) return undefined;
  if (!config.listeners.some((l) => l.tls?.acme !== undefined)) return undefined;
  const acmeLog = log.child({ component: 'acme' });
  if (config.acme.fleetKey === undefined)
    acmeLog.warn('acme on an etcd fleet without acme.fleetKey: each node orders its own certificates, one at a time');
  return new EtcdAcmeFleet(createEtcdClient(etcd), etcd.prefix, config.acme.fleetKey, acmeLog, true);
}
