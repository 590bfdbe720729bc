import type { AdminTlsOptions } from '../client/admin-client.js';
import { register } from '../client/register.js';
import { exitCodes } from './run-until-stopped.js';

export interface RegisterCliOptions {
  readonly admin: string;
  readonly service: string;
  readonly url: string;
  readonly id?: string;
  readonly ttl: string;
  readonly weight?: number;
  readonly token?: string;
  readonly tls?: AdminTlsOptions;
}

/**
 * `switchyard register`: registers an instance, keeps its lease alive with heartbeats until SIGTERM or SIGINT, then
 * deregisters. Exit 0 after a clean deregistration, 1 when the balancer refused the registration.
 */
export async function registerCommand(options: RegisterCliOptions): Promise<number> {
  const log = (message: string): void => void process.stderr.write(`switchyard register: ${message}\n`);
  let handle;
  try {
    handle = await register({
      admin: options.admin,
      service: options.service,
      url: options.url,
      ttl: options.ttl,
      ...(options.id === undefined ? {} : { id: options.id }),
      ...(options.weight === undefined ? {} : { weight: options.weight }),
      ...(options.token === undefined ? {} : { token: options.token }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      onWarning: log,
    });
  } catch (error) {
    log((error as Error).message);
    return exitCodes.failure;
  }
  process.stdout.write(`${JSON.stringify({ registered: handle.id, service: options.service, url: options.url })}\n`);
  const registration = handle;
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  await registration.close();
  process.stdout.write(`${JSON.stringify({ deregistered: registration.id })}\n`);
  return exitCodes.ok;
}
