import type { SwitchyardConfigInput } from '../../config/schema.js';

/** The routes and services a fleet shares (the `config` key, written by `switchyard push`). */
export interface SharedConfig {
  readonly routes: NonNullable<SwitchyardConfigInput['routes']>;
  readonly services: NonNullable<SwitchyardConfigInput['services']>;
  /** ISO time of the push. */
  readonly pushedAt?: string;
}

/** Checks the shape of a stored shared configuration (its content is validated with the node's own file). */
export function parseSharedConfig(
  value: unknown,
): { readonly ok: true; readonly config: SharedConfig } | { readonly ok: false; readonly problems: string[] } {
  const record = value as Partial<Record<keyof SharedConfig, unknown>> | null;
  const problems: string[] = [];
  if (typeof record !== 'object' || record === null) return { ok: false, problems: ['config: not a JSON object'] };
  if (!Array.isArray(record.routes)) problems.push('config.routes: expected an array');
  if (typeof record.services !== 'object' || record.services === null || Array.isArray(record.services))
    problems.push('config.services: expected an object');
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config: record as SharedConfig };
}

/**
 * The configuration a node runs: its own file for listeners, TLS, admin, registry and node identity, and the shared
 * routes and services when there are some (`sharedConfig: true`).
 */
export function withShared(file: SwitchyardConfigInput, shared: SharedConfig | undefined): SwitchyardConfigInput {
  return shared === undefined ? file : { ...file, routes: shared.routes, services: shared.services };
}
