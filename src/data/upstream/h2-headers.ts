import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';

/**
 * Header fields that are connection-specific in HTTP/1.1 and malformed in HTTP/2 (RFC 9113 §8.2.2): never sent on a
 * stream. `host` becomes `:authority` instead (§8.3.1).
 */
const connectionSpecific = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/**
 * The header block of an HTTP/2 request to an instance from a flat `[name, value, …]` list (the forwarded HTTP/1.1 or
 * HTTP/2 request): pseudo-headers first, names lower-cased, repeated fields kept as arrays (`cookie` joined with
 * `; `, RFC 9113 §8.2.3), connection-specific fields dropped and `te` kept only as `trailers` (gRPC needs it).
 */
export function h2RequestHeaders(
  method: string,
  path: string,
  scheme: 'http' | 'https',
  defaultAuthority: string,
  flat: readonly string[],
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ':method': method, ':scheme': scheme, ':path': path };
  let authority: string | undefined;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    const value = flat[i + 1]!;
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    if (name === 'host') {
      authority ??= value;
      continue;
    }
    if (connectionSpecific.has(name)) continue;
    if (name === 'te') {
      if (/(^|,)\s*trailers\s*(;|,|$)/i.test(value)) headers.te = 'trailers';
      continue;
    }
    const seen = headers[name];
    if (seen === undefined) headers[name] = value;
    else if (name === 'cookie') headers[name] = `${String(seen)}; ${value}`;
    else if (Array.isArray(seen)) seen.push(value);
    else headers[name] = [String(seen), value];
  }
  headers[':authority'] = authority ?? defaultAuthority;
  if (method === 'CONNECT') {
    // A plain CONNECT carries neither :scheme nor :path (RFC 9113 §8.5).
    delete headers[':scheme'];
    delete headers[':path'];
  }
  return headers;
}

/**
 * A received HTTP/2 header block as the flat `Buffer` list undici's handlers get (`[name, value, …]`), pseudo-headers
 * left out; a field with several values gives one pair per value.
 */
export function rawHeaderList(headers: IncomingHttpHeaders): Buffer[] {
  const raw: Buffer[] = [];
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      for (const one of value) raw.push(Buffer.from(name, 'latin1'), Buffer.from(one, 'latin1'));
    } else raw.push(Buffer.from(name, 'latin1'), Buffer.from(String(value), 'latin1'));
  }
  return raw;
}
