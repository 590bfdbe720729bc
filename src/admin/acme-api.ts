import type { AcmeCertificateStatus } from '../control/acme/managed-certificate.js';
import type { AdminContext, ApiCall, ApiResult } from './admin-api.js';
import { ApiError } from './http-kit.js';

const iso = (epochMs: number | undefined): string | null =>
  epochMs === undefined ? null : new Date(epochMs).toISOString();

/** One managed certificate on the wire (`GET /api/acme`, the dashboard's ACME section). */
export function acmeCertificateJson(status: AcmeCertificateStatus) {
  return {
    id: status.id,
    listener: status.listener,
    domains: status.domains,
    state: status.state,
    ordering: status.ordering,
    validFrom: iso(status.validFrom),
    validUntil: iso(status.validUntil),
    nextAttemptAt: iso(status.nextAttemptAt),
    serial: status.serial,
    issuer: status.issuer,
    lastError: status.lastError === undefined ? null : { message: status.lastError, at: iso(status.lastErrorAt) },
    failures: status.failures,
    issuedAt: iso(status.issuedAt),
  };
}

function requireCertificate(ctx: AdminContext, id: string): void {
  if (!ctx.acme?.status().certificates.some((c) => c.id === id))
    throw new ApiError(404, 'Unknown certificate', `no managed certificate "${id}" (see GET /api/acme)`);
}

/** `GET /api/acme`, `POST /api/acme/certificates/{id}/renew` and `…/revoke` (docs/tls.md "Automatic certificates"). */
export const acmeHandlers = {
  status: (ctx: AdminContext): ApiResult => {
    const status = ctx.acme?.status();
    return {
      status: 200,
      body: {
        directory: status?.directory ?? null,
        certificates: (status?.certificates ?? []).map(acmeCertificateJson),
      },
    };
  },
  renew: (ctx: AdminContext, call: ApiCall): ApiResult => {
    const id = call.params[0] ?? '';
    requireCertificate(ctx, id);
    ctx.acme!.renew(id);
    return { status: 202, body: { id, ordering: true }, audit: { certificate: id, action: 'renew' } };
  },
  revoke: async (ctx: AdminContext, call: ApiCall): Promise<ApiResult> => {
    const id = call.params[0] ?? '';
    requireCertificate(ctx, id);
    try {
      await ctx.acme!.revoke(id);
    } catch (error) {
      throw new ApiError(409, 'Revocation failed', (error as Error).message);
    }
    return { status: 202, body: { id, revoked: true, ordering: true }, audit: { certificate: id, action: 'revoke' } };
  },
};
