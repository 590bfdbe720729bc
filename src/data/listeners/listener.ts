import type { AddressInfo } from 'node:net';
import type { ListenerTraffic } from '../../core/traffic.js';

/**
 * What every listener is to the data plane's lifecycle code (`data-plane.ts`): the http, https, tcp,
 * tls-passthrough and udp listeners implement it, each over the runtime its protocol compiles to (`R`).
 */
export interface Listener<R> {
  /** The listener's name (as in the configuration). */
  readonly name: string;
  /** The configured protocol (the `protocol` label of the connection metrics). */
  readonly protocol: string;
  /** Client connections (UDP: sessions) and bytes, kept up to date by the listener. */
  readonly traffic: ListenerTraffic;
  /** True when this listener can take `next` in place: same socket address, protocol and socket options. */
  accepts(next: R): boolean;
  /** Takes a new snapshot's runtime; what is running keeps the one it started with. */
  update(next: R): void;
  /** Binds the socket. */
  listen(): Promise<unknown>;
  /** The bound address, or undefined when not bound. */
  address(): AddressInfo | undefined;
  /**
   * Stops accepting, lets what is open finish until `deadlineMs`, then closes what is left. Resolves true when the
   * deadline forced something closed.
   */
  close(deadlineMs: number): Promise<boolean>;
}
