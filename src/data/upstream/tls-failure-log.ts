import type { Logger } from '../../core/log.js';
import { tlsFailureClasses, type ServiceTraffic } from '../../core/traffic.js';
import type { TlsFailureClass } from './upstream-tls.js';

/** Reports one failed TLS handshake with an instance: logged (throttled) and counted. */
export type TlsFailureReporter = (
  counters: ServiceTraffic,
  endpoint: string,
  failureClass: TlsFailureClass,
  error: Error,
) => void;

/**
 * The data plane's reporter of upstream TLS failures: each is counted in the service's `tlsFailures`
 * (`switchyard_upstream_tls_failures_total`), and logged at warn with its class and cause (the TLS error's code and
 * message: `ERR_TLS_CERT_ALTNAME_INVALID`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE` …), at most once per `intervalMs` for
 * each service, endpoint and class, with the number left out since.
 */
export function tlsFailureReporter(log: Logger, intervalMs = 5_000): TlsFailureReporter {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (counters, endpoint, failureClass, error) => {
    const index = tlsFailureClasses.indexOf(failureClass);
    if (counters.tlsFailures !== undefined && index >= 0) counters.tlsFailures[index]!++;
    const key = `${counters.service}\u0000${endpoint}\u0000${failureClass}`;
    const now = Date.now();
    const seen = last.get(key);
    if (seen !== undefined && now - seen.at < intervalMs) {
      seen.suppressed++;
      return;
    }
    if (last.size > 10_000) last.clear();
    last.set(key, { at: now, suppressed: 0 });
    const cause = (error as { code?: string }).code;
    log.warn(
      {
        service: counters.service,
        endpoint,
        class: failureClass,
        cause: cause === undefined ? error.message : `${cause}: ${error.message}`,
        ...(seen !== undefined && seen.suppressed > 0 ? { suppressed: seen.suppressed } : {}),
      },
      'upstream TLS handshake failed',
    );
  };
}
