import type { Etcd3 } from 'etcd3';
import { formatProblem, loadConfigFile } from '../config/load-file.js';
import { configSchema, type EtcdConfig, type SwitchyardConfig } from '../config/schema.js';
import { etcdSchema } from '../config/registry-schema.js';
import type { SharedConfig } from '../control/fleet/shared-config.js';
import { createEtcdClient } from '../control/registry/etcd-client.js';
import { exitCodes } from './run-until-stopped.js';

export interface PushOptions {
  readonly config: string;
  /** etcd client URLs; default: the file's `registry.etcd.endpoints`. */
  readonly etcd?: readonly string[];
  /** Key prefix; default: the file's `registry.etcd.prefix`. */
  readonly prefix?: string;
}

/** The outcome of one compare-and-swap write of the `config` key. */
export type PushResult =
  { readonly ok: true; readonly revision: number } | { readonly ok: false; readonly currentRevision: number };

/**
 * `switchyard push -c FILE`: validates the file (every problem as `file:line:col path: message`), then stores its
 * routes and services under `{prefix}config` with a compare-and-swap on the revision it read, and prints the new
 * revision. Every node with `sharedConfig: true` applies it as a hot reload, or refuses it (`switchyard status
 * --fleet` shows which). Only routes and services are written: nothing else of the file (tokens, secrets, TLS keys).
 */
export async function pushCommand(options: PushOptions): Promise<number> {
  const loaded = await loadConfigFile(options.config);
  if (!loaded.ok) {
    for (const problem of loaded.problems) process.stderr.write(`${formatProblem(problem)}\n`);
    process.stderr.write('switchyard push: nothing was pushed\n');
    return exitCodes.failure;
  }
  const etcd = etcdOptions(loaded.config, options);
  if (typeof etcd === 'string') {
    process.stderr.write(`switchyard push: ${etcd}\n`);
    return exitCodes.usage;
  }
  const shared: SharedConfig = {
    routes: loaded.config.routes,
    services: loaded.config.services,
    pushedAt: new Date().toISOString(),
  };
  // What is stored is the validated form; make sure a node will read it back the same way.
  const again = configSchema.safeParse({
    ...(JSON.parse(JSON.stringify(loaded.config)) as object),
    routes: shared.routes,
    services: shared.services,
  });
  if (!again.success) {
    process.stderr.write(
      `switchyard push: the validated routes and services do not validate again: ${again.error.message}\n`,
    );
    return exitCodes.failure;
  }
  const client = createEtcdClient(etcd);
  try {
    const current = await client.get(`${etcd.prefix}config`).exec();
    const readRevision = Number(current.kvs[0]?.mod_revision ?? 0);
    const result = await pushSharedConfig(client, etcd.prefix, shared, readRevision);
    if (!result.ok) {
      process.stderr.write(
        `switchyard push: the shared configuration changed while pushing (now revision ${result.currentRevision}); nothing was pushed: run push again\n`,
      );
      return exitCodes.failure;
    }
    process.stdout.write(`pushed ${options.config} to ${etcd.prefix}config: revision ${result.revision}\n`);
    return exitCodes.ok;
  } catch (error) {
    process.stderr.write(
      `switchyard push: cannot write to etcd at ${etcd.endpoints.join(', ')}: ${(error as Error).message}\n`,
    );
    return exitCodes.failure;
  } finally {
    client.close();
  }
}

/**
 * Writes the shared configuration if `{prefix}config` was last modified at `readRevision` (0: it does not exist):
 * the etcd transaction compares its mod revision, so two pushes from the same starting point cannot both win.
 */
export async function pushSharedConfig(
  client: Etcd3,
  prefix: string,
  shared: SharedConfig,
  readRevision: number,
): Promise<PushResult> {
  const key = `${prefix}config`;
  const response = await client
    .if(key, 'Mod', '==', readRevision)
    .then(client.put(key).value(JSON.stringify(shared)))
    .commit();
  if (response.succeeded) return { ok: true, revision: Number(response.header.revision) };
  const now = await client.get(key).exec();
  return { ok: false, currentRevision: Number(now.kvs[0]?.mod_revision ?? 0) };
}

function etcdOptions(config: SwitchyardConfig, options: PushOptions): EtcdConfig | string {
  const file = config.registry.etcd;
  const endpoints = options.etcd !== undefined && options.etcd.length > 0 ? options.etcd : file?.endpoints;
  if (endpoints === undefined) return 'name the etcd cluster with --etcd URL or registry.etcd.endpoints in the file';
  const parsed = etcdSchema.safeParse({
    ...file,
    endpoints,
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
  });
  if (!parsed.success) return parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ');
  return parsed.data;
}
