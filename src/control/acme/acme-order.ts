import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import type * as AcmeClient from 'acme-client';
import type { AcmeConfig } from '../../config/schema.js';
import { lazyRequire } from '../../core/lazy-require.js';
import { parseRenewalWindow, renewalCertificateId, type RenewalWindow } from './renewal-info.js';

// Loaded when the first ACME account is made: a balancer without `acme` never loads the client.
const acmeClient = lazyRequire<typeof AcmeClient>('acme-client');

/** Where the order publishes the challenge answers it needs (and withdraws them once validated). */
export interface ChallengeBoard {
  /** Resolves once every data plane answers it (with workers: every worker acknowledged). */
  addHttp01(token: string, keyAuthorization: string): Promise<void>;
  removeHttp01(token: string): Promise<void>;
  addTlsAlpn01(domain: string, cert: string, key: string): Promise<void>;
  removeTlsAlpn01(domain: string): Promise<void>;
}

let directoryAgentFor: string | undefined;

/**
 * An ACME account on one CA (RFC 8555): registers (or finds, by its key) the account, and orders certificates with
 * `acme-client`'s order flow (new order, one challenge per authorization, finalize with a CSR, download). The HTTP
 * layer retries 429 and 5xx answers itself, waiting what their Retry-After says (RFC 8555 §6.6).
 */
export class AcmeAccount {
  readonly #client: AcmeClient.Client;
  readonly #config: AcmeConfig;

  constructor(config: AcmeConfig, accountKey: string) {
    this.#config = config;
    if (config.directoryCa !== undefined && directoryAgentFor !== config.directoryCa) {
      // acme-client has one axios instance per process: the resolver is one per process too.
      acmeClient().axios.defaults.httpsAgent = new Agent({ ca: readFileSync(config.directoryCa) });
      directoryAgentFor = config.directoryCa;
    }
    // Two more tries of a 429/5xx answer (or none at all), each after its Retry-After (else 2 s, then 4 s); then the
    // resolver's own back-off takes over.
    const settings = (
      acmeClient().axios.defaults as { acmeSettings?: { retryMaxAttempts: number; retryDefaultDelay: number } }
    ).acmeSettings!;
    settings.retryMaxAttempts = 2;
    settings.retryDefaultDelay = 2;
    this.#client = new (acmeClient().Client)({
      directoryUrl: config.directory,
      accountKey,
      // Polling an order or challenge still "processing": from 250 ms, doubling to 10 s (acme-client's 5 s first
      // wait made every order that was not valid at the first look take 5 s more).
      backoffMin: 250,
      backoffMax: 10_000,
      backoffAttempts: 12,
      ...(config.eab === undefined ? {} : { externalAccountBinding: config.eab }),
    });
  }

  /**
   * Orders a certificate for `domains` with `keyPem`, answering `challenge`; resolves with the PEM chain. Rejects
   * when the CA is unreachable, refuses, or a challenge fails (the CA's problem detail is the message).
   */
  async order(
    domains: readonly string[],
    keyPem: string,
    challenge: 'http-01' | 'tls-alpn-01',
    board: ChallengeBoard,
  ): Promise<string> {
    const [, csr] = await acmeClient().crypto.createCsr({ commonName: domains[0]!, altNames: [...domains] }, keyPem);
    return this.#client.auto({
      csr,
      ...(this.#config.email === undefined ? {} : { email: this.#config.email }),
      termsOfServiceAgreed: this.#config.agreeToTerms,
      challengePriority: [challenge],
      // The client's own pre-check resolves the names and dials them; the CA's validation is the one that counts.
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, ch, keyAuthorization) => {
        if (ch.type === 'http-01') return board.addHttp01(ch.token, keyAuthorization);
        // A throwaway ECDSA key (acme-client would make an RSA one, seconds each): the fleet may share it in etcd.
        const throwaway = await acmeClient().crypto.createPrivateEcdsaKey();
        const [alpnKey, alpnCert] = await acmeClient().crypto.createAlpnCertificate(authz, keyAuthorization, throwaway);
        return board.addTlsAlpn01(authz.identifier.value, alpnCert.toString(), alpnKey.toString());
      },
      challengeRemoveFn: async (authz, ch) => {
        if (ch.type === 'http-01') return board.removeHttp01(ch.token);
        return board.removeTlsAlpn01(authz.identifier.value);
      },
    });
  }

  /**
   * The CA's suggested renewal window for `certPem` (ARI, RFC 9773), or undefined when the CA offers no
   * `renewalInfo` (Pebble 2.4 does not; Let's Encrypt does) or the certificate has no authority key identifier.
   */
  async renewalWindow(certPem: string): Promise<RenewalWindow | undefined> {
    const directory = (await acmeClient().axios.get(this.#config.directory)).data as { renewalInfo?: unknown };
    const certId = renewalCertificateId(certPem);
    if (typeof directory.renewalInfo !== 'string' || certId === undefined) return undefined;
    const reply = await acmeClient().axios.get(`${directory.renewalInfo.replace(/\/$/, '')}/${certId}`);
    return reply.status === 200 ? parseRenewalWindow(reply.data) : undefined;
  }

  /** Revokes a certificate this account obtained (RFC 8555 §7.6; reason 0, unspecified, unless given). */
  async revoke(certPem: string, reason = 0): Promise<void> {
    await this.#client.revokeCertificate(certPem, { reason });
  }
}
