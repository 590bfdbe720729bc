import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  codeClassIndex,
  durationBucketIndex,
  emptyCodeCounts,
  emptyDurationBuckets,
  type RouteTraffic,
} from '../core/traffic.js';
import type { RouteTable } from './routing/route-table.js';
import type { HttpAccessRecord } from './downstream/access-records.js';

/**
 * The request counters of one listener's compiled route table, resolved at `apply()` time: a request finds its
 * counters by its route's rank (an array index), never by building a label key.
 */
export interface RouteCounters {
  /** Requests answered before a route was chosen, or that no route matched (route and service `""`). */
  readonly unrouted: RouteTraffic;
  /** By `CompiledRoute.rank`. */
  readonly byRank: readonly RouteTraffic[];
}

/**
 * Request counts and duration histograms by listener, route and service, owned by the data plane. An entry lives as
 * long as the data plane, so counters never go back when a snapshot replaces the route tables.
 */
export class RequestCounters {
  readonly #entries = new Map<string, RouteTraffic>();

  /** The counters for every route of `table` on `listener`. */
  forTable(listener: string, table: RouteTable): RouteCounters {
    return {
      unrouted: this.#entry(listener, '', ''),
      byRank: table.routes.map((route) => this.#entry(listener, route.name, route.service ?? '')),
    };
  }

  /** A copy of every entry that counted a request. */
  report(): RouteTraffic[] {
    const entries: RouteTraffic[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.durationBuckets.every((n) => n === 0)) continue;
      entries.push({ ...entry, codes: [...entry.codes], durationBuckets: [...entry.durationBuckets] });
    }
    return entries;
  }

  #entry(listener: string, route: string, service: string): RouteTraffic {
    const key = `${listener}\u0000${route}\u0000${service}`;
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = {
        listener,
        route,
        service,
        codes: emptyCodeCounts(),
        durationBuckets: emptyDurationBuckets(),
        durationSumSeconds: 0,
      };
      this.#entries.set(key, entry);
    }
    return entry;
  }
}

/**
 * One client request being counted. It starts as unrouted; the proxy points `counters` at its route's once routing
 * chose one. When the response closes, the status class (or `none` when no response head went out: the client left
 * first) and the duration since the request arrived are added. One listener and two numbers per request.
 */
export class RequestRecord {
  counters: RouteTraffic;
  /** The request's access-log record, when the access log is on; its line is written when the response closes. */
  access: HttpAccessRecord | undefined = undefined;
  readonly #res: ServerResponse;
  readonly #startedAt = performance.now();

  constructor(res: ServerResponse, counters: RouteTraffic) {
    this.#res = res;
    this.counters = counters;
    res.on('close', this.#onClose);
  }

  readonly #onClose = (): void => {
    const seconds = (performance.now() - this.#startedAt) / 1000;
    const counters = this.counters;
    counters.codes[this.#res.headersSent ? codeClassIndex(this.#res.statusCode) : 0]!++;
    counters.durationBuckets[durationBucketIndex(seconds)]!++;
    counters.durationSumSeconds += seconds;
    if (this.access !== undefined) this.access.finish();
  };
}
