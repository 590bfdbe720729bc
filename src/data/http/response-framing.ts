import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * What the proxy does to a client's response beyond head and body: 1xx heads, trailers, and a cut that no client can
 * take for a complete response.
 */

/** An informational response's fields as the flat string list `writeEarlyHints` and `writeHead` take. */
function pairsOf(raw: readonly Buffer[]): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    const seen = fields[name];
    if (seen === undefined) fields[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else fields[name] = [seen, value];
  }
  return fields;
}

/**
 * Passes an instance's 1xx on to the client (RFC 9110 §15.2: a proxy forwards them): `103 Early Hints` with its
 * `Link` fields, on HTTP/1.1 and HTTP/2 alike. A `100 Continue` is dropped: Switchyard answers `Expect` itself and the
 * instance got a plain request, so an unsolicited 100 means nothing to the client (and must not fail the request);
 * `101` is never informational here (upgrades take their own path) and `102` is obsolete (RFC 9110 §15.2).
 */
export function forwardInformational(res: ServerResponse, statusCode: number, rawHeaders: readonly Buffer[]): void {
  if (statusCode !== 103 || res.headersSent || res.destroyed) return;
  const fields = pairsOf(rawHeaders);
  const link = fields.link;
  if (link === undefined) return;
  try {
    const { link: _link, ...rest } = fields;
    res.writeEarlyHints({ link, ...rest });
  } catch {
    // A field Node refuses in a 1xx: the hint is only an optimisation, the final response still follows.
  }
}

/** True when the client can receive trailers: always on HTTP/2, on HTTP/1.1 only with `TE: trailers` (RFC 9110 §10.1.4). */
export function acceptsTrailers(req: IncomingMessage): boolean {
  if (req.httpVersionMajor === 2) return true;
  const te = req.headers.te;
  return typeof te === 'string' && /(^|,)\s*trailers\s*(;|,|$)/i.test(te);
}

/** Fields never forwarded as trailers (RFC 9110 §6.5.1: framing, routing, authentication and control data). */
const forbiddenTrailers = new Set([
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'content-type',
  'content-encoding',
  'set-cookie',
  'authorization',
]);

/**
 * Adds the instance's trailers to the client's response when the client accepts them and the response can carry them
 * (HTTP/2, or chunked HTTP/1.1: a response framed by Content-Length has no room for trailers). Returns the trailer
 * fields as a record (for the gRPC status), or undefined when there were none.
 */
export function forwardTrailers(
  req: IncomingMessage,
  res: ServerResponse,
  raw: readonly (Buffer | string)[] | null | undefined,
): Record<string, string | string[]> | undefined {
  if (raw === null || raw === undefined || raw.length === 0) return undefined;
  const fields = pairsOf(raw.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : part)));
  for (const name of Object.keys(fields)) if (forbiddenTrailers.has(name) || name.startsWith(':')) delete fields[name];
  const framedByLength = req.httpVersionMajor !== 2 && res.hasHeader('content-length');
  if (Object.keys(fields).length > 0 && acceptsTrailers(req) && !framedByLength) {
    try {
      res.addTrailers(fields);
    } catch {
      // A trailer Node refuses (invalid characters): the body is whole, the trailers are dropped.
    }
  }
  return fields;
}

/**
 * Ends a response that cannot be completed (the instance died mid-body, a body timeout): HTTP/1.1 closes the
 * connection; HTTP/2 resets the stream with INTERNAL_ERROR. Never a clean end: destroying an HTTP/2 response without
 * an error would send RST_STREAM NO_ERROR, which clients take for the end of a complete body (RFC 9113 §8.1.1).
 */
export function cutResponse(res: ServerResponse): void {
  const stream = (res as { stream?: { destroyed: boolean; destroy(error: Error): void } }).stream;
  if (stream === undefined) {
    res.destroy();
    return;
  }
  // Not `close(INTERNAL_ERROR)`: that ends the writable side first (DATA with END_STREAM), then resets.
  // `destroy(error)` resets at once with INTERNAL_ERROR.
  if (!stream.destroyed) stream.destroy(cutError);
}

const cutError = Object.assign(new Error('the upstream response was cut'), { code: 'SY_RESPONSE_CUT' });
