import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect, type PeerCertificate } from 'node:tls';
import { callApi } from './admin.js';
import { freePort } from './ports.js';
import { cliPath } from './switchyard.js';
import { waitFor } from './wait.js';

/** One log line of the balancer process. */
export type LogLine = Record<string, unknown> & { msg?: string };

/** A `switchyard start -c` process with an admin API on a known port, whose JSON log is kept. */
export interface AcmeBalancer {
  readonly admin: string;
  readonly logs: readonly LogLine[];
  readonly startedAt: number;
  /** GET /api/acme's certificates. */
  certificates(): Promise<AcmeCertificateJson[]>;
  waitForLog(msg: string, timeoutMs?: number): Promise<LogLine>;
  stop(): Promise<void>;
}

export interface AcmeCertificateJson {
  id: string;
  listener: string;
  domains: string[];
  state: string;
  ordering: boolean;
  validFrom: string;
  validUntil: string;
  nextAttemptAt: string | null;
  serial: string;
  issuer: string;
  lastError: { message: string; at: string } | null;
  failures: number;
}

/** Starts the CLI on `config` (written as JSON, which is YAML) plus an admin API on a free port. */
export async function startAcmeBalancer(
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
): Promise<AcmeBalancer> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-acme-lb-'));
  const adminPort = await freePort();
  const file = join(dir, 'switchyard.yaml');
  await writeFile(
    file,
    JSON.stringify({ admin: { address: `127.0.0.1:${adminPort}` }, registry: { store: 'memory' }, ...config }),
  );
  const startedAt = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', cliPath, 'start', '-c', file], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const logs: LogLine[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as LogLine);
    } catch {
      // not a log line
    }
  });
  const admin = `http://127.0.0.1:${adminPort}`;
  const balancer: AcmeBalancer = {
    admin,
    logs,
    startedAt,
    async certificates() {
      const reply = await callApi(admin, 'GET', '/api/acme', { token: null });
      if (reply.status !== 200) throw new Error(`GET /api/acme answered ${reply.status}`);
      return (reply.json as { certificates: AcmeCertificateJson[] }).certificates;
    },
    waitForLog: (msg, timeoutMs = 30_000) =>
      waitFor(() => logs.find((l) => l.msg === msg), timeoutMs, `the log line "${msg}"`, 50),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(
      async () => (await callApi(admin, 'GET', '/ping', { token: null })).status === 200,
      30_000,
      'the admin API',
      100,
    );
  } catch (error) {
    await balancer.stop();
    throw error;
  }
  return balancer;
}

/** The certificate a TLS handshake for `servername` gets; with `ca`, the chain must verify against it. */
export function servedCertificate(port: number, servername: string, ca?: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, servername, ...(ca === undefined ? { rejectUnauthorized: false } : { ca }) },
      () => {
        const cert = socket.getPeerCertificate();
        socket.destroy();
        resolve(cert);
      },
    );
    socket.setTimeout(10_000, () => socket.destroy(new Error('handshake timed out')));
    socket.on('error', reject);
  });
}

/** Waits until the listener serves a certificate for `servername` that verifies against `root`; returns it. */
export function waitForIssued(port: number, servername: string, root: () => Promise<string>, timeoutMs = 60_000) {
  return waitFor(
    async () => servedCertificate(port, servername, await root()),
    timeoutMs,
    'a CA-issued certificate',
    100,
  );
}

/** True when the certificate is its own issuer (the resolver's stand-in). */
export function isSelfSigned(cert: PeerCertificate): boolean {
  return new X509Certificate(cert.raw).checkIssued(new X509Certificate(cert.raw));
}
