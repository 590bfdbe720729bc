import { createLogger, type LogFormat } from '../core/log.js';
import { createSwitchyard } from '../main.js';
import { startDemoInstance } from './demo-instance.js';
import { runUntilStopped } from './run-until-stopped.js';

export interface DemoOptions {
  readonly listen: string;
  readonly instances: number;
  readonly logFormat?: LogFormat;
}

/**
 * `switchyard demo`: starts a few demo instances on free ports and a balancer in front of them, prints what to
 * try, and stops everything on Ctrl-C.
 */
export async function demo(options: DemoOptions): Promise<number> {
  const log = createLogger({ format: options.logFormat, level: process.env['SWITCHYARD_LOG_LEVEL'] ?? 'warn' });
  const names = Array.from({ length: options.instances }, (_, i) => `instance-${String.fromCharCode(97 + i)}`);
  const instances = await Promise.all(names.map((name) => startDemoInstance(name)));
  const stopInstances = async (): Promise<void> => {
    await Promise.all(instances.map((instance) => instance.close()));
  };
  let switchyard;
  try {
    switchyard = await createSwitchyard(
      {
        listeners: [{ name: 'web', protocol: 'http', address: options.listen, service: 'demo' }],
        services: { demo: { algorithm: 'round-robin', endpoints: instances.map((i) => ({ id: i.name, url: i.url })) } },
      },
      { logger: log },
    );
  } catch (error) {
    await stopInstances();
    throw error;
  }
  const { port } = switchyard.address('web');
  const lines = [
    `Switchyard demo: a balancer on http://localhost:${port} in front of ${instances.length} instances`,
    ...instances.map((i) => `  ${i.name}  ${i.url}`),
    '',
    'Try:',
    `  curl localhost:${port}/            # run it a few times: the instances take turns (round-robin)`,
    `  for i in 1 2 3 4 5 6; do curl -s localhost:${port}/hello; done`,
    `  curl -i localhost:${port}/        # see Via, X-Request-Id and which instance answered (x-instance)`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
  return runUntilStopped(switchyard, log, { afterStop: stopInstances });
}
