import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { Agent, setGlobalDispatcher } from 'undici';
import type { AdminTlsOptions } from '../client/admin-client.js';
import { SwitchyardError } from '../core/errors.js';
import { resolveAdminToken } from './admin-token.js';

/** The connection flags every client verb (`status`, `reload`, `register`) shares, as commander parsed them. */
export interface AdminConnectionFlags {
  readonly admin: string;
  readonly token?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** What a client verb needs to reach the admin API: the token (when any) and the TLS options. */
export interface AdminConnection {
  readonly token?: string;
  readonly tls: AdminTlsOptions;
}

/** Adds `--ca`, `--cert` and `--key` (an admin API on https://, with mTLS) to a client verb. */
export function withAdminTlsOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--ca <file>', "CA of an https:// admin API's certificate (default: $SWITCHYARD_ADMIN_CA)").env(
        'SWITCHYARD_ADMIN_CA',
      ),
    )
    .addOption(
      new Option('--cert <file>', 'client certificate for an admin API that requires one (mTLS)').env(
        'SWITCHYARD_ADMIN_CERT',
      ),
    )
    .addOption(new Option('--key <file>', "the client certificate's key").env('SWITCHYARD_ADMIN_KEY'));
}

/**
 * Resolves the token (`--token`, then `variables`, then the token file of a loopback admin URL) and reads the TLS
 * files. Also makes `fetch` in this process use the TLS options (the status verb reads the event stream with it).
 */
export function adminConnection(flags: AdminConnectionFlags, variables: readonly string[]): AdminConnection {
  const warn = (message: string): void => void process.stderr.write(`switchyard: ${message}\n`);
  const token = resolveAdminToken(flags.token, variables, flags.admin, warn);
  const read = (file: string | undefined, what: string): Buffer | undefined => {
    if (file === undefined || file === '') return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new SwitchyardError(`cannot read the ${what} ${file}: ${(error as Error).message}`);
    }
  };
  const ca = read(flags.ca, 'CA file');
  const cert = read(flags.cert, 'client certificate');
  const key = read(flags.key, 'client key');
  if ((cert === undefined) !== (key === undefined))
    throw new SwitchyardError('--cert and --key go together (a client certificate and its key)', 2);
  const tls: AdminTlsOptions = {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
  };
  if (Object.keys(tls).length > 0) setGlobalDispatcher(new Agent({ connect: { ...tls } }));
  return { ...(token === undefined ? {} : { token }), tls };
}
