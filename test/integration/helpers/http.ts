import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: string;
}

/**
 * One request with node:http (which, unlike fetch, lets a test send hop-by-hop headers); no connection reuse. With
 * `{ port, path }` instead of a URL the target goes out exactly as written (no URL parsing: `..`, `//` and escapes
 * reach the balancer untouched).
 */
export function send(
  url: string | { readonly port: number; readonly path: string },
  options: { method?: string; headers?: OutgoingHttpHeaders | string[]; body?: string | Buffer } = {},
): Promise<Reply> {
  const common = { method: options.method ?? 'GET', headers: options.headers, agent: false as const };
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    };
    const req =
      typeof url === 'string'
        ? httpRequest(url, common, onResponse)
        : httpRequest({ ...common, host: '127.0.0.1', port: url.port, path: url.path }, onResponse);
    req.on('error', reject);
    req.end(options.body);
  });
}

/** GET and return just the body (the origins answer with their name). */
export async function bodyOf(url: string): Promise<string> {
  return (await send(url)).body;
}
