import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createSwitchyard, type Switchyard } from '../../../src/main.js';
import type { SwitchyardConfigInput } from '../../../src/config/schema.js';

/** A balancer started in the test process, with a URL builder for its `web` listener. */
export interface TestSwitchyard extends Switchyard {
  url(path: string, listener?: string): string;
  port(listener?: string): number;
}

export async function startSwitchyard(config: SwitchyardConfigInput): Promise<TestSwitchyard> {
  const lb = await createSwitchyard(config);
  return {
    ...lb,
    address: (name) => lb.address(name),
    apply: (next) => lb.apply(next),
    close: (deadlineMs) => lb.close(deadlineMs ?? 2_000),
    port: (listener = 'web') => lb.address(listener).port,
    url: (path, listener = 'web') => `http://127.0.0.1:${lb.address(listener).port}${path}`,
  };
}

/** The repository's CLI entry, run through tsx so tests need no build. */
export const cliPath = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

/** Runs `switchyard ARGS` to completion and returns its exit code and output. */
export function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cliPath, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A balancer running as its own process (the real CLI), with the port it logged when its listener came up. */
export interface SwitchyardProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly pid: number;
  /** Exit code after SIGTERM (the drain), or the signal's name. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export async function spawnSwitchyard(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<SwitchyardProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', cliPath, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('switchyard did not log "listening" within 15 s')), 15_000);
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'listening' && entry.port !== undefined) {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => reject(new Error(`switchyard exited early with ${code}`)));
  });
  return {
    child,
    port,
    pid: child.pid!,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Sends raw bytes over a fresh TCP connection and collects everything until the peer closes (or `timeoutMs`). */
export function rawExchange(
  port: number,
  request: string | Buffer,
  timeoutMs = 5_000,
): Promise<{ response: string; closed: boolean; elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ response: Buffer.concat(chunks).toString('latin1'), closed: false, elapsedMs: Date.now() - started });
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET') reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ response: Buffer.concat(chunks).toString('latin1'), closed: true, elapsedMs: Date.now() - started });
    });
    socket.write(request);
  });
}

/** The status code of the first response in a raw HTTP/1.1 exchange (0 when there was none). */
export function statusOf(response: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(response);
  return match === null ? 0 : Number(match[1]);
}
