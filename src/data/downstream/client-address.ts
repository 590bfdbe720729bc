import { BlockList, isIPv6 } from 'node:net';
import { existingRecord } from './connection-record.js';

/**
 * Which peers are trusted to have set forwarding headers (X-Forwarded-*, Forwarded, X-Request-Id), compiled once
 * per listener from its `trustedProxies` CIDRs.
 */
export class TrustedProxies {
  readonly #list: BlockList | undefined;

  constructor(cidrs: readonly string[]) {
    if (cidrs.length === 0) {
      this.#list = undefined;
      return;
    }
    const list = new BlockList();
    for (const cidr of cidrs) {
      const [address = '', bits] = cidr.split('/');
      const family = isIPv6(address) ? 'ipv6' : 'ipv4';
      if (bits === undefined) list.addAddress(address, family);
      else list.addSubnet(address, Number(bits), family);
    }
    this.#list = list;
  }

  /** True when `address` (already normalised by `peerAddress`) belongs to a trusted proxy. */
  trusts(address: string): boolean {
    if (this.#list === undefined || address === '') return false;
    return this.#list.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
  }
}

/**
 * The client's address for a request or upgrade arriving on `socket`: the one a trusted PROXY header carried (kept in
 * the connection's record, connection-record.ts), else the peer's (IPv4-mapped IPv6 turned back into IPv4).
 */
export function clientAddressOf(socket: {
  readonly remoteAddress?: string | undefined;
  readonly _parent?: unknown;
}): string {
  // On a TLS socket the PROXY front recorded the raw socket under it (`_parent`).
  const proxied =
    existingRecord(socket)?.clientAddress ??
    (socket._parent == null ? undefined : existingRecord(socket._parent)?.clientAddress);
  return proxied ?? peerAddress(socket.remoteAddress);
}

/** The socket's remote address with IPv4-mapped IPv6 (`::ffff:1.2.3.4`) turned back into IPv4. */
export function peerAddress(remote: string | undefined): string {
  if (remote === undefined) return '';
  return remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
}

/** What the HTTP side learnt while copying a request's header block (see `forwardRequestHeaders`). */
export interface RequestHead {
  /** Flat `[name, value, name, value …]` list for the upstream request. */
  readonly headers: string[];
  readonly host: string | undefined;
  /** More than one `Host` field: the request is rejected (docs/guarantees.md §3). */
  readonly duplicateHost: boolean;
  /** The request carries a body (a non-zero Content-Length or chunked framing). */
  readonly hasBody: boolean;
  /** The declared body length; undefined for chunked bodies or none. */
  readonly contentLength: number | undefined;
  readonly requestId: string;
  /** The right-most untrusted address: the peer, or from X-Forwarded-For when the peer is a trusted proxy. */
  readonly clientIp: string;
}
