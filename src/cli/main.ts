import { algorithms } from '../config/schema.js';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { SwitchyardError } from '../core/errors.js';
import { adminConnection, withAdminTlsOptions } from './admin-connection.js';
import { demo } from './demo.js';
import { demoFleet } from './demo-fleet.js';
import { pushCommand } from './push.js';
import { registerCommand } from './register.js';
import { reloadCommand } from './reload.js';
import { exitCodes } from './run-until-stopped.js';
import { start } from './start.js';
import { statusCommand } from './status.js';
import {
  parseAlgorithmList,
  parseEndpointCount,
  parseSimulatedDuration,
  presetNames,
  simulate,
  type SimulateOptions,
} from './simulate.js';
import { validate } from './validate.js';
import { packageVersion, versionText } from './version.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const nonNegativeInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
};
const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 26) throw new InvalidArgumentError('expected a whole number from 1 to 26');
  return n;
};

/**
 * The `switchyard` command line. A thin wrapper over the library: parses flags, calls one verb, and maps the outcome
 * to the exit codes of SPEC.md (0 ok, 1 start/config failure, 2 usage, 3 drain deadline exceeded).
 */
export async function main(argv: readonly string[]): Promise<number> {
  let code: number = exitCodes.ok;
  const program = new Command('switchyard')
    .description('A load balancer and reverse proxy for Node.js')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  const logFormat = new Option('--log-format <format>', 'json (default) or pretty')
    .choices(['json', 'pretty'])
    .default('json');

  program
    .command('start')
    .description('run the balancer in the foreground')
    .option('-c, --config <file>', 'configuration file (default: $SWITCHYARD_CONFIG or switchyard.yaml)')
    .option('--listen <address>', 'config-less: address to listen on, such as :8080 (default :8080)')
    .option('--to <url>', 'config-less: an instance URL (repeat for each instance)', collect, [])
    .option('--admin <address>', 'config-less: admin API address, or "off" (default 127.0.0.1:9901)')
    .addOption(new Option('--algorithm <name>', 'config-less: balancing algorithm').choices([...algorithms]))
    .addOption(logFormat)
    .option('--log-level <level>', 'trace, debug, info, warn, error (default: $SWITCHYARD_LOG_LEVEL or info)')
    .option('--watch', "reload when the configuration file changes (watches the file's directory)")
    .action(
      async (options: {
        config?: string;
        watch?: boolean;
        listen?: string;
        to: string[];
        algorithm?: string;
        admin?: string;
        logFormat: 'json' | 'pretty';
        logLevel?: string;
      }) => {
        code = await start(options);
      },
    );

  program
    .command('validate')
    .description('check a configuration file and print every problem as file:line:col path: message')
    .option('-c, --config <file>', 'configuration file (default: $SWITCHYARD_CONFIG or switchyard.yaml)')
    .action(async (options: { config?: string }) => {
      code = await validate(options.config ?? process.env['SWITCHYARD_CONFIG'] ?? 'switchyard.yaml');
    });

  program
    .command('demo')
    .description('start demo instances and a balancer in front of them, and print what to try')
    .option('--listen <address>', 'balancer address', ':8080')
    .option('--admin <address>', 'admin API address', '127.0.0.1:9901')
    .option('--instances <n>', 'how many demo instances', positiveInt, 3)
    .option('--fleet', 'three nodes on a local etcd (etcd on PATH), each instance registering through another node')
    .addOption(logFormat)
    .action(
      async (options: {
        listen: string;
        admin: string;
        instances: number;
        fleet?: boolean;
        logFormat: 'json' | 'pretty';
      }) => {
        code = options.fleet === true ? await demoFleet(options) : await demo(options);
      },
    );

  const registerVerb = program
    .command('register')
    .description('register an instance with a balancer and keep its lease alive until stopped, then deregister')
    .requiredOption('--admin <url>', 'admin API base URL, such as http://127.0.0.1:9901')
    .requiredOption('--service <name>', 'service to join')
    .requiredOption('--url <url>', "this instance's URL as the balancer reaches it")
    .option('--id <id>', 'endpoint id (default: host:port of --url)')
    .option('--ttl <duration>', 'lease length, such as 10s', '10s')
    .option('--weight <n>', 'relative share of traffic', nonNegativeInt)
    .option(
      '--token <token>',
      'registration or admin token (default: $SWITCHYARD_REGISTER_TOKEN, $SWITCHYARD_ADMIN_TOKEN, the token file)',
    );
  withAdminTlsOptions(registerVerb).action(
    async (options: {
      admin: string;
      service: string;
      url: string;
      id?: string;
      ttl: string;
      weight?: number;
      token?: string;
    }) => {
      const connection = adminConnection(options, ['SWITCHYARD_REGISTER_TOKEN', 'SWITCHYARD_ADMIN_TOKEN']);
      code = await registerCommand({ ...options, ...connection });
    },
  );

  const reloadVerb = program
    .command('reload')
    .description('ask a running balancer to re-read its configuration file (and, with --workers, to roll its workers)')
    .option('--admin <url>', 'admin API base URL', 'http://127.0.0.1:9901')
    .option('--token <token>', 'admin token (default: $SWITCHYARD_ADMIN_TOKEN, the token file)')
    .option('--workers', 'also replace the worker processes one at a time (workers > 0 only)');
  withAdminTlsOptions(reloadVerb).action(async (options: { admin: string; token?: string; workers?: boolean }) => {
    code = await reloadCommand({ ...options, ...adminConnection(options, ['SWITCHYARD_ADMIN_TOKEN']) });
  });

  program
    .command('push')
    .description("validate a file and store its routes and services in the fleet's etcd (compare-and-swap)")
    .requiredOption('-c, --config <file>', 'configuration file whose routes and services the fleet shares')
    .option('--etcd <url>', 'an etcd client URL (repeat; default: registry.etcd.endpoints of the file)', collect, [])
    .option('--prefix <prefix>', 'key prefix of the fleet (default: registry.etcd.prefix of the file)')
    .action(async (options: { config: string; etcd: string[]; prefix?: string }) => {
      code = await pushCommand(options);
    });

  const statusVerb = program
    .command('status')
    .description('services and endpoints with state, health, weight, in-flight, rate, errors and p99, as a table')
    .option('--admin <url>', 'admin API base URL', 'http://127.0.0.1:9901')
    .option('--token <token>', 'read or admin token (default: $SWITCHYARD_ADMIN_TOKEN, the token file)')
    .option('--watch', 'print a new table every second (and at each change) until interrupted')
    .option('--fleet', 'list the nodes of the fleet (version, config hash, registry revision, refusals)');
  withAdminTlsOptions(statusVerb).action(
    async (options: { admin: string; token?: string; watch?: boolean; fleet?: boolean }) => {
      // adminConnection also points fetch at the TLS options, for status's event stream.
      const { token } = adminConnection(options, ['SWITCHYARD_ADMIN_TOKEN']);
      code = await statusCommand({
        admin: options.admin,
        ...(options.watch === undefined ? {} : { watch: options.watch }),
        ...(options.fleet === undefined ? {} : { fleet: options.fleet }),
        ...(token === undefined ? {} : { token }),
      });
    },
  );

  program
    .command('simulate')
    .description('replay a seeded synthetic workload against the balancing algorithms on a virtual clock')
    .addOption(new Option('--preset <name>', 'workload').choices(presetNames).default('short-uniform'))
    .option('--algorithms <list>', 'comma-separated algorithms to run (default: all eight)', parseAlgorithmList)
    .option('--seed <n>', "seed of the workload and of the algorithms' random choices", nonNegativeInt, 1)
    .option('--duration <duration>', "virtual time, such as 30s or 2m (default: the preset's)", parseSimulatedDuration)
    .option('--endpoints <n>', "number of endpoints (default: the preset's)", parseEndpointCount)
    .option('--out <file>', 'write an SVG chart: load per endpoint over time, one panel per algorithm')
    .addOption(new Option('--format <format>', 'table (Markdown) or json').choices(['table', 'json']).default('table'))
    .action((options: SimulateOptions) => {
      code = simulate(options);
    });

  program
    .command('version')
    .description('print the versions of Switchyard and Node.js')
    .action(() => {
      process.stdout.write(`${versionText()}\n`);
    });

  try {
    await program.parseAsync(argv);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    }
    if (error instanceof SwitchyardError) {
      process.stderr.write(`switchyard: ${error.message}\n`);
      return error.exitCode;
    }
    const errno = error as NodeJS.ErrnoException;
    if (errno.code === 'EADDRINUSE' || errno.code === 'EACCES' || errno.code === 'EADDRNOTAVAIL') {
      process.stderr.write(`switchyard: cannot listen: ${errno.message}\n`);
      return exitCodes.failure;
    }
    process.stderr.write(`switchyard: ${(error as Error).stack ?? String(error)}\n`);
    return exitCodes.failure;
  }
}

// Run when executed directly (`tsx src/cli/main.ts …`); bin/switchyard.js imports `main` from the build instead.
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exit(await main(process.argv)); // never leave by draining the loop: see run-until-stopped.ts
}
