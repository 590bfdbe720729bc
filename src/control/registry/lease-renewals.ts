import type { Etcd3, IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from 'etcd3';

interface Pending {
  readonly resolve: (alive: boolean) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Renews etcd leases by id over one long-lived LeaseKeepAlive stream (etcd's `Lease` class only renews leases it
 * granted itself; a heartbeat may reach any node for a lease another node granted). A renewal resolves true when etcd
 * answers with a TTL left, false when the lease no longer exists; it rejects when etcd does not answer in time.
 */
export class LeaseRenewals {
  readonly #client: Etcd3;
  readonly #timeoutMs: number;
  #stream: Promise<IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>> | undefined;
  /** Renewals waiting for etcd's answer, by lease id, oldest first. */
  readonly #pending = new Map<string, Pending[]>();

  constructor(client: Etcd3, timeoutMs: number) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
  }

  async renew(lease: string): Promise<boolean> {
    const stream = await this.#open();
    return new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(
        () => this.#settle(lease, new Error('etcd did not renew the lease in time')),
        this.#timeoutMs,
      );
      const queue = this.#pending.get(lease) ?? [];
      queue.push({ resolve, reject, timer });
      this.#pending.set(lease, queue);
      stream.write({ ID: lease });
    });
  }

  close(): void {
    this.#fail(new Error('closed'));
    void this.#stream?.then((stream) => stream.end()).catch(() => undefined);
    this.#stream = undefined;
  }

  #open(): Promise<IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>> {
    this.#stream ??= this.#client.leaseClient.leaseKeepAlive().then(
      (stream) => {
        stream.on('data', (response: ILeaseKeepAliveResponse) => this.#settle(response.ID, Number(response.TTL) > 0));
        const lost = (error?: Error): void => {
          this.#stream = undefined;
          this.#fail(error ?? new Error('the lease keep-alive stream ended'));
        };
        stream.on('error', lost);
        stream.on('end', () => lost());
        return stream;
      },
      (error: unknown) => {
        this.#stream = undefined;
        throw error;
      },
    );
    return this.#stream;
  }

  #settle(lease: string, outcome: boolean | Error): void {
    const queue = this.#pending.get(lease);
    const first = queue?.shift();
    if (queue?.length === 0) this.#pending.delete(lease);
    if (first === undefined) return;
    clearTimeout(first.timer);
    if (outcome instanceof Error) first.reject(outcome);
    else first.resolve(outcome);
  }

  #fail(error: Error): void {
    for (const queue of this.#pending.values()) {
      for (const pending of queue) {
        clearTimeout(pending.timer);
        pending.reject(error);
      }
    }
    this.#pending.clear();
  }
}
