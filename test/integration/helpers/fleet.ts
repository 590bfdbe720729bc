import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { sseEvents } from '../../../src/cli/status.js';
import { adminToken, callApi, type ApiOptions, type ApiReply } from './admin.js';
import { freePort } from './ports.js';
import { cliPath } from './switchyard.js';
import { waitFor } from './wait.js';

/** A Switchyard node as its own process (the real CLI) in a fleet on etcd. */
export interface FleetNode {
  readonly name: string;
  readonly webPort: number;
  readonly adminBase: string;
  readonly configFile: string;
  readonly child: ChildProcess;
  /** Every log line so far (JSON text). */
  readonly logs: string[];
  url(path: string): string;
  api(method: string, path: string, options?: ApiOptions): Promise<ApiReply>;
  /** SIGTERM (drain) or any signal; resolves with the exit code or signal name. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface FleetNodeOptions {
  readonly endpoints: readonly string[];
  readonly prefix: string;
  /** Services of the node's file (default: `app` with no static endpoints). */
  readonly services?: Record<string, unknown>;
  readonly routes?: readonly unknown[];
  /** Extra keys of `registry.etcd` (sharedConfig, username, password, tls). */
  readonly etcd?: Record<string, unknown>;
  /** Extra keys of `registry` (selfPreservation). */
  readonly registry?: Record<string, unknown>;
  /** Listeners besides `web`. */
  readonly listeners?: readonly unknown[];
  /** A read token for the admin API besides the admin token. */
  readonly readToken?: string;
  /** Extra top-level keys (stickinessSecrets …). */
  readonly top?: Record<string, unknown>;
  readonly env?: NodeJS.ProcessEnv;
}

/** The `app` service and a catch-all route, unless the options say otherwise. */
export function fleetConfig(name: string, webPort: number, adminPort: number, options: FleetNodeOptions) {
  return {
    node: { name },
    admin: {
      address: `127.0.0.1:${adminPort}`,
      tokens: { admin: adminToken, ...(options.readToken === undefined ? {} : { read: options.readToken }) },
    },
    registry: {
      store: 'etcd',
      etcd: { endpoints: options.endpoints, prefix: options.prefix, ...options.etcd },
      ...options.registry,
    },
    listeners: [{ name: 'web', protocol: 'http', address: `127.0.0.1:${webPort}` }, ...(options.listeners ?? [])],
    routes: options.routes ?? [{ name: 'all', match: { path: { prefix: '/' } }, service: 'app' }],
    services: options.services ?? { app: { endpoints: [] } },
    ...options.top,
  };
}

/** Starts `switchyard start -c FILE` as node `name` and waits until its admin API answers. */
export async function startFleetNode(name: string, options: FleetNodeOptions): Promise<FleetNode> {
  const dir = await mkdtemp(join(tmpdir(), `switchyard-${name}-`));
  const [webPort, adminPort] = [await freePort(), await freePort()];
  const configFile = join(dir, 'switchyard.yaml');
  await writeFile(configFile, JSON.stringify(fleetConfig(name, webPort, adminPort, options), null, 2));
  const child = spawn(process.execPath, ['--import', 'tsx', cliPath, 'start', '-c', configFile], {
    env: { ...process.env, SWITCHYARD_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => logs.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => logs.push(line));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const adminBase = `http://127.0.0.1:${adminPort}`;
  const node: FleetNode = {
    name,
    webPort,
    adminBase,
    configFile,
    child,
    logs,
    url: (path) => `http://127.0.0.1:${webPort}${path}`,
    api: (method, path, apiOptions) => callApi(adminBase, method, path, apiOptions),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const result = await exited;
      await rm(dir, { recursive: true, force: true });
      return result;
    },
  };
  try {
    await Promise.race([
      waitFor(async () => (await node.api('GET', '/ping')).status === 200, 30_000, `node ${name} up`, 100),
      exited.then((code) => {
        throw new Error(`node ${name} exited with ${code}: ${logs.slice(-5).join('\n')}`);
      }),
    ]);
  } catch (error) {
    await node.stop('SIGKILL');
    throw error;
  }
  return node;
}

/** A control-plane event of a node's `GET /api/events` stream, with the time it arrived here. */
export interface ReceivedEvent {
  readonly receivedAt: number;
  readonly event: Record<string, unknown>;
}

/** Follows a node's event stream; `next(match)` resolves with the first event (from now on) that matches. */
export async function followEvents(node: FleetNode) {
  const controller = new AbortController();
  const res = await fetch(`${node.adminBase}/api/events`, {
    headers: { authorization: `Bearer ${adminToken}`, accept: 'text/event-stream' },
    signal: controller.signal,
  });
  const waiting = new Set<{ match: (e: Record<string, unknown>) => boolean; resolve: (e: ReceivedEvent) => void }>();
  const seen: ReceivedEvent[] = [];
  void (async () => {
    try {
      for await (const frame of sseEvents(res.body!)) {
        if (frame.name !== 'change') continue;
        const received = { receivedAt: performance.now(), event: JSON.parse(frame.data) as Record<string, unknown> };
        seen.push(received);
        for (const waiter of waiting) {
          if (waiter.match(received.event)) {
            waiting.delete(waiter);
            waiter.resolve(received);
          }
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    seen,
    next(match: (e: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<ReceivedEvent> {
      return new Promise((resolve, reject) => {
        const waiter = { match, resolve };
        waiting.add(waiter);
        setTimeout(() => {
          if (waiting.delete(waiter)) reject(new Error(`no matching event on ${node.name} within ${timeoutMs} ms`));
        }, timeoutMs).unref();
      });
    },
    close: () => controller.abort(),
  };
}

/** The p-th percentile (0–100) of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A fresh key prefix per test, so tests may share one etcd cluster. */
export const uniquePrefix = (label: string): string =>
  `/switchyard-test/${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}/`;

/** A TCP relay in front of one port that the test can cut (every connection reset, new ones refused) and restore. */
export interface CuttableProxy {
  readonly url: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startCuttableProxy(target: string): Promise<CuttableProxy> {
  const targetUrl = new URL(target);
  const sockets = new Set<Socket>();
  let open = true;
  const server = createServer((client) => {
    if (!open) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(Number(targetUrl.port), targetUrl.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    pipeline(client, upstream, () => undefined);
    pipeline(upstream, client, () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      open = false;
      for (const socket of sockets) socket.resetAndDestroy();
    },
    restore() {
      open = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A metric's value in a node's `/metrics` (undefined when absent). */
export async function metricValue(node: FleetNode, name: string, labels = ''): Promise<number | undefined> {
  const body = (await node.api('GET', '/metrics')).body;
  const line = body.split('\n').find((l) => l.startsWith(`${name}${labels === '' ? ' ' : `{${labels}} `}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

/** What a load loop saw. */
export interface LoadResult {
  readonly ok: number;
  /** Each failed request: its status, or the error. */
  readonly failures: readonly string[];
  readonly latenciesMs: readonly number[];
}

/**
 * Sends GET requests to `urls` in turn from `concurrency` loops (fetch, kept-alive connections) until `stop()`;
 * a request fails when it does not answer 200.
 */
export function startLoad(urls: readonly string[], concurrency = 4) {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  let latencies: number[] = [];
  let turn = 0;
  const loop = async (): Promise<void> => {
    while (running) {
      const url = urls[turn++ % urls.length]!;
      const started = performance.now();
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        if (res.status === 200) ok++;
        else failures.push(`${url}: ${res.status}`);
      } catch (error) {
        failures.push(`${url}: ${(error as Error).message}`);
      }
      latencies.push(performance.now() - started);
    }
  };
  const loops = Array.from({ length: concurrency }, () => loop());
  return {
    /** Latencies since the last call (and resets them). */
    takeLatencies(): number[] {
      const taken = latencies;
      latencies = [];
      return taken;
    },
    get ok() {
      return ok;
    },
    async stop(): Promise<LoadResult> {
      running = false;
      await Promise.all(loops);
      return { ok, failures, latenciesMs: latencies };
    },
  };
}
