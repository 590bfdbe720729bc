import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { createSwitchyard, type Switchyard, type SwitchyardOptions } from '../../../src/main.js';
import type { SwitchyardConfigInput } from '../../../src/config/schema.js';
import { send, type Reply } from './http.js';
import { configWith } from './origin.js';
import { cliPath } from './switchyard.js';

/** The tokens every admin test uses. */
export const adminToken = 'adm';
export const readToken = 'rd';

/**
 * `configWith` plus an admin API on 127.0.0.1:0 with both tokens and a memory registry; `top` overrides top-level
 * keys (`admin`, `registry`).
 */
export function adminConfigWith(
  urls: readonly string[],
  service: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
): SwitchyardConfigInput {
  return {
    ...configWith(urls, service),
    admin: { address: '127.0.0.1:0', tokens: { admin: adminToken, read: readToken } },
    registry: { store: 'memory' },
    ...top,
  };
}

/** An answer of the admin API, its body parsed when it is JSON. */
export interface ApiReply extends Reply {
  readonly json: unknown;
}

/** A balancer started in the test process with its admin API, and helpers to call both. */
export interface AdminSwitchyard extends Switchyard {
  /** URL of the `web` listener. */
  url(path: string): string;
  readonly adminPort: number;
  /** Base URL of the admin API, `http://127.0.0.1:<port>`. */
  readonly adminBase: string;
  /**
   * Calls the admin API with the admin token (pass `token: null` for none). An object body is sent as JSON; a string
   * is sent as is.
   */
  api(method: string, path: string, options?: ApiOptions): Promise<ApiReply>;
}

export interface ApiOptions {
  readonly token?: string | null;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/** Calls an admin API at `base`. */
export async function callApi(base: string, method: string, path: string, options: ApiOptions = {}) {
  const token = options.token === undefined ? adminToken : options.token;
  const headers: Record<string, string> = { ...options.headers };
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const reply = await send(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  let json: unknown;
  try {
    json = reply.body === '' ? undefined : JSON.parse(reply.body);
  } catch {
    json = undefined;
  }
  return { ...reply, json };
}

/** Starts a balancer (`createSwitchyard`, so options such as `logger`, `store` and `reload` can be passed). */
export async function startWithAdmin(
  config: SwitchyardConfigInput,
  options: SwitchyardOptions = {},
): Promise<AdminSwitchyard> {
  const lb = await createSwitchyard(config, options);
  const adminPort = lb.address('admin').port;
  const adminBase = `http://127.0.0.1:${adminPort}`;
  return {
    address: (name) => lb.address(name),
    apply: (next) => lb.apply(next),
    reload: () => lb.reload(),
    close: (deadlineMs) => lb.close(deadlineMs ?? 2_000),
    url: (path) => `http://127.0.0.1:${lb.address('web').port}${path}`,
    adminPort,
    adminBase,
    api: (method, path, options) => callApi(adminBase, method, path, options),
  };
}

/** The wire shape of an endpoint in `GET /api/services/{service}` (the fields the tests read). */
export interface EndpointJson {
  id: string;
  url: string;
  source: string;
  state: string;
  health: string;
  weight: number;
  effectiveWeight: number;
  inFlight: number;
  lease: { ttlSeconds: number; expiresAt: string } | null;
  load: number | null;
}

/** The endpoints of a service as the admin API shows them. */
export async function endpointsOf(lb: AdminSwitchyard, service = 'app'): Promise<EndpointJson[]> {
  const reply = await lb.api('GET', `/api/services/${service}`, { token: readToken });
  if (reply.status !== 200) throw new Error(`GET /api/services/${service} answered ${reply.status}`);
  return (reply.json as { endpoints: EndpointJson[] }).endpoints;
}

/** Polls `check` until it returns true or `timeoutMs` passes (then fails with `what`). */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 3_000,
  intervalMs = 50,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A pino logger whose JSON lines the test can read back. */
export function capturedLogger() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const logger = pino({ level: 'info' }, stream);
  return {
    logger,
    /** Every line written so far, parsed. */
    lines: (): Record<string, unknown>[] =>
      text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** `switchyard ARGS` as a long-running child process, with its stdout lines and its exit. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly stdout: string[];
  readonly stderr: () => string;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
}

export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', cliPath, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  let stderr = '';
  createInterface({ input: child.stdout }).on('line', (line) => stdout.push(line));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { child, stdout, stderr: () => stderr, exited };
}
