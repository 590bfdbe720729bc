/**
 * Reads the TLS ClientHello a client opens with, so a `tls-passthrough` listener can route by SNI (and ALPN) without
 * terminating TLS. Pure: the listener calls it with everything received so far, and once the answer is not
 * `incomplete` it forwards ALL bytes untouched; nothing here touches a socket or throws.
 *
 * Wire formats: records RFC 8446 §5.1, ClientHello RFC 8446 §4.1.2 (RFC 5246 §7.4.1.2 for TLS 1.2 and older),
 * server_name RFC 6066 §3, ALPN RFC 7301 §3.1. With Encrypted Client Hello the name read is the outer (public) one.
 */

/** The largest ClientHello body accepted, in bytes (its handshake length field). */
export const maxClientHelloBytes = 16 * 1024;

/**
 * The most TLS records a ClientHello may be fragmented into. Real clients use one, occasionally two; the cap bounds
 * the header overhead a client can make the listener buffer.
 */
export const maxClientHelloRecords = 32;

const recordHeaderBytes = 5;
const handshakeHeaderBytes = 4;

/**
 * Upper bound on how many bytes a caller holds before {@link readClientHello} answers something other than
 * `incomplete` (all record headers at the cap, the handshake header and the largest body): a listener can size its
 * buffer with it and treat more as a bug.
 */
export const maxClientHelloWireBytes =
  maxClientHelloRecords * recordHeaderBytes + handshakeHeaderBytes + maxClientHelloBytes;

/** What a ClientHello tells a router before any TLS is terminated. */
export interface ClientHello {
  readonly kind: 'hello';
  /** The server_name host_name, lower-cased; absent when the client sent no SNI. */
  readonly serverName?: string;
  /** The ALPN protocol names in the client's order (bytes as latin1, so GREASE values survive); empty when absent. */
  readonly alpn: string[];
  /** Bytes taken by the records that carry the hello, informational: the caller forwards every byte anyway. */
  readonly length: number;
}

/** Not a ClientHello (or a malformed one): the listener closes the connection, `reason` is for the log. */
export interface InvalidClientHello {
  readonly kind: 'invalid';
  readonly reason: string;
}

/** `incomplete`: call again once more bytes have arrived, with all of them. */
export type ClientHelloResult = { readonly kind: 'incomplete' } | InvalidClientHello | ClientHello;

const handshakeContentType = 22;
const clientHelloType = 1;
const maxRecordBytes = 16 * 1024;
/** legacy_version, random, an empty session id, one cipher suite and one compression method. */
const minClientHelloBytes = 2 + 32 + 1 + 2 + 2 + 1 + 1;
const serverNameExtension = 0;
const alpnExtension = 16;

const incomplete = { kind: 'incomplete' } as const;
const invalid = (reason: string): InvalidClientHello => ({ kind: 'invalid', reason });

/**
 * Decides as early as the bytes allow: a first byte that is not a handshake record, an oversized length or a
 * handshake message other than ClientHello is `invalid` without waiting for the rest. A ClientHello fragmented over
 * several records (RFC 8446 §5.1) is reassembled; bytes after its last record (early data, a second segment) are
 * ignored.
 */
export function readClientHello(bytes: Buffer): ClientHelloResult {
  const fragments: Buffer[] = [];
  let received = 0;
  let announced = 0;
  let offset = 0;
  for (let records = 0; records < maxClientHelloRecords; records++) {
    const record = readRecordHeader(bytes, offset);
    if (record.kind !== 'record') return record;
    const start = offset + recordHeaderBytes;
    const end = start + record.length;
    const fragment = bytes.subarray(start, end);
    fragments.push(fragment);
    received += fragment.length;
    announced += record.length;
    const message = readHandshakeHeader(fragments, received);
    if (message.kind === 'invalid') return message;
    // No other handshake message may follow a ClientHello before the server answers, and a key change (early data)
    // must start on a record boundary (RFC 8446 §5.1), so the hello ends exactly where its last record does.
    if (message.kind === 'header' && announced > message.length) {
      return invalid('the record carrying the end of the ClientHello holds more handshake bytes');
    }
    if (end > bytes.length) return incomplete;
    offset = end;
    if (message.kind === 'header' && announced === message.length) {
      return readHelloBody(Buffer.concat(fragments, received).subarray(handshakeHeaderBytes), offset);
    }
  }
  return invalid(`the ClientHello spans more than ${maxClientHelloRecords} records`);
}

function readRecordHeader(
  bytes: Buffer,
  offset: number,
): { kind: 'record'; length: number } | InvalidClientHello | typeof incomplete {
  const available = bytes.length - offset;
  if (available < 1) return incomplete;
  const type = bytes[offset]!;
  if (type !== handshakeContentType) {
    return invalid(
      type & 0x80
        ? 'SSLv2-style record header (not supported)'
        : `not a TLS handshake record (content type ${type}, expected ${handshakeContentType})`,
    );
  }
  if (available < 2) return incomplete;
  if (bytes[offset + 1] !== 3) return invalid(`record version major ${bytes[offset + 1]} is not TLS (3)`);
  if (available < recordHeaderBytes) return incomplete;
  const length = bytes.readUInt16BE(offset + 3);
  // RFC 8446 §5.1: at most 2^14 bytes a record, and handshake records are never empty.
  if (length === 0 || length > maxRecordBytes)
    return invalid(`record length ${length} is outside 1..${maxRecordBytes}`);
  return { kind: 'record', length };
}

/** The handshake message's total length once its 4-byte header has arrived (possibly across records). */
function readHandshakeHeader(
  fragments: Buffer[],
  received: number,
): { kind: 'header'; length: number } | { kind: 'unknown' } | InvalidClientHello {
  if (received === 0) return { kind: 'unknown' };
  const head = Buffer.concat(fragments, Math.min(received, handshakeHeaderBytes));
  if (head[0] !== clientHelloType) return invalid(`first handshake message has type ${head[0]}, not ClientHello (1)`);
  if (head.length < handshakeHeaderBytes) return { kind: 'unknown' };
  const bodyLength = head.readUIntBE(1, 3);
  if (bodyLength > maxClientHelloBytes) {
    return invalid(`ClientHello of ${bodyLength} bytes exceeds the ${maxClientHelloBytes}-byte cap`);
  }
  if (bodyLength < minClientHelloBytes) return invalid(`ClientHello of ${bodyLength} bytes is too short`);
  return { kind: 'header', length: handshakeHeaderBytes + bodyLength };
}

/** RFC 8446 §4.1.2 field by field; every length is checked against what encloses it. */
function readHelloBody(body: Buffer, length: number): ClientHelloResult {
  const hello = new Cursor(body);
  const version = hello.u16();
  if (version === undefined || version >> 8 !== 3) return invalid('ClientHello legacy_version is not TLS');
  if (!hello.skip(32)) return invalid('ClientHello random is truncated');
  const sessionId = hello.vector(1);
  if (sessionId === undefined || sessionId.remaining > 32) return invalid('malformed legacy_session_id');
  const suites = hello.vector(2);
  if (suites === undefined || suites.remaining < 2 || suites.remaining % 2 !== 0) {
    return invalid('malformed cipher_suites');
  }
  const compression = hello.vector(1);
  if (compression === undefined || compression.remaining < 1) return invalid('malformed compression_methods');
  // RFC 5246 §7.4.1.2: extensions are optional, a hello without them simply ends here.
  if (hello.remaining === 0) return { kind: 'hello', alpn: [], length };
  const extensions = hello.vector(2);
  if (extensions === undefined || hello.remaining !== 0) {
    return invalid('the extensions length does not match the ClientHello length');
  }
  const found = readExtensions(extensions);
  if ('reason' in found) return found;
  return {
    kind: 'hello',
    ...(found.serverName === undefined ? {} : { serverName: found.serverName }),
    alpn: found.alpn,
    length,
  };
}

function readExtensions(extensions: Cursor): { serverName?: string; alpn: string[] } | InvalidClientHello {
  const seen = new Set<number>();
  let serverName: string | undefined;
  let alpn: string[] = [];
  while (extensions.remaining > 0) {
    const type = extensions.u16();
    const data = extensions.vector(2);
    if (type === undefined || data === undefined) return invalid('an extension overruns the extensions block');
    // RFC 8446 §4.2 (RFC 5246 §7.4.1.4): no extension type appears twice.
    if (seen.has(type)) return invalid(`extension ${type} appears twice`);
    seen.add(type);
    if (type === serverNameExtension) {
      const name = readServerName(data);
      if (typeof name !== 'string') return name;
      serverName = name;
    } else if (type === alpnExtension) {
      const protocols = readAlpn(data);
      if (!Array.isArray(protocols)) return protocols;
      alpn = protocols;
    }
  }
  return serverName === undefined ? { alpn } : { serverName, alpn };
}

/**
 * RFC 6066 §3. Like OpenSSL, exactly one host_name entry is accepted: the list was meant to be extensible, but
 * entries of unknown types cannot be skipped reliably and several host names have no meaning.
 */
function readServerName(data: Cursor): string | InvalidClientHello {
  const list = data.vector(2);
  if (list === undefined || data.remaining !== 0) return invalid('the server_name list length is malformed');
  const nameType = list.u8();
  const name = list.vector(2);
  if (nameType !== 0 || name === undefined || list.remaining !== 0) {
    return invalid('server_name must hold exactly one host_name');
  }
  return readHostName(name.rest());
}

/**
 * A DNS-style name in ASCII: letters, digits, `-`, `_` and dots between non-empty labels of at most 63 bytes, 253 in
 * all, no trailing dot (RFC 6066 §3). Anything else, control characters above all, never reaches a log or a route.
 */
function readHostName(bytes: Buffer): string | InvalidClientHello {
  if (bytes.length === 0 || bytes.length > 253) return invalid(`server_name of ${bytes.length} bytes`);
  for (const byte of bytes) {
    const allowed =
      (byte >= 0x61 && byte <= 0x7a) || // a-z
      (byte >= 0x41 && byte <= 0x5a) || // A-Z
      (byte >= 0x30 && byte <= 0x39) || // 0-9
      byte === 0x2d || // -
      byte === 0x5f || // _
      byte === 0x2e; // .
    if (!allowed) return invalid(`server_name contains byte 0x${byte.toString(16).padStart(2, '0')}`);
  }
  const name = bytes.toString('latin1').toLowerCase();
  if (name.split('.').some((label) => label.length === 0 || label.length > 63)) {
    return invalid('server_name has an empty or over-long label');
  }
  return name;
}

/** RFC 7301 §3.1: a non-empty list of non-empty protocol names. */
function readAlpn(data: Cursor): string[] | InvalidClientHello {
  const list = data.vector(2);
  if (list === undefined || data.remaining !== 0 || list.remaining === 0) {
    return invalid('the ALPN protocol list length is malformed');
  }
  const protocols: string[] = [];
  while (list.remaining > 0) {
    const name = list.vector(1);
    if (name === undefined || name.remaining === 0) return invalid('an ALPN protocol name is empty or overruns');
    protocols.push(name.rest().toString('latin1'));
  }
  return protocols;
}

/** A bounds-checked reader over part of a buffer: a read past the end returns undefined instead of throwing. */
class Cursor {
  readonly #bytes: Buffer;
  readonly #end: number;
  #offset: number;

  constructor(bytes: Buffer, offset = 0, end = bytes.length) {
    this.#bytes = bytes;
    this.#offset = offset;
    this.#end = end;
  }

  get remaining(): number {
    return this.#end - this.#offset;
  }

  u8(): number | undefined {
    if (this.remaining < 1) return undefined;
    return this.#bytes[this.#offset++];
  }

  u16(): number | undefined {
    if (this.remaining < 2) return undefined;
    const value = this.#bytes.readUInt16BE(this.#offset);
    this.#offset += 2;
    return value;
  }

  skip(count: number): boolean {
    if (this.remaining < count) return false;
    this.#offset += count;
    return true;
  }

  /** A length-prefixed vector (RFC 8446 §3.4) as a cursor over its contents; undefined when it overruns. */
  vector(lengthBytes: 1 | 2): Cursor | undefined {
    const length = lengthBytes === 1 ? this.u8() : this.u16();
    if (length === undefined || length > this.remaining) return undefined;
    const inner = new Cursor(this.#bytes, this.#offset, this.#offset + length);
    this.#offset += length;
    return inner;
  }

  /** The unread bytes (a view, not a copy). */
  rest(): Buffer {
    const rest = this.#bytes.subarray(this.#offset, this.#end);
    this.#offset = this.#end;
    return rest;
  }
}
