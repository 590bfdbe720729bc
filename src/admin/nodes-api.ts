import type { Fleet } from '../control/fleet/fleet.js';
import { RegistryUnavailableError } from '../control/registry/registry-store.js';
import { ApiError } from './http-kit.js';

/**
 * `GET /api/nodes`: every node of the fleet (this one first, from its live values) with its version, config hash,
 * the registry revision it applied, the shared config revision it runs and what it refused; `behind` marks a node
 * that has not announced the newest change this node applied. Without a fleet the list is this node alone.
 */
export function nodesResult(
  fleet: Fleet | undefined,
  self: () => Record<string, unknown>,
): { readonly status: number; readonly body: unknown } {
  if (fleet === undefined) {
    return { status: 200, body: { store: 'local', registry: { up: true, revision: null }, nodes: [self()] } };
  }
  const status = fleet.status();
  return {
    status: 200,
    body: {
      store: 'etcd',
      registry: { up: status.up, revision: status.revision, resyncs: status.resyncs },
      nodes: fleet.nodes(),
    },
  };
}

/** A write the shared store could not take: 503 `registry_unavailable` with Retry-After (SPEC.md). */
export function registryUnavailable(error: unknown): unknown {
  if (!(error instanceof RegistryUnavailableError)) return error;
  return new ApiError(
    503,
    'Registry unavailable',
    `${error.message}; traffic is served from the last state seen — retry`,
    { type: 'https://switchyard.dev/problems/registry_unavailable', code: 'registry_unavailable' },
    { 'retry-after': '1' },
  );
}
