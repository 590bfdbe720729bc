import { isIPv6 } from 'node:net';
import { randomUUID } from 'node:crypto';
import { peerAddress, type RequestHead, type TrustedProxies } from '../downstream/client-address.js';

/** Request headers never forwarded (RFC 9110 §7.6.1 hop-by-hop, docs/guarantees.md §3), by lower-case name. */
const requestHopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'proxy-authorization',
  'trailer',
  // Switchyard answers `Expect: 100-continue` itself; the upstream then gets a plain request.
  'expect',
  // Replaced with Switchyard's own value (the client address it computed).
  'x-real-ip',
  // The balancer's own stickiness key: the instance has no use for it.
  'x-sticky-key',
]);

/** Response headers never forwarded to the client, by lower-case name. */
const responseHopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'trailer',
  'te',
  // An instance's report of its own load is for the balancer (least-load), not for clients.
  'x-load',
]);

/**
 * Copies a request header block for the upstream: hop-by-hop fields (and those the client's `Connection` lists) are
 * dropped; X-Forwarded-For/-Proto/-Host, X-Real-IP, Forwarded (RFC 7239) and X-Request-Id are replaced when the peer is
 * untrusted and appended to (or kept) when it is a trusted proxy; `Via: 1.1 switchyard` is appended.
 */
export function forwardRequestHeaders(
  raw: readonly string[],
  peer: string,
  proto: 'http' | 'https',
  trusted: TrustedProxies,
): RequestHead {
  const fromTrusted = trusted.trusts(peer);
  const headers: string[] = [];
  let host: string | undefined;
  let hostCount = 0;
  let connection: string | undefined;
  let hasBody = false;
  let contentLength: number | undefined;
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  let forwarded: string | undefined;
  let via: string | undefined;
  let requestId: string | undefined;
  let authority: string | undefined;
  let cookie: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (name.charCodeAt(0) === 58 /* ':' */) {
      // HTTP/2 pseudo-headers: :authority stands for Host; :method, :path and :scheme travel in the request itself.
      if (name === ':authority') authority = value;
      continue;
    }
    const lower = name.toLowerCase();
    switch (lower) {
      case 'cookie':
        // HTTP/2 may split cookies over several fields; HTTP/1.1 wants one (RFC 9113 §8.2.3).
        cookie = cookie === undefined ? value : `${cookie}; ${value}`;
        break;
      case 'host':
        hostCount++;
        host = value;
        headers.push(name, value);
        break;
      case 'content-length':
        contentLength = Number(value);
        hasBody = contentLength !== 0;
        headers.push(name, value);
        break;
      case 'transfer-encoding':
        hasBody = true;
        break;
      case 'connection':
        connection = connection === undefined ? value : `${connection}, ${value}`;
        break;
      case 'te':
        if (value.trim().toLowerCase() === 'trailers') headers.push(name, value);
        break;
      case 'x-forwarded-for':
        if (fromTrusted) forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case 'x-forwarded-proto':
        if (fromTrusted) forwardedProto ??= value;
        break;
      case 'x-forwarded-host':
        if (fromTrusted) forwardedHost ??= value;
        break;
      case 'forwarded':
        if (fromTrusted) forwarded = forwarded === undefined ? value : `${forwarded}, ${value}`;
        break;
      case 'via':
        via = via === undefined ? value : `${via}, ${value}`;
        break;
      case 'x-request-id':
        if (fromTrusted) requestId ??= value;
        break;
      default:
        if (!requestHopByHop.has(lower)) headers.push(name, value);
    }
  }
  if (authority !== undefined) {
    // An HTTP/2 request: a Host field may only repeat :authority (docs/guarantees.md §3).
    if (host !== undefined && host.toLowerCase() !== authority.toLowerCase()) hostCount++;
    if (host === undefined) headers.push('host', authority);
    host = authority;
  }
  if (cookie !== undefined) headers.push('cookie', cookie);
  const listed = connection === undefined ? undefined : listedTokens(connection);
  const kept = listed === undefined ? headers : withoutNames(headers, listed);
  const clientIp = fromTrusted && forwardedFor !== undefined ? rightmostUntrusted(forwardedFor, trusted) : peer;
  const id = requestId ?? randomUUID();
  kept.push(
    'x-forwarded-for',
    forwardedFor === undefined ? peer : `${forwardedFor}, ${peer}`,
    'x-forwarded-proto',
    forwardedProto ?? proto,
    'x-real-ip',
    clientIp,
    'forwarded',
    `${forwarded === undefined ? '' : `${forwarded}, `}${forwardedElement(peer, host, proto)}`,
    'via',
    via === undefined ? '1.1 switchyard' : `${via}, 1.1 switchyard`,
    'x-request-id',
    id,
  );
  if (host !== undefined || forwardedHost !== undefined) kept.push('x-forwarded-host', forwardedHost ?? host ?? '');
  return { headers: kept, host, duplicateHost: hostCount > 1, hasBody, contentLength, requestId: id, clientIp };
}

/**
 * Copies an upstream response header block (undici's raw buffers) for the client without hop-by-hop fields, and
 * appends `Via` and the request id.
 */
export function forwardResponseHeaders(raw: readonly Buffer[], requestId: string): string[] {
  const headers: string[] = [];
  let connection: string | undefined;
  let via: string | undefined;
  let hasRequestId = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const value = raw[i + 1]!.toString('latin1');
    const lower = name.toLowerCase();
    if (lower === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
    else if (lower === 'via') via = via === undefined ? value : `${via}, ${value}`;
    else if (!responseHopByHop.has(lower)) {
      if (lower === 'x-request-id') hasRequestId = true;
      headers.push(name, value);
    }
  }
  const listed = connection === undefined ? undefined : listedTokens(connection);
  const kept = listed === undefined ? headers : withoutNames(headers, listed);
  kept.push('via', via === undefined ? '1.1 switchyard' : `${via}, 1.1 switchyard`);
  if (!hasRequestId) kept.push('x-request-id', requestId);
  return kept;
}

/** Header names listed in `Connection` other than the usual `keep-alive`/`close` (which drop nothing extra). */
function listedTokens(connection: string): Set<string> | undefined {
  // The common values list nothing: answer them without splitting (this runs on most responses).
  if (connection.length <= 10) {
    const lower = connection.toLowerCase();
    if (lower === 'keep-alive' || lower === 'close') return undefined;
  }
  let listed: Set<string> | undefined;
  for (const token of connection.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || name === 'keep-alive' || name === 'close') continue;
    (listed ??= new Set()).add(name);
  }
  return listed;
}

function withoutNames(headers: readonly string[], names: ReadonlySet<string>): string[] {
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!names.has(headers[i]!.toLowerCase())) kept.push(headers[i]!, headers[i + 1]!);
  }
  return kept;
}

function rightmostUntrusted(forwardedFor: string, trusted: TrustedProxies): string {
  const hops = forwardedFor.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = peerAddress(hops[i]!.trim());
    if (!trusted.trusts(hop)) return hop;
  }
  return peerAddress(hops[0]!.trim());
}

const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** One RFC 7239 element: `for=…;host=…;proto=…`, IPv6 bracketed and quoted (§6). */
function forwardedElement(peer: string, host: string | undefined, proto: string): string {
  if (peer === lastElement.peer && host === lastElement.host && proto === lastElement.proto) return lastElement.value;
  const forNode = isIPv6(peer) ? `"[${peer}]"` : peer;
  const hostValue = host === undefined ? undefined : token.test(host) ? host : `"${host.replace(/["\\]/g, '\\$&')}"`;
  const value =
    hostValue === undefined ? `for=${forNode};proto=${proto}` : `for=${forNode};host=${hostValue};proto=${proto}`;
  lastElement = { peer, host, proto, value };
  return value;
}

/** The last element built: consecutive requests mostly come from the same peer for the same host. */
let lastElement: { peer: string; host: string | undefined; proto: string; value: string } = {
  peer: '',
  host: undefined,
  proto: '',
  value: '',
};
