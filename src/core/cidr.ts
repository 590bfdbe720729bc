/**
 * IP addresses and CIDR blocks for the `clientCidrs` matcher, without `node:net` (routing stays pure). Every address
 * is held as 16 bytes; IPv4 is mapped into `::ffff:a.b.c.d`, so `10.0.0.0/8` and a client `::ffff:10.1.2.3` agree.
 */

/** One CIDR block: the network's 16 bytes and how many leading bits count. */
export interface CidrBlock {
  readonly bytes: Uint8Array;
  readonly bits: number;
}

/** Parses `10.0.0.0/8`, `192.168.1.7`, `fd00::/8` or `::1`; undefined when it is none of those. */
export function parseCidr(text: string): CidrBlock | undefined {
  const slash = text.indexOf('/');
  const address = parseIp(slash === -1 ? text : text.slice(0, slash));
  if (address === undefined) return undefined;
  const v4 = !text.slice(0, slash === -1 ? undefined : slash).includes(':');
  const max = v4 ? 32 : 128;
  const suffix = text.slice(slash + 1);
  if (slash !== -1 && !/^\d{1,3}$/.test(suffix)) return undefined;
  const bits = slash === -1 ? max : Number(suffix);
  if (bits > max) return undefined;
  return { bytes: address, bits: v4 ? bits + 96 : bits };
}

/** True when `address` (16 bytes) lies in `block`. */
export function cidrContains(block: CidrBlock, address: Uint8Array): boolean {
  const whole = block.bits >> 3;
  for (let i = 0; i < whole; i++) if (block.bytes[i] !== address[i]) return false;
  const rest = block.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((block.bytes[whole]! ^ address[whole]!) & mask) === 0;
}

/** True when every address of `inner` is also in `outer`. */
export function cidrCovers(outer: CidrBlock, inner: CidrBlock): boolean {
  return outer.bits <= inner.bits && cidrContains(outer, inner.bytes);
}

/** An IPv4 or IPv6 address (a `%zone` is ignored) as 16 bytes; undefined when it is not an address. */
export function parseIp(text: string): Uint8Array | undefined {
  const zone = text.indexOf('%');
  const address = zone === -1 ? text : text.slice(0, zone);
  if (address.includes(':')) return parseIpv6(address);
  const bytes = parseIpv4(address, new Uint8Array(16), 12);
  if (bytes !== undefined) bytes[10] = bytes[11] = 0xff;
  return bytes;
}

function parseIpv4(text: string, into: Uint8Array, offset: number): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    into[offset + i] = Number(part);
  }
  return into;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 1 || halves[1] === '' ? [] : halves[1]!.split(':');
  const bytes = new Uint8Array(16);
  const groups = [...head, ...tail];
  // An embedded IPv4 tail (`::ffff:1.2.3.4`) fills the last four bytes and counts as two groups.
  const last = groups[groups.length - 1];
  const embedded = last !== undefined && last.includes('.');
  const count = groups.length + (embedded ? 1 : 0);
  if (count > 8 || (halves.length === 1 && count !== 8)) return undefined;
  if (embedded) {
    if (parseIpv4(last, bytes, 12) === undefined) return undefined;
    if (tail.length > 0) tail.pop();
    else head.pop();
  }
  const write = (group: string, index: number): boolean => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return false;
    const value = parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
    return true;
  };
  for (let i = 0; i < head.length; i++) if (!write(head[i]!, i)) return undefined;
  const tailStart = (embedded ? 6 : 8) - tail.length;
  for (let i = 0; i < tail.length; i++) if (!write(tail[i]!, tailStart + i)) return undefined;
  return bytes;
}
