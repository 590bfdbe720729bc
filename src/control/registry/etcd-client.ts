import { readFileSync } from 'node:fs';
import type * as Cockatiel from 'cockatiel';
import type * as Etcd3Package from 'etcd3';
import type { Etcd3, IOptions } from 'etcd3';
import type { EtcdConfig } from '../../config/schema.js';
import { lazyRequire } from '../../core/lazy-require.js';

// Loaded when the first etcd client is made: nodes on the file store never load gRPC.
const etcd3 = lazyRequire<typeof Etcd3Package>('etcd3');
const cockatiel = lazyRequire<typeof Cockatiel>('cockatiel');

/** Watch reconnects back off from 100 ms to at most 1 s: a returning etcd is noticed within about a second. */
interface Backoff {
  readonly duration: number;
  next(): Backoff;
}
const backoff = (ms: number): Backoff => ({ duration: ms, next: () => backoff(Math.min(ms * 2, 1_000)) });

/**
 * An etcd3 client for the fleet's config: TLS files read once, username + password, a deadline on every unary call
 * (a partitioned member must not hold a registration call for long) and short circuit-breaker and watch backoffs, so
 * that a member coming back is used again within about a second.
 */
export function createEtcdClient(config: EtcdConfig): Etcd3 {
  const { Etcd3, isRecoverableError } = etcd3();
  const { circuitBreaker, ConsecutiveBreaker, handleWhen } = cockatiel();
  const tls = config.tls;
  const options: IOptions = {
    hosts: config.endpoints.map((url) => url.replace(/\/+$/, '')),
    dialTimeout: config.requestTimeoutMs,
    defaultCallOptions: (context) =>
      context.isStream ? {} : { deadline: new Date(Date.now() + config.requestTimeoutMs) },
    faultHandling: {
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1_000, breaker: new ConsecutiveBreaker(3) }),
      watchBackoff: backoff(100),
    },
    ...(config.username === undefined ? {} : { auth: { username: config.username, password: config.password ?? '' } }),
    ...(tls === undefined || (tls.ca === undefined && tls.cert === undefined)
      ? {}
      : {
          credentials: {
            // grpc-js takes null for "the system's roots".
            rootCertificate: tls.ca === undefined ? (null as unknown as Buffer) : readFileSync(tls.ca),
            ...(tls.cert === undefined || tls.key === undefined
              ? {}
              : { certChain: readFileSync(tls.cert), privateKey: readFileSync(tls.key) }),
          },
        }),
  };
  return new Etcd3(options);
}

/** A store operation ran past its deadline. */
export class DeadlineError extends Error {}

/**
 * Runs `work` under one deadline; past it the promise rejects with `DeadlineError` while `work` may still run (its
 * outcome is then ignored). `live()` throws once the deadline passed, so a step not yet started never starts late.
 */
export async function withDeadline<T>(ms: number, work: (live: () => void) => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  const live = (): void => {
    if (expired) throw new DeadlineError('deadline passed');
  };
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(new DeadlineError(`etcd did not answer within ${ms} ms`));
    }, ms);
  });
  const running = work(live);
  running.catch(() => undefined);
  try {
    return await Promise.race([running, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
