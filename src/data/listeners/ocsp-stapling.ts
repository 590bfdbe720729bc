import { createHash, X509Certificate } from 'node:crypto';
import type { Logger } from '../../core/log.js';
import {
  children,
  integer,
  nullValue,
  objectIdentifier,
  octetString,
  readElement,
  readTime,
  sequence,
  type DerElement,
} from '../../core/der.js';

/** What is known of one served certificate's OCSP status. */
interface Staple {
  readonly leaf: X509Certificate;
  readonly issuer: X509Certificate;
  readonly url: string;
  /** The DER OCSPResponse handed to clients; undefined until a good one was fetched (or once it went stale). */
  response: Buffer | undefined;
  /** Epoch ms after which the response must not be stapled any more (its nextUpdate). */
  staleAt: number;
  failures: number;
  timer: NodeJS.Timeout | undefined;
}

const fetchTimeoutMs = 10_000;
const minRefreshMs = 60_000;
const maxRefreshMs = 86_400_000;
/** Without a nextUpdate the response is fetched again this often. */
const defaultRefreshMs = 3_600_000;

/**
 * OCSP stapling (RFC 6066 §8, RFC 6960) for one TLS listener: for each served certificate whose issuer is in its
 * chain and which names an OCSP responder, the response is fetched in the background, kept, and refreshed halfway
 * to its nextUpdate (after a failure, again with back-off; the last good response is stapled until its nextUpdate).
 * The handshake only reads what is cached (`staple`): it never waits on the responder. Only `good` answers are
 * stapled; `revoked` is logged as an error and `unknown` as a warning. The response's signature is checked by the
 * client, not here.
 */
export class OcspStapler {
  readonly #log: Logger;
  /** By SHA-256 of the leaf's DER. */
  readonly #staples = new Map<string, Staple>();
  #closed = false;

  constructor(log: Logger) {
    this.#log = log.child({ component: 'ocsp' });
  }

  /** Follows the certificates now served (PEM chains, leaf first): new ones are fetched, gone ones forgotten. */
  track(chains: readonly (string | Buffer)[]): void {
    const seen = new Set<string>();
    for (const chain of chains) {
      const certificates = splitChain(chain);
      const leaf = certificates[0];
      if (leaf === undefined) continue;
      const key = fingerprint(leaf.raw);
      seen.add(key);
      if (this.#staples.has(key)) continue;
      const issuer = certificates.slice(1).find((c) => leaf.checkIssued(c));
      const url = /OCSP - URI:(\S+)/.exec(leaf.infoAccess ?? '')?.[1];
      if (issuer === undefined || url === undefined) {
        this.#log.debug({ subject: leaf.subject }, 'no OCSP responder or issuer in the chain: nothing to staple');
        continue;
      }
      const staple: Staple = { leaf, issuer, url, response: undefined, staleAt: 0, failures: 0, timer: undefined };
      this.#staples.set(key, staple);
      void this.#refresh(staple);
    }
    for (const [key, staple] of this.#staples) {
      if (seen.has(key)) continue;
      clearTimeout(staple.timer);
      this.#staples.delete(key);
    }
  }

  /** The server's `'OCSPRequest'` listener: the cached response for `certificate`, or none. */
  readonly staple = (
    certificate: Buffer,
    _issuer: Buffer,
    callback: (error: Error | null, response: Buffer | null) => void,
  ): void => {
    const staple = this.#staples.get(fingerprint(certificate));
    const fresh = staple?.response !== undefined && Date.now() < staple.staleAt;
    callback(null, fresh ? staple.response! : null);
  };

  close(): void {
    this.#closed = true;
    for (const staple of this.#staples.values()) clearTimeout(staple.timer);
    this.#staples.clear();
  }

  async #refresh(staple: Staple): Promise<void> {
    let nextMs: number;
    try {
      const { response, status, thisUpdate, nextUpdate } = await fetchOcsp(staple.leaf, staple.issuer, staple.url);
      staple.failures = 0;
      if (status === 'good') {
        staple.response = response;
        staple.staleAt = nextUpdate ?? Date.now() + 2 * defaultRefreshMs;
        this.#log.info({ subject: staple.leaf.subject, nextUpdate: iso(nextUpdate) }, 'OCSP response stapled');
      } else {
        staple.response = undefined;
        const level = status === 'revoked' ? 'error' : 'warn';
        this.#log[level]({ subject: staple.leaf.subject, status }, 'OCSP responder does not say good: not stapled');
      }
      const halfway = nextUpdate === undefined ? defaultRefreshMs : (nextUpdate - Math.max(thisUpdate, Date.now())) / 2;
      nextMs = Math.min(maxRefreshMs, Math.max(minRefreshMs, halfway));
    } catch (error) {
      staple.failures++;
      nextMs = Math.min(600_000, 10_000 * 2 ** Math.min(staple.failures - 1, 10));
      this.#log.warn({ err: error, url: staple.url, retryInMs: nextMs }, 'OCSP fetch failed; the last response stays');
    }
    if (this.#closed || !this.#staples.has(fingerprint(staple.leaf.raw))) return;
    staple.timer = setTimeout(() => void this.#refresh(staple), nextMs);
    staple.timer.unref();
  }
}

/** Asks the responder about `leaf` (RFC 6960 §4.1, POST) and reads its single response. */
async function fetchOcsp(leaf: X509Certificate, issuer: X509Certificate, url: string) {
  const certId = certificateId(leaf, issuer);
  const request = sequence(sequence(sequence(sequence(certId))));
  const reply = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
    body: request,
    signal: AbortSignal.timeout(fetchTimeoutMs),
  });
  if (!reply.ok) throw new Error(`OCSP responder answered HTTP ${reply.status}`);
  const response = Buffer.from(await reply.arrayBuffer());
  return { response, ...readSingleResponse(response, leaf) };
}

/** CertID (RFC 6960 §4.1.1) with SHA-1, which every responder supports. */
function certificateId(leaf: X509Certificate, issuer: X509Certificate): Buffer {
  const sha1 = (data: Buffer): Buffer => createHash('sha1').update(data).digest();
  const issuerTbs = children(children(readElement(issuer.raw).content)[0]!.content);
  // tbsCertificate: [0] version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo …
  const offset = issuerTbs[0]!.tag === 0xa0 ? 1 : 0;
  const subject = issuerTbs[offset + 4]!;
  const publicKey = children(issuerTbs[offset + 5]!.content)[1]!; // BIT STRING
  return sequence(
    sequence(objectIdentifier('1.3.14.3.2.26'), nullValue()),
    octetString(sha1(subject.raw)),
    octetString(sha1(publicKey.content.subarray(1))),
    integer(Buffer.from(leaf.serialNumber.padStart(2, '0'), 'hex')),
  );
}

/** The status of `leaf` in a DER OCSPResponse; throws when the response is unsuccessful or does not name it. */
function readSingleResponse(
  der: Buffer,
  leaf: X509Certificate,
): { status: 'good' | 'revoked' | 'unknown'; thisUpdate: number; nextUpdate: number | undefined } {
  const [responseStatus, responseBytes] = children(readElement(der).content);
  if (responseStatus?.content[0] !== 0) throw new Error(`OCSP response status ${responseStatus?.content[0]}`);
  const [, basicOctets] = children(children(responseBytes!.content)[0]!.content);
  const [tbs] = children(readElement(basicOctets!.content).content);
  const fields = children(tbs!.content);
  const responses = fields.find((f, i) => f.tag === 0x30 && i > 0 && fields[i - 1]!.tag === 0x18)!;
  const serial = leaf.serialNumber.toLowerCase().replace(/^0+/, '');
  for (const single of children(responses.content)) {
    const [certId, certStatus, thisUpdate, ...rest] = children(single.content);
    const serialElement = children(certId!.content)[3]!;
    if (serialElement.content.toString('hex').replace(/^0+/, '') !== serial) continue;
    const nextUpdate = rest.find((e: DerElement) => e.tag === 0xa0);
    return {
      status: certStatus!.tag === 0x80 ? 'good' : certStatus!.tag === 0xa1 ? 'revoked' : 'unknown',
      thisUpdate: readTime(thisUpdate!),
      nextUpdate: nextUpdate === undefined ? undefined : readTime(readElement(nextUpdate.content)),
    };
  }
  throw new Error('the OCSP response does not name the certificate');
}

function splitChain(chain: string | Buffer): X509Certificate[] {
  const text = chain.toString();
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

function fingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
