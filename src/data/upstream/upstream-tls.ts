import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { SecureClientSessionOptions } from 'node:http2';
import { buildConnector } from 'undici';

/** `upstreamTls` of a service (re-encryption toward `https://` endpoints). */
export interface UpstreamTlsConfig {
  readonly ca?: string | undefined;
  readonly servername?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/**
 * The name sent as SNI and checked against the instance's certificate: `upstreamTls.servername`, else the endpoint's
 * own host when it is a DNS name. An IP address is not a server name (RFC 6066 §3): none is sent and the certificate
 * must carry that IP. Never the client's `Host`: the name being verified is the operator's choice, not the client's.
 */
export function upstreamServername(endpointUrl: string, tls: UpstreamTlsConfig | undefined): string | undefined {
  if (tls?.servername !== undefined) return tls.servername;
  const host = new URL(endpointUrl).hostname.replace(/^\[|\]$/g, '');
  return isIP(host) === 0 ? host : undefined;
}

/** Node TLS options toward one endpoint: CA, client certificate, servername; verification is never turned off. */
export function upstreamTlsOptions(
  endpointUrl: string,
  tls: UpstreamTlsConfig | undefined,
): SecureClientSessionOptions {
  const servername = upstreamServername(endpointUrl, tls);
  return {
    ...(tls?.ca === undefined ? {} : { ca: readPem(tls.ca) }),
    ...(tls?.cert === undefined ? {} : { cert: readPem(tls.cert) }),
    ...(tls?.key === undefined ? {} : { key: readPem(tls.key) }),
    // '' keeps node from deriving SNI from the host (an IP): the certificate is then checked against the IP.
    servername: servername ?? '',
    rejectUnauthorized: true,
  };
}

/**
 * An undici connector for an `https://` endpoint that always uses `upstreamServername`: undici's own connector takes
 * the request's `Host` header as servername (and verifies the certificate against it) whatever `connect.servername`
 * says, so the client would choose the name Switchyard checks.
 */
export function upstreamTlsConnector(
  endpointUrl: string,
  tls: UpstreamTlsConfig | undefined,
  timeoutMs: number,
  alpn?: readonly string[],
): buildConnector.connector {
  const options = upstreamTlsOptions(endpointUrl, tls);
  const servername = options.servername === '' ? undefined : options.servername;
  const connector = buildConnector({
    ...(options as buildConnector.BuildOptions),
    timeout: timeoutMs,
    ...(alpn === undefined ? {} : { ALPNProtocols: [...alpn] }),
  });
  // `servername: undefined` would let undici fall back to the Host header: an IP endpoint passes its own host.
  return (connect, callback) => connector({ ...connect, servername: servername ?? connect.hostname }, callback);
}

/** The class of an upstream TLS failure, for the log, the metric and the 502's detail (never the secret details). */
export type TlsFailureClass =
  'unknown_ca' | 'name_mismatch' | 'bad_certificate' | 'handshake_timeout' | 'handshake_failed';

const unknownCaCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
]);
const badCertificateCodes = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
]);

/** The TLS failure class of an upstream error, or undefined when it is not a TLS failure. */
export function tlsFailureClass(error: unknown, handshaking = false): TlsFailureClass | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  if (unknownCaCodes.has(code)) return 'unknown_ca';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') return 'name_mismatch';
  if (badCertificateCodes.has(code)) return 'bad_certificate';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || (handshaking && code === 'UND_ERR_CONNECT_TIMEOUT'))
    return 'handshake_timeout';
  if (code.startsWith('ERR_SSL_') || code === 'ECONNRESET_DURING_HANDSHAKE' || code === 'EPROTO')
    return 'handshake_failed';
  return undefined;
}

/**
 * A PEM file's content. The control plane checks the files before it publishes a config; one that vanished since
 * gives an empty value, so connections to that service fail verification (502) instead of the snapshot failing.
 */
function readPem(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch {
    return Buffer.alloc(0);
  }
}
