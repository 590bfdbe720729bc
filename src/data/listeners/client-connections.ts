import type { Socket } from 'node:net';
import type { ListenerTraffic } from '../../core/traffic.js';
import type { OverloadGuard } from '../overload/overload-guard.js';

/**
 * The raw client connections of an HTTP or HTTPS listener: counted at TCP accept, with the bytes they carried (those
 * of closed connections plus what the open ones have read and written so far, so the totals grow smoothly), and
 * admitted against the listener's `limits.maxConnections` and the process total (`overload.maxConnections`).
 */
export class ClientConnections {
  readonly #open = new Set<Socket>();
  #accepted = 0;
  #closedBytesIn = 0;
  #closedBytesOut = 0;
  #admitted = 0;

  /** Counts a connection the listener accepted, until it closes. */
  add(socket: Socket): void {
    this.#accepted++;
    this.#open.add(socket);
    socket.once('close', () => {
      this.#open.delete(socket);
      this.#closedBytesIn += socket.bytesRead;
      this.#closedBytesOut += socket.bytesWritten;
    });
  }

  /**
   * Takes `socket` within `maxConnections` of this listener and the process total; false when either is full (the
   * caller refuses the connection in its own way, counted as an overload refusal).
   */
  admit(socket: Socket, maxConnections: number, overload: OverloadGuard): boolean {
    if (this.#admitted >= maxConnections || !overload.openConnection()) {
      overload.counts.connections++;
      return false;
    }
    this.#admitted++;
    socket.once('close', () => {
      this.#admitted--;
      overload.closeConnection();
    });
    return true;
  }

  get traffic(): ListenerTraffic {
    let bytesIn = this.#closedBytesIn;
    let bytesOut = this.#closedBytesOut;
    for (const socket of this.#open) {
      bytesIn += socket.bytesRead;
      bytesOut += socket.bytesWritten;
    }
    return { open: this.#open.size, accepted: this.#accepted, bytesIn, bytesOut };
  }

  /** Closes every open connection (the drain deadline passed). */
  destroyAll(): void {
    for (const socket of this.#open) socket.destroy();
  }
}
