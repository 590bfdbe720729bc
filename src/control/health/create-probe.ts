import type { HealthCheckConfig } from '../../config/service-schema.js';
import { GrpcProbe } from './grpc-probe.js';
import { HttpProbe } from './http-probe.js';
import type { Probe } from './probe.js';
import { TcpProbe } from './tcp-probe.js';

/**
 * The probe for a service's health check: HTTP when `check.http` is set, gRPC (grpc.health.v1) when `check.grpc` is,
 * otherwise a TCP connect. In a file of its
 * own beside the probes, so that probe.ts (the interface the probes implement) imports none of them.
 */
export function createProbe(check: HealthCheckConfig): Probe {
  if (check.http !== undefined) return new HttpProbe(check.http);
  if (check.grpc !== undefined) return new GrpcProbe(check.grpc);
  return new TcpProbe();
}
