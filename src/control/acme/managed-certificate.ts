import { X509Certificate } from 'node:crypto';
import type { AcmeServedCertificate } from '../../core/acme-material.js';
import type { StoredCertificate } from './acme-storage.js';
import { selfSignedCertificate } from './self-signed.js';

/** What the admin API and the dashboard show of one managed certificate. */
export interface AcmeCertificateStatus {
  /** The storage folder name: first domain and a hash. */
  readonly id: string;
  readonly listener: string;
  readonly domains: readonly string[];
  /**
   * `valid`: a CA-issued certificate is served; `self-signed`: the stand-in is served while the first order runs or
   * fails; `expired`: the stored one expired and no renewal succeeded yet.
   */
  readonly state: 'valid' | 'self-signed' | 'expired';
  /** True while an order for it runs. */
  readonly ordering: boolean;
  /** Epoch ms; the served certificate's notBefore / notAfter. */
  readonly validFrom: number;
  readonly validUntil: number;
  /** Epoch ms of the next order: the renewal (two thirds of the lifetime) or the retry after a failure. */
  readonly nextAttemptAt: number | undefined;
  readonly serial: string;
  readonly issuer: string;
  /** The last failure's message (the CA's problem detail), kept until an order succeeds. */
  readonly lastError?: string;
  readonly lastErrorAt?: number;
  /** Orders failed in a row. */
  readonly failures: number;
  /** Epoch ms the served CA-issued certificate was obtained by this process (undefined: loaded from storage). */
  readonly issuedAt?: number;
}

/** The lifecycle of one `tls.acme` certificate: what it serves now and when it orders next. */
export class ManagedCertificate {
  readonly id: string;
  readonly listener: string;
  readonly domains: readonly string[];
  #served: { cert: string; key: string; x509: X509Certificate; selfSigned: boolean };
  #failures = 0;
  #lastError: { message: string; at: number } | undefined;
  #issuedAt: number | undefined;
  nextAttemptAt: number | undefined;
  ordering = false;

  constructor(
    id: string,
    listener: string,
    domains: readonly string[],
    key: string,
    stored: StoredCertificate | undefined,
  ) {
    this.id = id;
    this.listener = listener;
    this.domains = domains;
    const usable = stored !== undefined && coversDomains(stored.cert, domains);
    this.#served = usable
      ? served(stored.cert, stored.key, false)
      : served(selfSignedCertificate(domains, key), key, true);
  }

  get selfSigned(): boolean {
    return this.#served.selfSigned;
  }

  /** Epoch ms of the served certificate's notBefore and notAfter. */
  get validity(): { from: number; until: number } {
    return { from: Date.parse(this.#served.x509.validFrom), until: Date.parse(this.#served.x509.validTo) };
  }

  /**
   * When to order: at once for the stand-in or an expired certificate; otherwise at two thirds of the served
   * certificate's lifetime (Let's Encrypt's advice: 60 days into 90), or earlier when the CA's renewal information says so.
   */
  renewalDueAt(suggested?: number): number {
    if (this.#served.selfSigned) return Date.now();
    const { from, until } = this.validity;
    const twoThirds = from + ((until - from) * 2) / 3;
    return suggested === undefined ? twoThirds : Math.min(twoThirds, suggested);
  }

  /** Takes a freshly issued chain (its key is the one the certificate always uses). */
  issued(cert: string): void {
    this.#served = served(cert, this.#served.key, false);
    this.#failures = 0;
    this.#lastError = undefined;
    this.#issuedAt = Date.now();
  }

  /** Takes a certificate another node of the fleet obtained, with its key. */
  adopt(cert: string, key: string): void {
    this.#served = served(cert, key, false);
    this.#failures = 0;
    this.#lastError = undefined;
  }

  /** True when `cert` is for exactly these names and has not expired. */
  static covers(cert: string, domains: readonly string[]): boolean {
    return coversDomains(cert, domains);
  }

  /** Epoch ms a chain expires (for comparing the served one with a shared one). */
  static notAfter(cert: string): number {
    return Date.parse(new X509Certificate(cert).validTo);
  }

  /** Records a failed order; returns how long to wait before the next (doubling from `minMs`, at most `maxMs`). */
  failed(error: unknown, minMs: number, maxMs: number): number {
    this.#failures++;
    this.#lastError = { message: (error as Error).message ?? String(error), at: Date.now() };
    // A stand-in close to expiry is made again, so the listener never serves an expired one of its own making.
    if (this.#served.selfSigned && this.validity.until - Date.now() < 12 * 3_600_000)
      this.#served = served(selfSignedCertificate(this.domains, this.#served.key), this.#served.key, true);
    return Math.min(maxMs, minMs * 2 ** Math.min(this.#failures - 1, 30));
  }

  /** The PEM pair the listener serves. */
  get material(): AcmeServedCertificate {
    return {
      listener: this.listener,
      domains: this.domains,
      cert: this.#served.cert,
      key: this.#served.key,
      selfSigned: this.#served.selfSigned,
    };
  }

  get cert(): string {
    return this.#served.cert;
  }

  status(): AcmeCertificateStatus {
    const { from, until } = this.validity;
    const state = this.#served.selfSigned ? 'self-signed' : until <= Date.now() ? 'expired' : 'valid';
    return {
      id: this.id,
      listener: this.listener,
      domains: this.domains,
      state,
      ordering: this.ordering,
      validFrom: from,
      validUntil: until,
      nextAttemptAt: this.nextAttemptAt,
      serial: this.#served.x509.serialNumber,
      issuer: this.#served.x509.issuer.replace(/\n/g, ', '),
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError.message, lastErrorAt: this.#lastError.at }),
      failures: this.#failures,
      ...(this.#issuedAt === undefined ? {} : { issuedAt: this.#issuedAt }),
    };
  }
}

function served(cert: string, key: string, selfSigned: boolean) {
  return { cert, key, x509: new X509Certificate(cert), selfSigned };
}

/** True when the stored certificate is for exactly these names and has not expired. */
function coversDomains(cert: string, domains: readonly string[]): boolean {
  try {
    const x509 = new X509Certificate(cert);
    if (Date.parse(x509.validTo) <= Date.now()) return false;
    const names = new Set(
      (x509.subjectAltName ?? '')
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n.startsWith('DNS:'))
        .map((n) => n.slice(4).toLowerCase()),
    );
    return domains.every((d) => names.has(d.toLowerCase()));
  } catch {
    return false;
  }
}
