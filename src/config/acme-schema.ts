import { z } from 'zod';
import { milliseconds } from './primitives.js';

/**
 * Automatic HTTPS (docs/tls.md "Automatic certificates (ACME)"): one ACME resolver for the process; `https` listeners
 * opt in with `tls.acme`.
 */
export const acmeSchema = z.strictObject({
  /** The CA's ACME directory URL (RFC 8555 §7.1.1), e.g. Let's Encrypt's `https://acme-v02.api.letsencrypt.org/directory`. */
  directory: z.url({ protocol: /^https?$/, error: 'expected the https:// URL of an ACME directory' }),
  /** Contact address given to the CA (expiry and incident mail). */
  email: z.email().optional(),
  /** The CA's terms of service are accepted (the CA refuses an account otherwise). */
  agreeToTerms: z.boolean().refine((v) => v, "the CA's terms must be accepted (agreeToTerms: true)"),
  /** Folder for the account key, certificate keys and certificates (files mode 0600, folder 0700). */
  storage: z.string().min(1).default('./switchyard-acme'),
  /** External account binding (RFC 8555 §7.3.4), for CAs that need one (ZeroSSL, Google, most private CAs). */
  eab: z.strictObject({ kid: z.string().min(1), hmacKey: z.string().min(1) }).optional(),
  /**
   * The challenge to answer: `http-01` on the `http` listeners (port 80 as the CA sees it) or `tls-alpn-01` on the
   * `https` listener itself (port 443). Default: `http-01` when an `http` listener exists, else `tls-alpn-01`.
   */
  challenge: z.enum(['http-01', 'tls-alpn-01']).optional(),
  /** PEM file of the CA certificates to trust for the directory (a private CA); the system's when omitted. */
  directoryCa: z.string().min(1).optional(),
  /** Key of each certificate. */
  keyType: z.enum(['ecdsa-p256', 'rsa-2048']).default('ecdsa-p256'),
  /**
   * With `registry.store: etcd`: the passphrase (32+ characters, the same on every node) that encrypts certificate
   * keys shared through etcd (AES-256-GCM). Without it each node orders its own certificate (one at a time).
   */
  fleetKey: z.string().min(32, 'use at least 32 characters').optional(),
  /** Wait after a failed order: `minMs`, doubled after each failure in a row, at most `maxMs`. */
  backoff: z.strictObject({ minMs: milliseconds.default(60_000), maxMs: milliseconds.default(3_600_000) }).prefault({}),
});

/** `tls.acme` of an `https` listener: the names of one certificate Switchyard orders and renews itself. */
export const listenerAcmeSchema = z.strictObject({
  /** Host names of the certificate (its SANs; the first is its common name). Wildcards need DNS-01: not offered. */
  domains: z
    .array(
      z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/, {
        message: 'expected a host name such as www.example.com (no wildcard: it needs DNS-01)',
      }),
    )
    .min(1, 'at least one domain is needed'),
});

export type AcmeConfig = z.output<typeof acmeSchema>;
export type ListenerAcmeConfig = z.output<typeof listenerAcmeSchema>;

/** A listener that asks for ACME certificates needs the top-level `acme` resolver. */
export function acmeIssues(config: unknown): { path: (string | number)[]; message: string }[] {
  const root = (typeof config === 'object' && config !== null ? config : {}) as Record<string, unknown>;
  if (root['acme'] !== undefined) return [];
  const listeners = Array.isArray(root['listeners']) ? (root['listeners'] as unknown[]) : [];
  return listeners.flatMap((listener, i) => {
    const tls = (listener as { tls?: { acme?: unknown } } | null)?.tls;
    return tls?.acme === undefined
      ? []
      : [{ path: ['listeners', i, 'tls', 'acme'], message: 'tls.acme needs the top-level "acme" resolver' }];
  });
}
