import type { EndpointLive, LiveView } from '../admin/live-stats.js';
import { fleetStatus } from './fleet-status.js';
import { exitCodes } from './run-until-stopped.js';

export interface StatusOptions {
  /** Admin API base URL, such as http://127.0.0.1:9901. */
  readonly admin: string;
  /** Read or admin token; none when the admin API has no tokens. */
  readonly token?: string;
  /** Print a new table at every stats event until interrupted. */
  readonly watch?: boolean;
  /** Gives up when no answer came within this many ms; default 10 s. */
  readonly timeoutMs?: number;
  /** List the nodes of the fleet (`GET /api/nodes`) instead of the services. */
  readonly fleet?: boolean;
}

/** Where the command writes (tests and embedding pass their own). */
export interface StatusOutput {
  write(text: string): void;
  readonly isTTY?: boolean;
  /** A stream's 'error' event (EPIPE when the reader went away, as `status --watch | head` does). */
  on?(event: 'error', listener: (error: NodeJS.ErrnoException) => void): unknown;
  off?(event: 'error', listener: (error: NodeJS.ErrnoException) => void): unknown;
}

/**
 * `switchyard status`: services and endpoints (state, health, weight, in-flight, rate, errors, p99, last check) as a
 * table, read from the admin API's event stream (`GET /api/events`): its first event is the whole picture, so one
 * request answers. With `watch`, a new table follows every `stats` event (each second) until SIGINT or SIGTERM.
 * Exit 0, or 1 when the admin API cannot be reached, refuses the token, or ends the stream.
 */
export async function statusCommand(
  options: StatusOptions,
  out: StatusOutput = process.stdout,
  err: StatusOutput = process.stderr,
): Promise<number> {
  const base = options.admin.replace(/\/+$/, '');
  const fail = (message: string): number => {
    err.write(`switchyard status: ${message}\n`);
    return exitCodes.failure;
  };
  if (options.fleet === true) return fleetStatus(base, options, out, fail);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('timeout')), options.timeoutMs ?? 10_000);
  const stop = (): void => controller.abort(new Error('stopped'));
  // The reader went away (`status --watch | head`): stop quietly, as `yes | head` does, with no stack trace.
  let outputClosed = false;
  const closed = (error: NodeJS.ErrnoException): void => {
    outputClosed = true;
    if (error.code !== 'EPIPE') err.write(`switchyard status: writing the output failed: ${error.message}\n`);
    stop();
  };
  out.on?.('error', closed);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    let res: Response;
    try {
      res = await fetch(`${base}/api/events`, {
        headers: {
          accept: 'text/event-stream',
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        },
        signal: controller.signal,
      });
    } catch (error) {
      return fail(`cannot reach the admin API at ${base}: ${reason(error, controller.signal)}`);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      const hint = options.token === undefined ? 'pass --token or set SWITCHYARD_ADMIN_TOKEN' : 'check the token';
      return fail(`the admin API at ${base} refused the request (${res.status} ${res.statusText}): ${hint}`);
    }
    if (res.status !== 200 || res.body === null) {
      await res.body?.cancel();
      return fail(`the admin API at ${base} answered ${res.status} ${res.statusText} to GET /api/events`);
    }
    let shown = 0;
    let view: LiveView | undefined;
    try {
      for await (const event of sseEvents(res.body)) {
        if (outputClosed) break;
        if (event.name === 'change' && view !== undefined && options.watch === true) {
          // A drain, a weight change, a health flip shows at once, not at the next stats event.
          const patched = applyChange(view, JSON.parse(event.data) as ChangeEvent);
          if (patched === view) continue;
          view = patched;
        } else if (event.name === 'snapshot' || event.name === 'stats') {
          view = JSON.parse(event.data) as LiveView;
        } else continue;
        clearTimeout(timer);
        if (options.watch === true && out.isTTY === true) out.write('\u001b[H\u001b[2J');
        else if (shown > 0) out.write('\n');
        out.write(renderStatus(view, base));
        shown++;
        if (options.watch !== true) {
          controller.abort(new Error('done'));
          return exitCodes.ok;
        }
      }
      if (outputClosed) return exitCodes.ok;
    } catch (error) {
      if (controller.signal.aborted && (shown > 0 || outputClosed)) return exitCodes.ok;
      return fail(`reading the event stream of ${base} failed: ${reason(error, controller.signal)}`);
    }
    return fail(`the admin API at ${base} closed the event stream`);
  } finally {
    clearTimeout(timer);
    // Once the output broke, later write errors may still arrive: the listener stays to swallow them.
    if (!outputClosed) out.off?.('error', closed);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** The fields of a `change` event (control-events.ts) that the table shows. */
interface ChangeEvent {
  readonly type: string;
  readonly service?: string;
  readonly endpoint?: string;
  readonly url?: string;
  readonly source?: string;
  readonly to?: string | number;
}

/** The view with one control-plane change applied (the same view when the change is not one the table shows). */
export function applyChange(view: LiveView, change: ChangeEvent): LiveView {
  const service = view.services.find((s) => s.name === change.service);
  if (service === undefined || change.endpoint === undefined) return view;
  let endpoints: EndpointLive[] = [...service.endpoints];
  const index = endpoints.findIndex((e) => e.id === change.endpoint);
  const existing = endpoints[index];
  if (change.type === 'endpoint-removed') endpoints = endpoints.filter((e) => e.id !== change.endpoint);
  else if (change.type === 'endpoint-added' && existing === undefined) endpoints.push(newEndpoint(change));
  else if (existing !== undefined && change.type === 'state')
    endpoints[index] = { ...existing, state: String(change.to) };
  else if (existing !== undefined && change.type === 'health')
    endpoints[index] = { ...existing, health: String(change.to) };
  else if (existing !== undefined && change.type === 'weight') {
    const weight = Number(change.to);
    endpoints[index] = { ...existing, weight, effectiveWeight: weight };
  } else return view;
  return {
    ...view,
    at: new Date().toISOString(),
    services: view.services.map((s) => (s === service ? { ...service, endpoints } : s)),
  };
}

function newEndpoint(change: ChangeEvent): EndpointLive {
  return {
    id: change.endpoint ?? '',
    url: change.url ?? '',
    source: change.source ?? '',
    state: 'ready',
    health: 'unknown',
    weight: 1,
    effectiveWeight: 1,
    lastCheck: null,
    ejection: null,
    inFlight: 0,
    requests: 0,
    recent: 0,
    bytes: { toEndpoint: 0, fromEndpoint: 0 },
    requestRate: 0,
    errorRate: null,
    latencyMs: null,
    stickyShare: null,
  };
}

/** The table for one view: a summary line, then one line per endpoint, grouped by service. */
export function renderStatus(view: LiveView, base: string): string {
  const header = [
    'SERVICE',
    'ENDPOINT',
    'STATE',
    'HEALTH',
    'WEIGHT',
    'IN-FLIGHT',
    'REQ/S',
    'ERRORS',
    'P99',
    'LAST CHECK',
  ];
  const rows: string[][] = [];
  let endpoints = 0;
  let healthy = 0;
  for (const service of view.services) {
    if (service.endpoints.length === 0) rows.push([service.name, '(no endpoints)', '', '', '', '', '', '', '', '']);
    for (const e of service.endpoints) {
      endpoints++;
      if (e.health === 'up' && e.state === 'ready') healthy++;
      rows.push([
        service.name + (service.panic ? ' (panic)' : ''),
        e.id,
        e.state,
        e.health,
        weightText(e),
        String(e.inFlight),
        e.requestRate.toFixed(1),
        e.errorRate === null ? '-' : `${(e.errorRate * 100).toFixed(1)}%`,
        e.latencyMs === null ? '-' : `${formatMs(e.latencyMs.p99)}`,
        e.lastCheck === null ? '-' : `${e.lastCheck.detail} (${ago(e.lastCheck.at, view.at)})`,
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const time = new Date(view.at)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  const summary = `Switchyard at ${base}: ${plural(view.services.length, 'service')}, ${healthy}/${endpoints} endpoints ready and up (${time})`;
  return `${summary}\n${[header, ...rows].map(line).join('\n')}\n`;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function weightText(e: EndpointLive): string {
  if (e.weight === 0 || e.effectiveWeight >= e.weight) return String(e.weight);
  return `${e.weight} (slow start ${Math.round((e.effectiveWeight / e.weight) * 100)}%)`;
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

function ago(iso: string, now: string): string {
  const seconds = Math.max(0, Math.round((Date.parse(now) - Date.parse(iso)) / 1000));
  return `${seconds} s ago`;
}

function reason(error: unknown, signal: AbortSignal): string {
  if (signal.aborted && signal.reason instanceof Error && signal.reason.message === 'timeout')
    return 'no answer in time';
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/** The events of a `text/event-stream` body (WHATWG HTML §9.2.6), name and data; comments and ids are skipped. */
export async function* sseEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ readonly name: string; readonly data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  let name = 'message';
  let data: string[] = [];
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.search(/\r\n|\r|\n/)) !== -1) {
      const lineEnd = buffer[newline] === '\r' && buffer[newline + 1] === '\n' ? newline + 2 : newline + 1;
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(lineEnd);
      if (line === '') {
        if (data.length > 0) yield { name, data: data.join('\n') };
        name = 'message';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') name = value;
      else if (field === 'data') data.push(value);
    }
  }
}
