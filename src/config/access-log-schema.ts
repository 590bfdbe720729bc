import { z } from 'zod';
import { accessLogFields } from '../core/access-entry.js';

/**
 * The access log (docs/observability.md): one line per HTTP request, WebSocket tunnel, L4 connection and UDP session,
 * written off the request path. Off by default, as in Envoy and Traefik: a busy balancer writes a line per request,
 * and where they go (a file, stdout, a collector) is the operator's choice. `switchyard demo` turns it on.
 */
export const accessLogSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** `stdout`, `stderr`, or a file path (appended to; directories are created; reopened on SIGUSR1). */
    path: z.string().min(1).default('stdout'),
    /** `json` lines (SPEC.md fields), or the Common / Combined Log Format of Apache and nginx. */
    format: z.enum(['json', 'common', 'combined']).default('json'),
    /** Share of successful requests written, 0 to 1; errors (a status of 500 or more, or any flag) always are. */
    sample: z.number().min(0).max(1).default(1),
    /** Fields whose value is replaced (`[redacted]`, or `-` in the text formats); `query` hides the query string. */
    redact: z
      .array(z.enum([...accessLogFields, 'query']))
      .default([])
      .refine((list) => new Set(list).size === list.length, 'a field is listed twice'),
    /** The JSON fields to write, in the usual order (default: every SPEC.md field; `user_agent`, `referer` extra). */
    fields: z
      .array(z.enum(accessLogFields))
      .min(1)
      .refine((list) => new Set(list).size === list.length, 'a field is listed twice')
      .optional(),
    /** Lines waiting for the disk beyond this many bytes are dropped (and counted) rather than slowing requests. */
    maxBufferBytes: z.number().int().min(65_536).max(1_073_741_824).default(4_194_304),
  })
  .refine((log) => log.fields === undefined || log.format === 'json', {
    message: 'fields applies to format json only (common and combined have fixed fields)',
    path: ['fields'],
  });
