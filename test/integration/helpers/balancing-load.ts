import { Agent, request } from 'node:http';
import type { TestContext } from 'node:test';
import { startOrigin, type Origin } from './origin.js';
import { waitFor } from './wait.js';

/** One answered request of a load loop: its number in order of sending, when it was sent, which origin answered. */
export interface Sample {
  readonly index: number;
  readonly sentAt: number;
  readonly origin: string;
}

/** A request an origin is working on: when it came, the work it asked for, and how to answer it. */
interface PendingAnswer {
  readonly startedAt: number;
  readonly ms: number;
  timer: NodeJS.Timeout;
  readonly answer: () => void;
}

/**
 * Origins that answer `200 <name>` after a delay the test changes at run time: `?ms=N` asks for N ms of "work", which
 * takes N × the origin's current slowdown (`setSlowdown`; 1 at start). A change applies to the requests it is working
 * on too, as when an instance recovers and clears its queue. `active` is how many requests each is working on now;
 * `headers` may add response headers computed per response (e.g. `X-Load`).
 */
export class DelayedOrigins {
  readonly origins: Origin[] = [];
  readonly active = new Map<string, number>();
  readonly #slowdown = new Map<string, number>();
  readonly #pending = new Map<string, Set<PendingAnswer>>();

  static async start(
    t: TestContext,
    names: readonly string[],
    headers: (name: string, self: DelayedOrigins) => Record<string, string> = () => ({}),
  ): Promise<DelayedOrigins> {
    const set = new DelayedOrigins();
    for (const name of names) {
      set.#slowdown.set(name, 1);
      set.active.set(name, 0);
      const pending = new Set<PendingAnswer>();
      set.#pending.set(name, pending);
      const origin = await startOrigin(name, (req, res, self) => {
        req.resume();
        const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? '20');
        set.active.set(name, set.active.get(name)! + 1);
        const entry: PendingAnswer = {
          startedAt: Date.now(),
          ms,
          timer: setTimeout(() => entry.answer(), ms * set.#slowdown.get(name)!),
          answer: () => {
            pending.delete(entry);
            res.writeHead(200, { 'content-type': 'text/plain', ...headers(name, set) });
            set.active.set(name, set.active.get(name)! - 1);
            res.end(self.name);
          },
        };
        pending.add(entry);
        res.on('close', () => {
          clearTimeout(entry.timer);
          pending.delete(entry);
        });
      });
      t.after(() => origin.close());
      set.origins.push(origin);
    }
    return set;
  }

  /** From now on `name` works `factor` times slower (1: normal), the requests it is working on included. */
  setSlowdown(name: string, factor: number): void {
    this.#slowdown.set(name, factor);
    const now = Date.now();
    for (const entry of this.#pending.get(name) ?? []) {
      clearTimeout(entry.timer);
      entry.timer = setTimeout(() => entry.answer(), Math.max(0, entry.startedAt + entry.ms * factor - now));
    }
  }

  get urls(): string[] {
    return this.origins.map((o) => o.url);
  }
}

/**
 * A closed loop of `concurrency` clients, each sending its next request as soon as the last one is answered, over
 * keep-alive connections; `pathOf(n)` gives the path of the n-th request. Every answer is kept in order of sending.
 */
export class LoadLoop {
  readonly samples: Sample[] = [];
  readonly errors: string[] = [];
  readonly #agent: Agent;
  readonly #loops: Promise<void>[] = [];
  #sent = 0;
  #running = true;

  constructor(port: number, concurrency: number, pathOf: (n: number) => string = () => '/?ms=20') {
    this.#agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    for (let i = 0; i < concurrency; i++) this.#loops.push(this.#loop(port, pathOf));
  }

  /** Waits until `count` answers in all have come back (generous deadline: the machine may be slow). */
  async reach(count: number, timeoutMs = 60_000): Promise<void> {
    await waitFor(() => this.samples.length >= count, timeoutMs, `${count} answers (errors: ${this.errors.length})`);
  }

  /** The answers to requests sent at or after `fromMs` (and before `untilMs`), in order of sending. */
  sentBetween(fromMs: number, untilMs = Infinity): Sample[] {
    return this.samples.filter((s) => s.sentAt >= fromMs && s.sentAt < untilMs).sort((a, b) => a.index - b.index);
  }

  /** Stops sending; resolves when every client's last request is answered and the connections are closed. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#agent.destroy();
  }

  async #loop(port: number, pathOf: (n: number) => string): Promise<void> {
    while (this.#running) {
      const index = this.#sent++;
      const sentAt = Date.now();
      try {
        const origin = await this.#get(port, pathOf(index));
        this.samples.push({ index, sentAt, origin });
      } catch (error) {
        this.errors.push((error as Error).message);
        if (this.errors.length > 100) return;
      }
    }
  }

  #get(port: number, path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(Buffer.concat(chunks).toString())
            : reject(new Error(`status ${res.statusCode}`)),
        );
      });
      req.on('error', reject);
      req.end();
    });
  }
}

/** How many of `samples` each origin answered. */
export function countByOrigin(samples: readonly Sample[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const sample of samples) counts[sample.origin] = (counts[sample.origin] ?? 0) + 1;
  return counts;
}
