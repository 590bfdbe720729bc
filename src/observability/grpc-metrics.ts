import { tlsFailureClasses } from '../core/traffic.js';
import type { MetricDefinition } from './metric-definition.js';

/** gRPC calls by status, and failed TLS handshakes with instances by class (docs/grpc.md, docs/metrics.md). */
export const grpcMetrics: readonly MetricDefinition[] = [
  {
    name: 'switchyard_grpc_responses_total',
    type: 'counter',
    help: 'gRPC calls answered, by the grpc-status the client got (from the instance or from Switchyard itself).',
    labelNames: ['service', 'grpc_status'],
    *samples({ traffic }) {
      for (const s of traffic.services) {
        const counts = s.grpcStatuses ?? [];
        for (let status = 0; status < counts.length; status++) {
          if (counts[status]! > 0) yield [{ service: s.service, grpc_status: String(status) }, counts[status]!];
        }
      }
    },
  },
  {
    name: 'switchyard_upstream_tls_failures_total',
    type: 'counter',
    help: 'TLS handshakes with an instance that failed, by class (unknown_ca, name_mismatch, bad_certificate, handshake_timeout, handshake_failed).',
    labelNames: ['service', 'class'],
    *samples({ traffic }) {
      for (const s of traffic.services) {
        const counts = s.tlsFailures ?? [];
        for (let i = 0; i < tlsFailureClasses.length; i++) {
          if ((counts[i] ?? 0) > 0) yield [{ service: s.service, class: tlsFailureClasses[i]! }, counts[i]!];
        }
      }
    },
  },
];
