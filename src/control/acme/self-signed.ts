import { createPrivateKey, createPublicKey, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import {
  bitString,
  explicit,
  integer,
  objectIdentifier,
  octetString,
  sequence,
  set,
  tlv,
  time,
  utf8String,
} from '../../core/der.js';

/** How long the stand-in served while the first order runs is valid: short, so it is never mistaken for the real one. */
export const selfSignedLifetimeMs = 24 * 3_600_000;

/**
 * A self-signed certificate for `domains` (RFC 5280 profile: SANs, the first as CN), signed with `keyPem` (ECDSA P-256
 * or RSA). Served while the first ACME order for those names runs, so the listener can start and say so.
 */
export function selfSignedCertificate(domains: readonly string[], keyPem: string, now = Date.now()): string {
  const key = createPrivateKey(keyPem);
  const algorithm = signatureAlgorithm(key);
  const name = sequence(set(sequence(objectIdentifier('2.5.4.3'), utf8String(domains[0]!))));
  const san = sequence(...domains.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))));
  const extensions = explicit(
    3,
    sequence(
      sequence(objectIdentifier('2.5.29.17'), octetString(san)),
      // basicConstraints: not a CA
      sequence(objectIdentifier('2.5.29.19'), octetString(sequence())),
    ),
  );
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const tbs = sequence(
    explicit(0, integer(2)),
    integer(serial),
    algorithm.identifier,
    name,
    sequence(time(new Date(now - 60_000)), time(new Date(now + selfSignedLifetimeMs))),
    name,
    spki,
    extensions,
  );
  const signature = sign('sha256', tbs, key);
  const der = sequence(tbs, algorithm.identifier, bitString(signature));
  const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
  new X509Certificate(pem); // fails loudly here rather than in a handshake
  return pem.replace('\n\n', '\n');
}

function signatureAlgorithm(key: KeyObject): { identifier: Buffer } {
  if (key.asymmetricKeyType === 'ec') return { identifier: sequence(objectIdentifier('1.2.840.10045.4.3.2')) };
  // sha256WithRSAEncryption, parameters NULL
  return { identifier: sequence(objectIdentifier('1.2.840.113549.1.1.11'), tlv(0x05)) };
}
