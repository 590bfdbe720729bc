import { X509Certificate } from 'node:crypto';
import { children, objectIdentifier, readElement } from '../../core/der.js';

/** The window a CA suggests for renewing one certificate (RFC 9773, ACME Renewal Information), epoch ms. */
export interface RenewalWindow {
  readonly start: number;
  readonly end: number;
}

const authorityKeyIdentifier = objectIdentifier('2.5.29.35');

/**
 * The ARI certificate identifier (RFC 9773 §4.1): base64url of the authority key identifier, a dot, base64url of the
 * serial number's DER content octets. Undefined for a certificate without an authority key identifier.
 */
export function renewalCertificateId(certPem: string): string | undefined {
  const der = new X509Certificate(certPem).raw;
  const tbs = children(children(readElement(der).content)[0]!.content);
  const offset = tbs[0]!.tag === 0xa0 ? 1 : 0;
  const serial = tbs[offset]!.content;
  const extensions = tbs.find((e) => e.tag === 0xa3);
  if (extensions === undefined) return undefined;
  for (const extension of children(readElement(extensions.content).content)) {
    const [id, ...rest] = children(extension.content);
    if (id === undefined || !id.raw.equals(authorityKeyIdentifier)) continue;
    const value = rest.at(-1)!.content; // OCTET STRING holding AuthorityKeyIdentifier
    const keyIdentifier = children(readElement(value).content).find((e) => e.tag === 0x80);
    if (keyIdentifier === undefined) return undefined;
    return `${keyIdentifier.content.toString('base64url')}.${serial.toString('base64url')}`;
  }
  return undefined;
}

/** Reads `suggestedWindow` of a renewalInfo answer; undefined when it is missing or malformed. */
export function parseRenewalWindow(body: unknown): RenewalWindow | undefined {
  const window = (body as { suggestedWindow?: { start?: unknown; end?: unknown } } | null)?.suggestedWindow;
  const start = typeof window?.start === 'string' ? Date.parse(window.start) : NaN;
  const end = typeof window?.end === 'string' ? Date.parse(window.end) : NaN;
  return Number.isFinite(start) && Number.isFinite(end) && end >= start ? { start, end } : undefined;
}

/** A moment in the window, uniformly at random (RFC 9773 §4.2: spread the fleet's renewals over it). */
export function pickInWindow(window: RenewalWindow, random = Math.random): number {
  return window.start + Math.floor((window.end - window.start) * random());
}
