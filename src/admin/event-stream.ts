import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ControlEvent, ControlEvents } from '../control/control-events.js';
import type { Logger } from '../core/log.js';
import type { LiveStats, LiveView } from './live-stats.js';

/** Tuning of `GET /api/events` (the defaults suit people; tests shorten them). */
export interface EventStreamTuning {
  /** How often `stats` events go out (ms); default 1000. */
  readonly statsIntervalMs?: number;
  /** Bytes a client may leave unread on Switchyard's side before it is dropped; default 4 MiB. */
  readonly maxBufferedBytes?: number;
  /** How often a comment line keeps an idle stream (and the proxies on its way) open (ms); default 15000. */
  readonly heartbeatMs?: number;
}

/** The `snapshot` event: the `stats` view, each endpoint's recent requests per interval, and the recent events. */
export interface SnapshotEvent extends LiveView {
  /** Requests per interval, oldest first, by service then endpoint id (the balance chart's past). */
  readonly history: Readonly<Record<string, Readonly<Record<string, readonly number[]>>>>;
  readonly events: readonly Record<string, unknown>[];
}

interface Client {
  readonly res: ServerResponse;
  readonly remote: string | undefined;
}

/**
 * Server-Sent Events for the dashboard (`GET /api/events`, WHATWG HTML §9.2): on connect a `snapshot` event, then a
 * `stats` event per sampling interval and a `change` event for each control-plane event as it happens, with comment
 * heartbeats in between. Each event is serialised once for every client. A client that reads slower than events come
 * is dropped once more than `maxBufferedBytes` wait on Switchyard's side for it (it reconnects and gets a fresh
 * snapshot): memory per client stays bounded. Closing ends every stream.
 */
export class EventStream {
  readonly #live: LiveStats;
  readonly #events: ControlEvents;
  readonly #log: Logger;
  readonly #maxBufferedBytes: number;
  readonly #clients = new Set<Client>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #heartbeat: NodeJS.Timeout;

  constructor(live: LiveStats, events: ControlEvents, log: Logger, tuning: EventStreamTuning = {}) {
    this.#live = live;
    this.#events = events;
    this.#log = log;
    this.#maxBufferedBytes = tuning.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.#unsubscribe.push(
      live.subscribe((view) => this.#broadcast('stats', view)),
      events.subscribe((event) => this.#broadcast('change', eventJson(event))),
    );
    this.#heartbeat = setInterval(() => this.#broadcastText(': heartbeat\n\n'), tuning.heartbeatMs ?? 15_000);
    this.#heartbeat.unref();
  }

  /** Streams clients connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Takes over an authorised `GET /api/events`: headers, the snapshot, then every event until either side closes. */
  open(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    req.socket.setNoDelay(true);
    const client: Client = { res, remote: req.socket.remoteAddress };
    this.#clients.add(client);
    res.on('close', () => this.#clients.delete(client));
    res.on('error', () => this.#clients.delete(client));
    // EventSource reconnects by itself; `retry` tells it how soon (ms).
    this.#write(client, `retry: 2000\n${frame('snapshot', this.#snapshot())}`);
  }

  /** Ends every stream and stops listening for events. */
  close(): void {
    clearInterval(this.#heartbeat);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    for (const client of this.#clients) client.res.end();
    this.#clients.clear();
  }

  #snapshot(): SnapshotEvent {
    // As of now, not of the last sample: `switchyard status` right after a drain shows the drain.
    const view = this.#live.current();
    const history: Record<string, Record<string, readonly number[]>> = {};
    for (const service of view.services) {
      const byEndpoint: Record<string, readonly number[]> = {};
      for (const endpoint of service.endpoints) byEndpoint[endpoint.id] = this.#live.history(service.name, endpoint.id);
      history[service.name] = byEndpoint;
    }
    return { ...view, history, events: this.#events.recent().map(eventJson) };
  }

  #broadcast(name: string, data: unknown): void {
    if (this.#clients.size > 0) this.#broadcastText(frame(name, data));
  }

  #broadcastText(text: string): void {
    for (const client of this.#clients) this.#write(client, text);
  }

  #write(client: Client, text: string): void {
    const { res } = client;
    if (res.destroyed) return;
    res.write(text);
    if (res.writableLength <= this.#maxBufferedBytes) return;
    this.#clients.delete(client);
    this.#log.warn(
      { client: client.remote, bufferedBytes: res.writableLength },
      'event stream client too slow: disconnected',
    );
    res.destroy();
  }
}

/** A control-plane event on the wire: times as ISO strings, as everywhere in the admin API. */
export function eventJson(event: ControlEvent): Record<string, unknown> {
  const json: Record<string, unknown> = { ...event, at: new Date(event.at).toISOString() };
  if ('ejection' in event && event.ejection !== undefined) {
    const { until, count } = event.ejection;
    json['ejection'] = { until: until === undefined ? null : new Date(until).toISOString(), count };
  }
  return json;
}

/** One SSE event. JSON has no raw line breaks, so the data is a single `data:` line. */
function frame(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}
