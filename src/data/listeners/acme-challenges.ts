import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { noAcmeMaterial, type AcmeMaterial, type AcmeServedCertificate } from '../../core/acme-material.js';

/** The ALPN protocol of TLS-ALPN-01 (RFC 8737 §6.2). */
export const acmeTlsAlpn = 'acme-tls/1';
const http01Prefix = '/.well-known/acme-challenge/';

/**
 * The data plane's side of ACME: the material the resolver last published (managed certificates, HTTP-01 tokens,
 * TLS-ALPN-01 certificates), precomputed for the hot path when it arrives. `https` listeners subscribe to hear when
 * their managed certificates change and reload their contexts (open connections keep theirs).
 */
export class AcmeChallenges {
  #material: AcmeMaterial = noAcmeMaterial;
  #alpn = new Map<string, SecureContext>();
  readonly #subscribers = new Set<(listener?: string) => Promise<void>>();

  /** Takes new material; resolves once every listener whose certificates changed serves the new ones. */
  async update(material: AcmeMaterial): Promise<void> {
    const before = this.#material;
    this.#material = material;
    this.#alpn = new Map(
      material.tlsAlpn01.map((c) => [c.domain.toLowerCase(), createSecureContext({ cert: c.cert, key: c.key })]),
    );
    const changed = new Set<string>();
    const key = (c: AcmeServedCertificate): string => `${c.listener}\u0000${c.cert}`;
    const old = new Set(before.certificates.map(key));
    const now = new Set(material.certificates.map(key));
    for (const c of material.certificates) if (!old.has(key(c))) changed.add(c.listener);
    for (const c of before.certificates) if (!now.has(key(c))) changed.add(c.listener);
    await Promise.all([...this.#subscribers].flatMap((reload) => [...changed].map((listener) => reload(listener))));
  }

  /** `reload(listener)` is called with the name of each listener whose managed certificates changed. */
  subscribe(reload: (listener?: string) => Promise<void>): () => void {
    this.#subscribers.add(reload);
    return () => this.#subscribers.delete(reload);
  }

  /** The managed certificates of one listener. */
  certificatesFor(listener: string): readonly AcmeServedCertificate[] {
    return this.#material.certificates.filter((c) => c.listener === listener);
  }

  /**
   * HTTP-01 (RFC 8555 §8.3): answers `GET /.well-known/acme-challenge/<token>` with the key authorization when the
   * resolver waits on that token, before any route is looked at. Returns false (route as usual) for anything else,
   * so a route of the user's own under that path still works for other tokens.
   */
  answerHttp01(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url;
    if (url === undefined || !url.startsWith(http01Prefix) || (req.method !== 'GET' && req.method !== 'HEAD'))
      return false;
    const answer = this.#material.http01[url.slice(http01Prefix.length)];
    if (answer === undefined) return false;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(answer) });
    res.end(req.method === 'HEAD' ? undefined : answer);
    return true;
  }

  /** The TLS-ALPN-01 certificate for `serverName` while its challenge is pending. */
  alpnContext(serverName: string | undefined): SecureContext | undefined {
    return serverName === undefined ? undefined : this.#alpn.get(serverName.toLowerCase());
  }
}

/**
 * TLS server options of an `https` listener with `tls.acme`: an ALPN callback that takes `acme-tls/1` when a
 * TLS-ALPN-01 challenge for the SNI name is pending (else the usual h2 / http/1.1 choice), and an SNI callback that
 * then hands out the challenge certificate. OpenSSL asks for ALPN before the certificate, and Node calls both
 * callbacks on the socket, which is how the second one knows what the first chose.
 */
export function acmeTlsOptions(
  challenges: AcmeChallenges,
  offered: readonly string[],
  contextFor: (name: string | undefined) => SecureContext | undefined,
): {
  ALPNCallback: (this: TLSSocket, info: { servername: string; protocols: string[] }) => string | undefined;
  SNICallback: (this: TLSSocket, name: string, done: (error: Error | null, context?: SecureContext) => void) => void;
} {
  const challenged = new WeakSet<object>();
  return {
    ALPNCallback(info) {
      if (info.protocols.includes(acmeTlsAlpn) && challenges.alpnContext(info.servername) !== undefined) {
        challenged.add(this);
        return acmeTlsAlpn;
      }
      return offered.find((p) => info.protocols.includes(p));
    },
    SNICallback(name, done) {
      const context = challenged.has(this) ? challenges.alpnContext(name) : undefined;
      done(null, context ?? contextFor(name));
    },
  };
}
