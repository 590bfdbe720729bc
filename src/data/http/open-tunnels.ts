import type { Duplex } from 'node:stream';

/**
 * The client sockets a listener handed over to upgrade tunnels (from the `upgrade` event until they close). Node's
 * HTTP server forgets an upgraded socket, so the listener keeps this set to let open tunnels live through a drain and
 * to end them at the drain deadline.
 */
export class OpenTunnels {
  readonly #sockets = new Set<Duplex>();
  #idle: (() => void) | undefined;

  /** Tracks `socket` until it closes. */
  add(socket: Duplex): void {
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.#sockets.delete(socket);
      if (this.#sockets.size === 0) this.#idle?.();
    });
  }

  /** Tunnels (and handshakes in progress) open now. */
  get size(): number {
    return this.#sockets.size;
  }

  /** Resolves once no tunnel is open. */
  idle(): Promise<void> {
    if (this.#sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#idle;
      this.#idle = () => {
        this.#idle = undefined;
        previous?.();
        resolve();
      };
    });
  }

  /** Ends every open tunnel at once (the drain deadline passed); each tunnel closes its upstream side itself. */
  destroyAll(): void {
    for (const socket of this.#sockets) socket.destroy();
  }
}
