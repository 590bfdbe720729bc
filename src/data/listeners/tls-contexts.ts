import { X509Certificate } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, basename } from 'node:path';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { ListenerConfig } from '../../config/schema.js';
import type { AcmeServedCertificate } from '../../core/acme-material.js';
import type { Logger } from '../../core/log.js';

type TlsConfig = NonNullable<ListenerConfig['tls']>;

/** Mozilla's "intermediate" TLS 1.2 suites (TLS 1.3 suites are OpenSSL's defaults, all AEAD). */
export const intermediateCiphers = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** What the admin API and logs say about a loaded certificate. */
export interface CertificateInfo {
  /** The certificate file as configured, or `acme:<first domain>` for a certificate the ACME resolver manages. */
  readonly file: string;
  readonly names: readonly string[];
  /** Epoch ms after which it is no longer valid. */
  readonly notAfter: number;
}

interface Loaded {
  readonly exact: ReadonlyMap<string, SecureContext>;
  /** `.example.com` → context, for `*.example.com`. */
  readonly wildcard: ReadonlyMap<string, SecureContext>;
  readonly fallback: SecureContext;
  /** The first certificate's options: the server's default context, for handshakes without SNI. */
  readonly fallbackOptions: SecureContextOptions;
  readonly certificates: readonly CertificateInfo[];
  /** Each certificate's PEM chain (for OCSP stapling). */
  readonly chains: readonly Buffer[];
}

/** Certificates expiring sooner than this are warned about when loaded. */
const expiryWarningMs = 14 * 24 * 3_600_000;

/**
 * The certificates of one TLS listener, chosen by SNI (exact name, then `*.` wildcard, then the first certificate).
 * The files are read at start and again whenever one of them changes on disk (an editor's or certbot's atomic
 * rename included) or the configuration is applied; a swap changes only the context new handshakes get, so open
 * connections are never dropped. A file that fails to load keeps the previous certificates in place.
 */
export class TlsContexts {
  readonly #log: Logger;
  #config: TlsConfig;
  #loaded: Loaded | undefined;
  #watchers: FSWatcher[] = [];
  #debounce: NodeJS.Timeout | undefined;
  #generation = 0;

  readonly #onLoad: ((defaults: SecureContextOptions) => void) | undefined;
  /** Certificates held in memory (ACME), served after the files. */
  readonly #managed: () => readonly AcmeServedCertificate[];

  /**
   * `onLoad` receives the default certificate's options after every (re)load, for the server's default context;
   * `managed` lists the ACME certificates of the listener (read on every load).
   */
  constructor(
    config: TlsConfig,
    log: Logger,
    onLoad?: (defaults: SecureContextOptions) => void,
    managed: () => readonly AcmeServedCertificate[] = () => [],
  ) {
    this.#config = config;
    this.#log = log;
    this.#onLoad = onLoad;
    this.#managed = managed;
  }

  /** Reads every certificate; rejects (and keeps what was loaded before) when one cannot be used. */
  async load(config: TlsConfig = this.#config): Promise<void> {
    // Loads may overlap (a file change and an ACME renewal): only the latest one started is put in force.
    const generation = ++this.#generation;
    const contexts: { context: SecureContext; names: readonly string[]; options: SecureContextOptions }[] = [];
    const certificates: CertificateInfo[] = [];
    const chains: Buffer[] = [];
    const entries: { cert: string; key: string; serverNames?: readonly string[] | undefined; pem?: true }[] = [
      ...config.certificates,
      ...this.#managed().map((c) => ({ cert: c.cert, key: c.key, serverNames: c.domains, pem: true as const })),
    ];
    if (entries.length === 0) throw new Error('no certificate to serve yet (the ACME resolver has published none)');
    for (const entry of entries) {
      const [cert, key] =
        entry.pem === true
          ? [Buffer.from(entry.cert), Buffer.from(entry.key)]
          : await Promise.all([readFile(entry.cert), readFile(entry.key)]);
      const options: SecureContextOptions = {
        cert,
        key,
        minVersion: config.minVersion,
        ciphers: intermediateCiphers,
        honorCipherOrder: false,
      };
      const context = createSecureContext(options);
      chains.push(cert);
      const x509 = new X509Certificate(cert);
      const names = entry.serverNames ?? namesOf(x509);
      const notAfter = Date.parse(x509.validTo);
      const file = entry.pem === true ? `acme:${names[0]}` : entry.cert;
      certificates.push({ file, names, notAfter });
      const leftMs = notAfter - Date.now();
      // Managed certificates: the ACME resolver logs their renewals and failures itself.
      if (leftMs < expiryWarningMs && entry.pem !== true) {
        const details = { file, names, notAfter: new Date(notAfter).toISOString() };
        if (leftMs <= 0) this.#log.warn(details, 'certificate has expired');
        else this.#log.warn({ ...details, daysLeft: Math.floor(leftMs / 86_400_000) }, 'certificate expires soon');
      }
      contexts.push({ context, names, options });
    }
    const exact = new Map<string, SecureContext>();
    const wildcard = new Map<string, SecureContext>();
    for (const { context, names } of contexts) {
      for (const name of names) {
        const lower = name.toLowerCase();
        if (lower.startsWith('*.')) {
          if (!wildcard.has(lower.slice(1))) wildcard.set(lower.slice(1), context);
        } else if (!exact.has(lower)) exact.set(lower, context);
      }
    }
    if (generation !== this.#generation) return;
    this.#config = config;
    this.#loaded = {
      exact,
      wildcard,
      fallback: contexts[0]!.context,
      fallbackOptions: contexts[0]!.options,
      certificates,
      chains,
    };
    this.#onLoad?.(contexts[0]!.options);
    this.#log.info(
      { certificates: certificates.map((c) => ({ file: c.file, names: c.names })) },
      'certificates loaded',
    );
  }

  /** The context for a handshake's SNI name (`SNICallback`). */
  contextFor(serverName: string | undefined): SecureContext | undefined {
    const loaded = this.#loaded;
    if (loaded === undefined) return undefined;
    if (serverName === undefined || serverName === '') return loaded.fallback;
    const name = serverName.toLowerCase();
    const exact = loaded.exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    return (dot === -1 ? undefined : loaded.wildcard.get(name.slice(dot))) ?? loaded.fallback;
  }

  get certificates(): readonly CertificateInfo[] {
    return this.#loaded?.certificates ?? [];
  }

  /** The PEM chain of every certificate loaded (OCSP stapling reads the issuer and responder from them). */
  get chains(): readonly Buffer[] {
    return this.#loaded?.chains ?? [];
  }

  /** Reloads the certificates when a file changes (watching each file's directory, so atomic saves are seen). */
  watch(): void {
    this.unwatch();
    const files = new Set(this.#config.certificates.flatMap((c) => [c.cert, c.key]));
    const directories = new Set([...files].map((file) => dirname(file)));
    const names = new Set([...files].map((file) => basename(file)));
    for (const directory of directories) {
      try {
        const watcher = watch(directory, (_event, file) => {
          if (file !== null && !names.has(file.toString())) return;
          clearTimeout(this.#debounce);
          this.#debounce = setTimeout(() => {
            this.load().catch((error: unknown) =>
              this.#log.error({ err: error }, 'certificate reload failed; the previous certificates stay'),
            );
          }, 200);
        });
        watcher.on('error', () => undefined);
        watcher.unref();
        this.#watchers.push(watcher);
      } catch (error) {
        this.#log.warn({ err: error, directory }, 'cannot watch certificate directory; reload with SIGHUP');
      }
    }
  }

  unwatch(): void {
    clearTimeout(this.#debounce);
    for (const watcher of this.#watchers) watcher.close();
    this.#watchers = [];
  }
}

/** The DNS names (and CN) a certificate is for. */
function namesOf(certificate: X509Certificate): string[] {
  const names = (certificate.subjectAltName ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4));
  if (names.length > 0) return names;
  const cn = /CN=([^\n,]+)/.exec(certificate.subject)?.[1];
  return cn === undefined ? [] : [cn];
}
