import { createHmac, timingSafeEqual } from 'node:crypto';
import type { EndpointId } from '../../core/endpoint.js';

/** A verified stickiness key: the endpoint it names and when it expires (epoch seconds). */
export interface StickyClaim {
  readonly endpointId: EndpointId;
  readonly expiresAt: number;
}

/** Bytes of HMAC-SHA256 kept in a key's signature (128 bits) and in an endpoint tag (72 bits). */
const signatureBytes = 16;
const tagBytes = 9;

interface Secret {
  readonly id: string;
  readonly secret: string;
}

/**
 * Signs and verifies stickiness keys: `<key id>.<expiry, base36 seconds>.<endpoint tag>.<signature>`. The tag is an
 * HMAC of the service and endpoint id, so a key reveals nothing of the cluster's addresses; the signature is an
 * HMAC-SHA256 over key id, expiry and tag. Any node holding the secret honours a key; nobody without it can make one
 * that names an endpoint of their choosing. Secrets rotate: the first signs, every one verifies.
 */
export class StickyKeys {
  readonly #signing: Secret;
  readonly #secrets: ReadonlyMap<string, string>;

  constructor(secrets: readonly Secret[]) {
    const first = secrets[0];
    if (first === undefined) throw new Error('stickiness needs at least one secret');
    this.#signing = first;
    this.#secrets = new Map(secrets.map((s) => [s.id, s.secret]));
  }

  /** The keys of one service's endpoints (compiled once per snapshot: one HMAC per endpoint and secret). */
  forService(service: string, endpointIds: Iterable<EndpointId>): ServiceStickyKeys {
    const byTag = new Map<string, EndpointId>();
    const tags = new Map<EndpointId, string>();
    for (const id of endpointIds) {
      for (const [keyId, secret] of this.#secrets) byTag.set(`${keyId}.${tag(secret, service, id)}`, id);
      tags.set(id, tag(this.#signing.secret, service, id));
    }
    return new ServiceStickyKeys(this.#signing, this.#secrets, byTag, tags);
  }
}

/** Issues and verifies the keys of one service. */
export class ServiceStickyKeys {
  constructor(
    readonly signing: Secret,
    readonly secrets: ReadonlyMap<string, string>,
    readonly byTag: ReadonlyMap<string, EndpointId>,
    readonly tags: ReadonlyMap<EndpointId, string>,
  ) {}

  /** A key for `endpointId`, valid for `ttlSeconds` from `nowMs`; undefined for an endpoint it does not know. */
  issue(endpointId: EndpointId, ttlSeconds: number, nowMs: number): string | undefined {
    const endpointTag = this.tags.get(endpointId);
    if (endpointTag === undefined) return undefined;
    const expiry = (Math.floor(nowMs / 1000) + ttlSeconds).toString(36);
    const signature = sign(this.signing.secret, this.signing.id, expiry, endpointTag);
    return `${this.signing.id}.${expiry}.${endpointTag}.${signature.toString('base64url')}`;
  }

  /** The claim of a genuine, unexpired key naming a known endpoint; undefined for anything else. */
  verify(key: string, nowMs: number): StickyClaim | undefined {
    const parts = key.split('.');
    if (parts.length !== 4) return undefined;
    const [keyId = '', expiry = '', endpointTag = '', signature = ''] = parts;
    const secret = this.secrets.get(keyId);
    if (secret === undefined || !/^[0-9a-z]{1,10}$/.test(expiry)) return undefined;
    const expiresAt = parseInt(expiry, 36);
    if (expiresAt * 1000 <= nowMs) return undefined;
    const presented = Buffer.from(signature, 'base64url');
    // Only the canonical encoding is accepted, so one key has exactly one spelling.
    if (presented.length !== signatureBytes || presented.toString('base64url') !== signature) return undefined;
    if (!timingSafeEqual(presented, sign(secret, keyId, expiry, endpointTag))) return undefined;
    const endpointId = this.byTag.get(`${keyId}.${endpointTag}`);
    return endpointId === undefined ? undefined : { endpointId, expiresAt };
  }
}

function tag(secret: string, service: string, endpointId: EndpointId): string {
  return createHmac('sha256', secret)
    .update(`endpoint\n${service}\n${endpointId}`)
    .digest()
    .subarray(0, tagBytes)
    .toString('base64url');
}

function sign(secret: string, keyId: string, expiry: string, endpointTag: string): Buffer {
  return createHmac('sha256', secret)
    .update(`key\n${keyId}\n${expiry}\n${endpointTag}`)
    .digest()
    .subarray(0, signatureBytes);
}

/**
 * The key a request presents: the `X-Sticky-Key` header, else the stickiness cookie (SPEC.md "On the wire");
 * `cookieName` may also be an application's session cookie.
 */
export function presentedKey(
  rawHeaders: readonly string[],
  cookieName: string,
  header = 'x-sticky-key',
): string | undefined {
  let fromCookie: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name === header) return rawHeaders[i + 1]!.trim();
    if (name === 'cookie' && fromCookie === undefined) fromCookie = cookieValue(rawHeaders[i + 1]!, cookieName);
  }
  return fromCookie;
}

/** The value of one cookie in a `Cookie` header (RFC 6265 §5.4), or undefined. */
export function cookieValue(header: string, name: string): string | undefined {
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    const value = pair.slice(eq + 1).trim();
    return value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value;
  }
  return undefined;
}
