import type { IncomingMessage, ServerResponse } from 'node:http';
import { proxyErrors } from '../../core/errors.js';
import type { RequestHead } from '../downstream/client-address.js';
import { sendProblem } from '../downstream/problem.js';
import type { OverloadGuard } from '../overload/overload-guard.js';

/**
 * Phase 7 of docs/lifecycle.md, a route's `rateLimit`: spends a token of the route's limiter (overload/rate-limiter.ts)
 * for this request. Allowed: the RateLimit-* fields are set on the response (whatever answers it: the instance, a
 * redirect, a fixed response) and true is returned. Refused: 429 with them and Retry-After, and false.
 */
export function withinRateLimit(
  overload: OverloadGuard,
  route: string,
  req: IncomingMessage,
  res: ServerResponse,
  head: RequestHead,
): boolean {
  const limiter = overload.rateLimiter(route);
  if (limiter === undefined) return true;
  const decision = limiter.take(limiter.keyOf(req.rawHeaders, head.clientIp), Date.now());
  const headers = decision.headers;
  if (decision.allowed) {
    for (let i = 0; i < headers.length; i += 2) res.setHeader(headers[i]!, headers[i + 1]!);
    return true;
  }
  overload.counts.rateLimited++;
  sendProblem(res, proxyErrors.rateLimited, head.requestId, { headers });
  return false;
}
