import type { NodeView } from '../control/fleet/fleet.js';
import { exitCodes } from './run-until-stopped.js';

/** The body of `GET /api/nodes`. */
interface NodesBody {
  readonly store: string;
  readonly registry: { readonly up: boolean; readonly revision: number | null };
  readonly nodes: readonly Partial<NodeView>[];
}

/**
 * `switchyard status --fleet`: every node of the fleet as a table (name, admin address, version, config hash, the
 * registry revision it applied, the shared config revision it runs, whether it sees etcd, what it refused), so that
 * a node with another config hash, a lagging revision or a refusal stands out.
 */
export async function fleetStatus(
  base: string,
  options: { readonly token?: string; readonly timeoutMs?: number },
  out: { write(text: string): void },
  fail: (message: string) => number,
): Promise<number> {
  let res: Response;
  try {
    res = await fetch(`${base}/api/nodes`, {
      headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return fail(`cannot reach the admin API at ${base}: ${cause?.code ?? (error as Error).message}`);
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    return fail(
      `the admin API at ${base} refused the request (${res.status}): pass --token or set SWITCHYARD_ADMIN_TOKEN`,
    );
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    return fail(`the admin API at ${base} answered ${res.status} to GET /api/nodes`);
  }
  out.write(renderNodes((await res.json()) as NodesBody, base));
  return exitCodes.ok;
}

/** The nodes table: a summary line, then one line per node, this one marked with `*`. */
export function renderNodes(body: NodesBody, base: string): string {
  const header = ['NODE', 'ADMIN', 'VERSION', 'CONFIG', 'REVISION', 'SHARED', 'ETCD', 'STARTED', 'REFUSED'];
  const rows = body.nodes.map((n) => [
    `${n.self === true ? '*' : ' '}${n.name ?? '?'}`,
    n.adminAddress ?? '-',
    n.version ?? '-',
    n.configHash ?? '-',
    n.revision === undefined ? '-' : `${n.revision}${n.behind === true ? ' (behind)' : ''}`,
    n.sharedConfigRevision === undefined || n.sharedConfigRevision === null ? 'file' : String(n.sharedConfigRevision),
    n.registryUp === undefined ? '-' : n.registryUp ? 'up' : 'DOWN',
    n.startedAt?.replace('T', ' ').replace(/\.\d+Z$/, 'Z') ?? '-',
    n.refused === undefined || n.refused === null
      ? '-'
      : `revision ${n.refused.revision}: ${n.refused.problems.join('; ')}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const hashes = new Set(body.nodes.map((n) => n.configHash));
  const drift = hashes.size > 1 ? ', CONFIG DIFFERS between nodes' : '';
  const registry =
    body.store === 'etcd'
      ? `etcd ${body.registry.up ? 'reachable' : 'UNREACHABLE'}, revision ${body.registry.revision}`
      : 'local store (no fleet)';
  const summary = `Fleet seen from ${base}: ${body.nodes.length} node${body.nodes.length === 1 ? '' : 's'}, ${registry}${drift}`;
  return `${summary}\n${[header, ...rows].map(line).join('\n')}\n`;
}
