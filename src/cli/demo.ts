import { register, type RegistrationHandle } from '../client/register.js';
import { createLogger, type LogFormat } from '../core/log.js';
import { createSwitchyard } from '../main.js';
import { generateAdminToken, publishAdminToken } from './admin-token.js';
import { startDemoInstance } from './demo-instance.js';
import { EarlyStopSignals, runUntilStopped } from './run-until-stopped.js';

export interface DemoOptions {
  readonly listen: string;
  readonly admin: string;
  readonly instances: number;
  readonly logFormat?: LogFormat;
}

/**
 * `switchyard demo`: a balancer (service `demo`, no static endpoints, health-checked) and a few demo instances that
 * register themselves over the admin API with a lease, exactly as real instances would. Prints what to try; Ctrl-C
 * deregisters the instances and stops everything.
 */
export async function demo(options: DemoOptions): Promise<number> {
  const early = new EarlyStopSignals();
  try {
    return await demoCaught(options, early);
  } finally {
    early.release();
  }
}

async function demoCaught(options: DemoOptions, early: EarlyStopSignals): Promise<number> {
  const log = createLogger({ format: options.logFormat, level: process.env['SWITCHYARD_LOG_LEVEL'] ?? 'warn' });
  const fromEnv = process.env['SWITCHYARD_ADMIN_TOKEN'];
  const token = fromEnv !== undefined && fromEnv !== '' ? fromEnv : generateAdminToken();
  // The instances register with a token that can do nothing else (docs/security.md), as real ones should.
  const registerToken = generateAdminToken();
  const switchyard = await createSwitchyard(
    {
      admin: {
        address: options.admin,
        tokens: { admin: token, register: [{ token: registerToken, services: ['demo'] }] },
      },
      registry: { store: 'memory' },
      listeners: [{ name: 'web', protocol: 'http', address: options.listen, service: 'demo' }],
      services: {
        demo: {
          algorithm: 'round-robin',
          healthCheck: { http: { path: '/health' }, intervalMs: 1_000, timeoutMs: 500 },
          slowStartMs: 0,
        },
      },
      // On here (off by default): watching the lines scroll by is half of what a demo is for.
      accessLog: { enabled: true },
    },
    { logger: log },
  );
  const { port } = switchyard.address('web');
  const adminAddress = switchyard.address('admin');
  const adminUrl = `http://127.0.0.1:${adminAddress.port}`;
  const tokenFile = token === fromEnv ? undefined : await publishAdminToken(adminUrl, adminAddress.port, token, log);
  const names = Array.from({ length: options.instances }, (_, i) => `instance-${String.fromCharCode(97 + i)}`);
  const instances = await Promise.all(names.map((name) => startDemoInstance(name)));
  const registrations: RegistrationHandle[] = await Promise.all(
    instances.map((instance) =>
      register({
        admin: adminUrl,
        token: registerToken,
        service: 'demo',
        id: instance.name,
        url: instance.url,
        ttl: '5s',
      }),
    ),
  );
  const stopInstances = async (): Promise<void> => {
    process.stdout.write(
      `\nStopping: ${instances.length} instances deregister and stop, then the balancer drains (in-flight requests finish, 30 s at most) and exits.\n`,
    );
    await Promise.all(registrations.map((registration) => registration.close()));
    await Promise.all(instances.map((instance) => instance.close()));
    await tokenFile?.remove();
  };
  const lines = [
    `Switchyard demo: a balancer on http://localhost:${port} in front of ${instances.length} instances that registered themselves`,
    ...instances.map((i) => `  ${i.name}  ${i.url}`),
    '',
    'Try:',
    `  curl localhost:${port}/            # run it a few times: the instances take turns (round-robin)`,
    `  for i in 1 2 3 4 5 6; do curl -s localhost:${port}/hello; done`,
    `  curl -i localhost:${port}/        # see Via, X-Request-Id and which instance answered (x-instance)`,
    '',
    'Each request prints its access-log line here (JSON: endpoint, timings, retries, flags).',
    '',
    `The live dashboard: ${adminUrl}/dashboard/  (sign in with the token ${token})`,
    `  npx switchyard status --admin ${adminUrl} --watch   # the same overview in the terminal (finds the token itself)`,
    '',
    `The admin API is on ${adminUrl} (token: ${token}):`,
    `  curl -s -H 'Authorization: Bearer ${token}' ${adminUrl}/api/services/demo`,
    `  curl -s -X PUT -H 'Authorization: Bearer ${token}' -d '{"state":"drain"}' ${adminUrl}/api/services/demo/endpoints/instance-a/state`,
    `  npx switchyard register --admin ${adminUrl} --service demo --url http://127.0.0.1:3000`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
  return runUntilStopped(switchyard, log, { beforeStop: stopInstances, early });
}
