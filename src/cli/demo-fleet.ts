import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register, type RegistrationHandle } from '../client/register.js';
import { parseListenAddress } from '../config/address.js';
import type { SwitchyardConfigInput } from '../config/schema.js';
import { createLogger, type LogFormat } from '../core/log.js';
import { createSwitchyard, type Switchyard } from '../main.js';
import { generateAdminToken } from './admin-token.js';
import { startDemoInstance } from './demo-instance.js';
import { exitCodes, runUntilStopped } from './run-until-stopped.js';

const nodeCount = 3;

export interface FleetDemoOptions {
  /** The first node's listener; the others take the next ports. */
  readonly listen: string;
  /** The first node's admin API; the others take the next ports. */
  readonly admin: string;
  readonly logFormat?: LogFormat;
}

/**
 * `switchyard demo --fleet`: a local single-member etcd (the `etcd` on PATH, in a temporary directory), three
 * Switchyard nodes on it (consecutive ports from `--listen` and `--admin`) and three instances, each registering
 * through a different node; every node routes to all three. Without etcd it says how to install it.
 */
export async function demoFleet(options: FleetDemoOptions): Promise<number> {
  if (spawnSync('etcd', ['--version'], { stdio: 'ignore' }).error !== undefined) {
    process.stderr.write(
      'switchyard demo --fleet needs etcd on PATH: install it (Debian/Ubuntu: apt-get install etcd-server; macOS: brew install etcd; elsewhere a release from https://etcd.io)\n',
    );
    return exitCodes.failure;
  }
  const listen = parseListenAddress(options.listen);
  const admin = parseListenAddress(options.admin);
  if (listen === undefined || admin === undefined) {
    process.stderr.write('switchyard demo --fleet: --listen and --admin must be host:port\n');
    return exitCodes.usage;
  }
  const log = createLogger({ format: options.logFormat, level: process.env['SWITCHYARD_LOG_LEVEL'] ?? 'warn' });
  const etcd = await startLocalEtcd();
  const token = generateAdminToken();
  const registerToken = generateAdminToken();
  // One secret for the fleet: a stickiness key from one node is honoured by the others.
  const secret = randomBytes(24).toString('base64url');
  const nodes: Switchyard[] = [];
  try {
    for (let i = 0; i < nodeCount; i++) nodes.push(await createSwitchyard(nodeConfig(i), { logger: log }));
  } catch (error) {
    await Promise.all(nodes.map((node) => node.close(0)));
    await etcd.stop();
    throw error;
  }
  const adminUrls = nodes.map((node) => `http://127.0.0.1:${node.address('admin').port}`);
  const names = ['instance-a', 'instance-b', 'instance-c'];
  const instances = await Promise.all(names.map((name) => startDemoInstance(name)));
  const registrations: RegistrationHandle[] = await Promise.all(
    instances.map((instance, i) =>
      register({
        admin: adminUrls[i]!,
        token: registerToken,
        service: 'demo',
        id: instance.name,
        url: instance.url,
        ttl: '5s',
      }),
    ),
  );
  const ports = nodes.map((node) => node.address('web').port);
  process.stdout.write(
    [
      `Switchyard fleet demo: ${nodeCount} nodes sharing one registry on a local etcd (${etcd.url})`,
      ...ports.map((port, i) => `  lb-${i + 1}  http://localhost:${port}  admin ${adminUrls[i]}`),
      ...instances.map((instance, i) => `  ${instance.name} ${instance.url} registered through lb-${i + 1}`),
      '',
      'Try:',
      ...ports.map((port) => `  curl -s localhost:${port}/        # every node routes to all three instances`),
      `  npx switchyard status --fleet --admin ${adminUrls[0]} --token ${token}`,
      `  curl -s -X PUT -H 'Authorization: Bearer ${token}' -d '{"state":"drain"}' ${adminUrls[1]}/api/services/demo/endpoints/instance-a/state`,
      `       # drained through lb-2: lb-1 and lb-3 stop sending to instance-a too`,
      `The dashboards: ${adminUrls.map((url) => `${url}/dashboard/`).join('  ')} (token ${token})`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  const fleet: Switchyard = {
    address: (name) => nodes[0]!.address(name),
    apply: (config) => nodes[0]!.apply(config),
    reload: () => nodes[0]!.reload(),
    close: async (deadlineMs) => (await Promise.all(nodes.map((node) => node.close(deadlineMs)))).some(Boolean),
  };
  const code = await runUntilStopped(fleet, log, {
    beforeStop: async () => {
      await Promise.all(registrations.map((registration) => registration.close()));
      await Promise.all(instances.map((instance) => instance.close()));
    },
  });
  await etcd.stop();
  return code;

  function nodeConfig(i: number): SwitchyardConfigInput {
    const host = (address: { host: string }): string => (address.host === '' ? '0.0.0.0' : address.host);
    return {
      node: { name: `lb-${i + 1}` },
      admin: {
        address: `${host(admin!)}:${admin!.port + i}`,
        tokens: { admin: token, register: [{ token: registerToken, services: ['demo'] }] },
      },
      registry: { store: 'etcd', etcd: { endpoints: [etcd.url], prefix: '/switchyard/demo/' } },
      stickinessSecrets: [{ id: 'demo', secret }],
      listeners: [{ name: 'web', protocol: 'http', address: `${host(listen!)}:${listen!.port + i}`, service: 'demo' }],
      services: {
        demo: { healthCheck: { http: { path: '/health' }, intervalMs: 1_000, timeoutMs: 500 }, slowStartMs: 0 },
      },
    };
  }
}

/** A single-member etcd on free loopback ports and a temporary data directory, removed on stop. */
async function startLocalEtcd(): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-demo-etcd-'));
  const [client, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${client}`;
  const child: ChildProcess = spawn(
    'etcd',
    [
      '--name=demo',
      `--data-dir=${dir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=demo=http://127.0.0.1:${peer}`,
      '--log-level=error',
      '--logger=zap',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // The nodes' first list waits (and retries) until etcd answers; give it a moment to elect itself.
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${url}/health`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
