import { z } from 'zod';
import { parseListenAddress } from './address.js';
import { cidr, listenAddress, name } from './primitives.js';

/**
 * A registration token (docs/security.md): it may register, heartbeat and deregister endpoints of the services it
 * lists, and nothing else. An empty token counts as unset (the entry is ignored), so `'${VAR:-}'` makes it optional.
 */
const registerToken = z.strictObject({
  token: z.string(),
  services: z.array(name).min(1, 'name at least one service'),
});

/** The admin API over TLS; with `clientCa`, every client must present a certificate that CA signed (mTLS). */
const adminTls = z.strictObject({
  /** The server certificate (PEM file; a chain may follow it). */
  cert: z.string().min(1),
  /** Its private key (PEM file). */
  key: z.string().min(1),
  /** CA certificates (PEM file) that sign the clients' certificates; set, a client without one cannot connect. */
  clientCa: z.string().min(1).optional(),
});

/** The admin API listener (docs/configuration.md "admin", docs/security.md). Empty tokens count as unset. */
export const adminSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    address: listenAddress.default('127.0.0.1:9901'),
    tokens: z
      .strictObject({
        /** Bearer token for every call, mutations included; without one the API is open (loopback only). */
        admin: z.string().optional(),
        /** Bearer token for read-only calls. */
        read: z.string().optional(),
        /** Tokens that may only register, heartbeat and deregister endpoints of the services they list. */
        register: z.array(registerToken).default([]),
      })
      .prefault({}),
    /** TLS for the admin listener (https); plain HTTP without it. */
    tls: adminTls.optional(),
    /** Client networks that may talk to the admin API at all; any client when omitted. */
    allowedClients: z.array(cidr).min(1, 'list at least one network, or leave allowedClients out').optional(),
    /** Largest request body the API reads (413 beyond it). */
    maxBodyBytes: z.number().int().min(1024).max(16_777_216).default(65_536),
  })
  .refine((admin) => !admin.enabled || isLoopback(admin.address) || (admin.tokens.admin ?? '') !== '', {
    message: 'an admin API on a non-loopback address needs tokens.admin',
    path: ['tokens', 'admin'],
  })
  .superRefine((admin, ctx) => {
    const seen = new Set([admin.tokens.admin, admin.tokens.read].filter((t) => t !== undefined && t !== ''));
    admin.tokens.register.forEach((entry, index) => {
      if (entry.token === '') return;
      if (seen.has(entry.token)) {
        ctx.addIssue({
          code: 'custom',
          path: ['tokens', 'register', index, 'token'],
          message:
            'each token must differ from the admin, read and other register tokens (list several services in one entry)',
        });
      }
      seen.add(entry.token);
    });
  });

function isLoopback(address: string): boolean {
  const host = parseListenAddress(address)?.host;
  return host === 'localhost' || host === '::1' || (host?.startsWith('127.') ?? false);
}

export type AdminConfig = z.output<typeof adminSchema>;
