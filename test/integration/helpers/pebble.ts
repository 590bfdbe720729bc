import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCa } from './certs.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

/** Where Pebble's validator connects: Switchyard's http (HTTP-01) and https (TLS-ALPN-01) listener ports. */
export interface PebbleOptions {
  readonly httpPort: number;
  readonly tlsPort: number;
  /** Lifetime of the certificates it issues, in seconds (Pebble's default is five years). */
  readonly validitySeconds?: number;
  /** The directory port (a test that starts Pebble late needs it known before). */
  readonly port?: number;
  /** Written into issued certificates as their OCSP responder. */
  readonly ocspResponderUrl?: string;
  /** Leaves the CA down until `start()` (the DNS server runs at once). */
  readonly deferStart?: boolean;
}

/**
 * Pebble (Let's Encrypt's test CA, Debian's `pebble`) on 127.0.0.1 with its own throwaway CA for its HTTPS directory,
 * and `pebble-challtestsrv` as its DNS server answering every name with 127.0.0.1, so that any test domain is
 * validated against Switchyard's listeners on loopback. Real validation: no PEBBLE_VA_ALWAYS_VALID.
 */
export interface Pebble {
  /** The ACME directory URL. */
  readonly directory: string;
  /** PEM file of the CA that signed the directory's certificate (`acme.directoryCa`). */
  readonly directoryCa: string;
  readonly port: number;
  /** The root that issued certificates chain to (Pebble makes a new one at every start). */
  root(): Promise<string>;
  /** `Valid` or `Revoked` for a certificate serial (hex). */
  status(serial: string): Promise<string>;
  /** Stops Pebble (the DNS server stays until `close`). */
  stop(): Promise<void>;
  /** Starts it again on the same ports (a new root). */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-pebble-'));
  const ca = await createTestCa('Pebble directory test CA');
  const served = await ca.issue(['localhost', '127.0.0.1'], 'pebble');
  const [port, managementPort, dnsPort, challtestManagement] = await Promise.all([
    options.port ?? freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const config = join(dir, 'pebble-config.json');
  await writeFile(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: served.certFile,
        privateKey: served.keyFile,
        httpPort: options.httpPort,
        tlsPort: options.tlsPort,
        ocspResponderURL: options.ocspResponderUrl ?? '',
        externalAccountBindingRequired: false,
        ...(options.validitySeconds === undefined ? {} : { certificateValidityPeriod: options.validitySeconds }),
      },
    }),
  );
  const dns = spawnQuiet('pebble-challtestsrv', [
    '-dns01',
    `127.0.0.1:${dnsPort}`,
    '-http01',
    '',
    '-https01',
    '',
    '-tlsalpn01',
    '',
    '-management',
    `127.0.0.1:${challtestManagement}`,
    '-defaultIPv4',
    '127.0.0.1',
    '-defaultIPv6',
    '',
  ]);
  const agent = new Agent({ ca: ca.cert });
  const get = (url: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  const directory = `https://127.0.0.1:${port}/dir`;
  let pebble: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    pebble = spawnQuiet('pebble', ['-config', config, '-dnsserver', `127.0.0.1:${dnsPort}`], {
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: '0',
    });
    await waitFor(async () => (await get(directory)).status === 200, 15_000, 'Pebble to answer', 100);
  };
  const stop = async (): Promise<void> => {
    const child = pebble;
    pebble = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  try {
    if (options.deferStart !== true) await start();
  } catch (error) {
    await stop();
    dns.kill('SIGKILL');
    throw error;
  }
  return {
    directory,
    directoryCa: ca.certFile,
    port,
    root: async () => (await get(`https://127.0.0.1:${managementPort}/roots/0`)).body,
    status: async (serial) => {
      const reply = await get(`https://127.0.0.1:${managementPort}/cert-status-by-serial/${serial.toLowerCase()}`);
      return (JSON.parse(reply.body) as { Status: string }).Status;
    },
    stop,
    start,
    async close() {
      await stop();
      const exited = new Promise((resolve) => (dns.exitCode !== null ? resolve(undefined) : dns.once('exit', resolve)));
      dns.kill('SIGKILL');
      await exited;
      await Promise.all([rm(dir, { recursive: true, force: true }), ca.remove()]);
    },
  };
}

function spawnQuiet(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  // Kept for a failing test's diagnosis, not printed.
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', () => undefined);
  Object.defineProperty(child, 'output', { get: () => output });
  return child;
}
