import { z } from 'zod';
import { milliseconds } from './primitives.js';

/**
 * Overload protection of the whole process (docs/operations.md "Overload protection"): a total of client connections
 * across listeners, the `Retry-After` of 503 overload answers, and event-loop-lag shedding. Per-listener, per-endpoint
 * and per-route limits live with their listener, service and route.
 */

/** Event-loop-lag shedding: while the loop lags, new proxy requests are answered 503 at once. */
const eventLoopLag = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Shedding starts when the mean event-loop delay over one window reaches this. */
    thresholdMs: milliseconds.max(60_000).default(200),
    /** … and stops after a window whose mean delay is below this (hysteresis); half of `thresholdMs` when omitted. */
    recoverMs: milliseconds.max(60_000).optional(),
    /** The delay is averaged over windows of this length. */
    windowMs: z.number().int().min(50).max(60_000).default(500),
  })
  .refine((lag) => lag.recoverMs === undefined || lag.recoverMs <= lag.thresholdMs, {
    message: 'recoverMs cannot be above thresholdMs',
    path: ['recoverMs'],
  });

export const overloadSchema = z.strictObject({
  /**
   * Client connections open at once across every `http`, `https`, `tcp` and `tls-passthrough` listener of the process
   * (each listener also has its own `limits.maxConnections`). `auto`: half the process's open-file limit, less a
   * reserve, so that a connection and its upstream connection both get a descriptor.
   */
  maxConnections: z.union([z.literal('auto'), z.number().int().min(1).max(10_000_000)]).default('auto'),
  /** `Retry-After` (seconds) on 503 answers for overload: connection limits, full or timed-out queues, shedding. */
  retryAfterSeconds: z.number().int().min(0).max(86_400).default(1),
  eventLoopLag: eventLoopLag.prefault({}),
});

export type OverloadConfig = z.output<typeof overloadSchema>;
