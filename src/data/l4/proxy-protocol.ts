/**
 * The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): the header a proxy puts in front of a TCP
 * stream so the next hop learns the original client address. Pure: the `tcp` and `tls-passthrough` listeners feed
 * {@link readProxyHeader} everything received so far and pass on the bytes after `length`; upstream connections
 * start with {@link encodeProxyHeader}.
 *
 * Hand-written rather than built on proxy-protocol-js 4.0.6: that library parses complete buffers only (the stream
 * framing would be ours anyway), rejects the spec's `PROXY UNKNOWN\r\n`, accepts any word as an address and ports
 * above 65535, ignores the v2 length field (TLVs leak into the payload) and throws non-Error values.
 */

/** One end of a proxied connection, as `net.Socket` reports it. */
export interface ProxyAddress {
  readonly address: string;
  readonly port: number;
}

/** A complete, valid header: what the sender says about the connection. */
export interface ProxyHeader {
  readonly kind: 'header';
  readonly version: 1 | 2;
  /**
   * `proxy`: the addresses are the original client's. `local`: the proxy opened the connection itself (a health
   * check; v1 `UNKNOWN`), so the receiver uses the real socket addresses.
   */
  readonly command: 'proxy' | 'local';
  /**
   * Absent for `local`, and for a v2 `proxy` header of family AF_UNSPEC or AF_UNIX (the spec lets a receiver fall back
   * to the real addresses for families it does not implement). IPv6 in RFC 5952 form, IPv4-mapped as `::ffff:a.b.c.d`.
   */
  readonly source?: ProxyAddress;
  readonly destination?: ProxyAddress;
  /** Bytes of the header: the stream's own data starts at this offset. */
  readonly length: number;
}

/** Not a PROXY header: the spec says drop the connection (§2.1); `reason` is for the log. */
export interface InvalidProxyHeader {
  readonly kind: 'invalid';
  readonly reason: string;
}

/** `incomplete`: call again once more bytes have arrived, with all of them. */
export type ProxyHeaderResult = { readonly kind: 'incomplete' } | InvalidProxyHeader | ProxyHeader;

/** The longest v1 line, CRLF included (`PROXY UNKNOWN` with two full IPv6 addresses and ports, spec §2.1). */
export const maxProxyV1Bytes = 107;

/**
 * The largest v2 address-and-TLV block accepted (the header is 16 bytes more). The spec allows 65535; addresses take
 * at most 216 and the registered TLVs (ALPN, authority, unique id ≤ 128, SSL with CN, cloud vendors' ids) fit many
 * times in 4 KiB, while 64 KiB a connection would let a client pin a lot of memory before a byte is forwarded.
 */
export const maxProxyV2PayloadBytes = 4096;

const v1Prefix = Buffer.from('PROXY ', 'latin1');
const v2Signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const v2HeaderBytes = 16;
const cr = 0x0d;
const lf = 0x0a;
/** The family-and-transport bytes the spec lists (§2.2); every other value must be rejected. */
const v2AddressBytes = new Map([
  [0x00, 0],
  [0x11, 12],
  [0x12, 12],
  [0x21, 36],
  [0x22, 36],
  [0x31, 216],
  [0x32, 216],
]);

const incomplete = { kind: 'incomplete' } as const;
const invalid = (reason: string): InvalidProxyHeader => ({ kind: 'invalid', reason });

/**
 * Reads a v1 or v2 header from the start of a stream. Decides as early as the bytes allow: anything that stops
 * matching `PROXY ` or the v2 signature, a v1 line without CRLF in 107 bytes, or an unexpected v2 version, command,
 * family or length is `invalid` at once, so a client that never sends a header is told apart from a slow one.
 * TLVs are skipped.
 */
export function readProxyHeader(bytes: Buffer): ProxyHeaderResult {
  if (bytes.length === 0) return incomplete;
  if (bytes[0] === v1Prefix[0]) return readV1(bytes);
  if (bytes[0] === v2Signature[0]) return readV2(bytes);
  return invalid('neither a PROXY v1 line nor a v2 signature');
}

function startsLike(bytes: Buffer, prefix: Buffer): boolean {
  const length = Math.min(bytes.length, prefix.length);
  return bytes.subarray(0, length).equals(prefix.subarray(0, length));
}

function readV1(bytes: Buffer): ProxyHeaderResult {
  if (!startsLike(bytes, v1Prefix)) return invalid('not a PROXY v1 line');
  const window = bytes.subarray(0, maxProxyV1Bytes);
  const crAt = window.indexOf(cr);
  const lfAt = window.indexOf(lf);
  // §2.1: the line ends in CRLF only, never a lone CR or LF.
  if (lfAt !== -1 && (crAt === -1 || lfAt < crAt)) return invalid('v1 line ends in a bare LF');
  const line = window.toString('latin1', v1Prefix.length, crAt === -1 ? window.length : crAt);
  if (!plausibleV1(line)) return invalid('v1 line is not TCP4, TCP6 or UNKNOWN followed by addresses and ports');
  if (crAt === -1 || crAt + 1 === window.length) {
    return window.length === maxProxyV1Bytes ? invalid(`no CRLF in the first ${maxProxyV1Bytes} bytes`) : incomplete;
  }
  if (window[crAt + 1] !== lf) return invalid('v1 line has a CR without LF');
  return readV1Line(line, crAt + 2);
}

/** Whether a v1 line, complete or not, can still turn out valid: garbage fails before 107 bytes have arrived. */
function plausibleV1(line: string): boolean {
  if ('UNKNOWN'.startsWith(line.slice(0, 7))) return true;
  const family = line.slice(0, 5);
  if (!'TCP4 '.startsWith(family) && !'TCP6 '.startsWith(family)) return false;
  return /^[0-9A-Fa-f.:]*( [0-9A-Fa-f.:]*){0,4}$/.test(line.slice(5));
}

function readV1Line(line: string, length: number): ProxyHeaderResult {
  const fields = line.split(' ');
  const family = fields[0];
  // §2.1: after UNKNOWN the receiver ignores everything up to the CRLF and uses the real connection.
  if (family === 'UNKNOWN') return { kind: 'header', version: 1, command: 'local', length };
  if (family !== 'TCP4' && family !== 'TCP6') return invalid('v1 protocol is not TCP4, TCP6 or UNKNOWN');
  if (fields.length !== 5) return invalid('v1 line needs two addresses and two ports, one space apart');
  const [, sourceText = '', destinationText = '', sourcePort = '', destinationPort = ''] = fields;
  const source = readV1Address(family, sourceText, sourcePort);
  const destination = readV1Address(family, destinationText, destinationPort);
  if (source === undefined || destination === undefined) return invalid(`v1 ${family} address or port is malformed`);
  return { kind: 'header', version: 1, command: 'proxy', source, destination, length };
}

function readV1Address(family: 'TCP4' | 'TCP6', text: string, portText: string): ProxyAddress | undefined {
  // §2.1: ports are decimal in 0..65535 without heading zeroes.
  if (!/^(0|[1-9][0-9]{0,4})$/.test(portText) || Number(portText) > 65535) return undefined;
  if (family === 'TCP4') return parseIpv4(text) === undefined ? undefined : { address: text, port: Number(portText) };
  const bytes = text.includes(':') ? parseIpv6(text) : undefined;
  return bytes === undefined ? undefined : { address: formatIpv6(bytes), port: Number(portText) };
}

function readV2(bytes: Buffer): ProxyHeaderResult {
  if (!startsLike(bytes, v2Signature)) return invalid('not a PROXY v2 signature');
  if (bytes.length <= v2Signature.length) return incomplete;
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== 2) return invalid(`v2 version ${versionCommand >> 4} is not 2`);
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid(`v2 command ${command} is neither LOCAL (0) nor PROXY (1)`);
  if (bytes.length < 14) return incomplete;
  const familyTransport = bytes[13]!;
  const addressBlock = v2AddressBytes.get(familyTransport);
  if (addressBlock === undefined) {
    return invalid(`v2 family/transport 0x${familyTransport.toString(16)} is not in the spec`);
  }
  if (bytes.length < v2HeaderBytes) return incomplete;
  const payload = bytes.readUInt16BE(14);
  if (payload > maxProxyV2PayloadBytes) {
    return invalid(`v2 header of ${payload} bytes exceeds the ${maxProxyV2PayloadBytes}-byte cap`);
  }
  // §2.2: LOCAL ignores the family, so only PROXY must carry a whole address block.
  if (command === 1 && payload < addressBlock) return invalid('v2 length is shorter than its address block');
  const length = v2HeaderBytes + payload;
  if (bytes.length < length) return incomplete;
  if (command === 0) return { kind: 'header', version: 2, command: 'local', length };
  const family = familyTransport >> 4;
  if (family !== 1 && family !== 2) return { kind: 'header', version: 2, command: 'proxy', length };
  const size = family === 1 ? 4 : 16;
  const at = v2HeaderBytes;
  const format = (offset: number): string =>
    family === 1 ? bytes.subarray(offset, offset + 4).join('.') : formatIpv6(bytes.subarray(offset, offset + 16));
  return {
    kind: 'header',
    version: 2,
    command: 'proxy',
    source: { address: format(at), port: bytes.readUInt16BE(at + 2 * size) },
    destination: { address: format(at + size), port: bytes.readUInt16BE(at + 2 * size + 2) },
    length,
  };
}

/**
 * Builds the header an upstream connection starts with. IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what a dual-stack
 * `net.Server` reports) counts as IPv4, so two IPv4 ends give TCP4 / AF_INET; when only one end is IPv4 it is mapped
 * into IPv6 so both ends share a family as the format requires. A `%zone` is dropped: the format has no room for it.
 * v1 carries TCP only.
 *
 * @throws TypeError for an address that is not IPv4 or IPv6, RangeError for a port outside 0..65535 or v1 with UDP
 *   (both are programming errors: the values come from a socket).
 */
export function encodeProxyHeader(
  version: 1 | 2,
  source: ProxyAddress,
  destination: ProxyAddress,
  transport: 'tcp' | 'udp' = 'tcp',
): Buffer {
  const sourceBytes = addressBytes(source.address);
  const destinationBytes = addressBytes(destination.address);
  for (const { port } of [source, destination]) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port ${port} is outside 0..65535`);
  }
  const ipv4 = isMappedIpv4(sourceBytes) && isMappedIpv4(destinationBytes);
  const [from, to] = ipv4 ? [sourceBytes.subarray(12), destinationBytes.subarray(12)] : [sourceBytes, destinationBytes];
  if (version === 1) {
    if (transport !== 'tcp') throw new RangeError('PROXY protocol v1 carries TCP only; use version 2 for UDP');
    const text = (bytes: Uint8Array): string => (ipv4 ? bytes.join('.') : formatIpv6(bytes));
    const line = `PROXY ${ipv4 ? 'TCP4' : 'TCP6'} ${text(from)} ${text(to)} ${source.port} ${destination.port}\r\n`;
    return Buffer.from(line, 'latin1');
  }
  const header = Buffer.alloc(v2HeaderBytes + 2 * from.length + 4);
  v2Signature.copy(header);
  header[12] = 0x21; // version 2, PROXY
  header[13] = (ipv4 ? 0x10 : 0x20) | (transport === 'tcp' ? 0x01 : 0x02);
  header.writeUInt16BE(header.length - v2HeaderBytes, 14);
  header.set(from, v2HeaderBytes);
  header.set(to, v2HeaderBytes + from.length);
  header.writeUInt16BE(source.port, v2HeaderBytes + 2 * from.length);
  header.writeUInt16BE(destination.port, v2HeaderBytes + 2 * from.length + 2);
  return header;
}

/** Any address as 16 bytes, IPv4 mapped into `::ffff:0:0/96`. */
function addressBytes(text: string): Uint8Array {
  const zone = text.indexOf('%');
  const address = zone === -1 ? text : text.slice(0, zone);
  const bytes = address.includes(':') ? parseIpv6(address) : parseIpv4(address, new Uint8Array(16), 12);
  if (bytes === undefined) throw new TypeError(`${JSON.stringify(text)} is not an IPv4 or IPv6 address`);
  if (!address.includes(':')) bytes[10] = bytes[11] = 0xff;
  return bytes;
}

function isMappedIpv4(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Dotted quad without heading zeroes (§2.1 forbids them: octal confusion), written at `into[offset..offset+4]`. */
function parseIpv4(text: string, into = new Uint8Array(4), offset = 0): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return undefined;
    into[offset + i] = Number(part);
  }
  return into;
}

/** RFC 4291 §2.2 text forms: full, `::`-compressed, and with a dotted IPv4 tail. */
function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 1 || halves[1] === '' ? [] : halves[1]!.split(':');
  const bytes = new Uint8Array(16);
  const groups = halves.length === 1 ? head : tail;
  const last = groups[groups.length - 1];
  const dotted = last !== undefined && last.includes('.');
  if (dotted && parseIpv4(groups.pop()!, bytes, 12) === undefined) return undefined;
  const count = head.length + tail.length + (dotted ? 2 : 0);
  // `::` stands for at least one group of zeros.
  if (halves.length === 1 ? count !== 8 : count > 7) return undefined;
  const write = (group: string, index: number): boolean => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return false;
    const value = parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
    return true;
  };
  if (!head.every((group, i) => write(group, i))) return undefined;
  const tailStart = (dotted ? 6 : 8) - tail.length;
  if (!tail.every((group, i) => write(group, tailStart + i))) return undefined;
  return bytes;
}

/** RFC 5952 §4: lower case, no leading zeros, the longest run (two groups or more) of zeros as `::`; §5 for mapped. */
function formatIpv6(bytes: Uint8Array): string {
  if (isMappedIpv4(bytes)) return `::ffff:${bytes.subarray(12).join('.')}`;
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) [bestStart, bestLength] = [i, end - i];
    i = end === i ? i + 1 : end;
  }
  const hex = (list: number[]): string => list.map((group) => group.toString(16)).join(':');
  if (bestStart === -1) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}
