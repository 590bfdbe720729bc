import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error the admin API answers with a problem document (RFC 9457). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Readonly<Record<string, unknown>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail ?? title);
  }
}

/** Sends a JSON body (or nothing for 204). */
export function sendJson(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status, { 'cache-control': 'no-store' });
    res.end();
    return;
  }
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Sends a text body (the Prometheus exposition). */
export function sendText(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Sends an ApiError as application/problem+json. */
export function sendApiError(res: ServerResponse, error: ApiError): void {
  const text = `${JSON.stringify({ type: 'about:blank', title: error.title, status: error.status, ...(error.detail === undefined ? {} : { detail: error.detail }), ...error.extra })}\n`;
  res.writeHead(error.status, {
    ...error.headers,
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Reads a JSON request body of at most `limitBytes` (413 beyond it, 400 when it is not JSON). Empty gives undefined. */
export async function readJson(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  // Made only when needed: an Error captures a stack trace, which costs more than reading a small body.
  const tooLarge = (): ApiError =>
    new ApiError(413, 'Request body too large', `the limit is ${limitBytes} bytes`, {}, { connection: 'close' });
  if (Number(req.headers['content-length'] ?? 0) > limitBytes) {
    req.resume();
    throw tooLarge();
  }
  const text = await new Promise<string | undefined>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is drained unread (the connection closes after the 413), never buffered.
      if (size <= limitBytes) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limitBytes ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
  if (text === undefined) throw tooLarge();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(400, 'Malformed JSON body', (error as Error).message);
  }
}

/** Compares a presented secret with the expected one in constant time (both are hashed to the same length first). */
export function secretMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The bearer token of a request, or undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
