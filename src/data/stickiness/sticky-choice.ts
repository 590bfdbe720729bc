import type { EndpointId } from '../../core/endpoint.js';
import type { EndpointRuntime, ServiceRuntime, StickyRuntime } from '../runtime.js';
import { presentedKey, type StickyClaim } from './sticky-keys.js';

/** What stickiness asks of one request: the endpoint it should go to, and the valid key it presented (mode `key`). */
export interface StickyChoice {
  /** Undefined when there is no preference, or the preferred endpoint may no longer take this client. */
  readonly endpoint: EndpointRuntime | undefined;
  readonly claim: StickyClaim | undefined;
}

/**
 * The endpoint stickiness asks for: the one a valid key names (`X-Sticky-Key` or the cookie), or the hash of the
 * client address or application cookie. Used by the HTTP exchange and the WebSocket tunnel alike.
 */
export function stickyChoice(
  service: ServiceRuntime,
  sticky: StickyRuntime,
  rawHeaders: readonly string[],
  clientIp: string,
  nowMs: number,
): StickyChoice {
  const { config } = sticky;
  let claim: StickyClaim | undefined;
  let id: EndpointId | undefined;
  if (config.mode === 'key') {
    const key = presentedKey(rawHeaders, config.cookie.name);
    claim = key === undefined ? undefined : sticky.keys.verify(key, nowMs);
    id = claim?.endpointId;
  } else {
    const hashKey = config.mode === 'source-ip' ? clientIp : presentedKey(rawHeaders, config.appCookie ?? '', '');
    id = hashKey === undefined || hashKey === '' ? undefined : sticky.hash?.pick({ hashKey })?.id;
  }
  const endpoint = id !== undefined && sticky.eligible.has(id) ? service.endpoints.get(id) : undefined;
  return { endpoint, claim };
}

/**
 * Appends a new key for `endpointId` to a flat `[name, value …]` header list (`Set-Cookie` and `X-Sticky-Key`),
 * unless the client presented a valid key for that very endpoint with more than half its life left (keys are renewed
 * while the client keeps coming, not on every response).
 */
export function issueStickyKey(
  headers: string[],
  endpointId: EndpointId,
  sticky: StickyRuntime,
  claim: StickyClaim | undefined,
  nowMs: number,
): void {
  const { name, ttl } = sticky.config.cookie;
  if (claim?.endpointId === endpointId && claim.expiresAt * 1000 - nowMs > (ttl * 1000) / 2) return;
  const key = sticky.keys.issue(endpointId, ttl, nowMs);
  if (key === undefined) return;
  headers.push('set-cookie', `${name}=${key}; Path=/; Max-Age=${ttl}; HttpOnly; SameSite=Lax`, 'x-sticky-key', key);
}
