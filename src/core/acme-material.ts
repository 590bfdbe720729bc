/**
 * What the ACME resolver (control plane) hands the data plane: the certificates it manages and the challenges it is
 * waiting on. Plain JSON, like a snapshot, so it crosses `node:cluster` IPC unchanged; it is kept apart from the
 * snapshot because it carries private keys (the admin API shows snapshots) and changes on its own schedule.
 */
export interface AcmeMaterial {
  /** Managed certificates, each served by the `https` listener it is for beside that listener's files. */
  readonly certificates: readonly AcmeServedCertificate[];
  /** HTTP-01 (RFC 8555 §8.3): token → key authorization, answered on every `http` listener before routing. */
  readonly http01: Readonly<Record<string, string>>;
  /** TLS-ALPN-01 (RFC 8737): per domain, the self-signed certificate with the `acmeIdentifier` extension. */
  readonly tlsAlpn01: readonly AcmeAlpnChallenge[];
}

/** One managed certificate as a listener serves it. */
export interface AcmeServedCertificate {
  /** The `https` listener whose `tls.acme` asked for it. */
  readonly listener: string;
  /** The names it is for (its SANs), lower-case. */
  readonly domains: readonly string[];
  /** PEM chain, leaf first. */
  readonly cert: string;
  /** PEM private key. */
  readonly key: string;
  /** True for the short-lived self-signed stand-in served while the first order runs. */
  readonly selfSigned: boolean;
}

export interface AcmeAlpnChallenge {
  readonly domain: string;
  readonly cert: string;
  readonly key: string;
}

/** No certificate, no challenge: what a data plane starts with. */
export const noAcmeMaterial: AcmeMaterial = { certificates: [], http01: {}, tlsAlpn01: [] };
