import type { IncomingMessage } from 'node:http';
import type { AdminConfig } from '../config/schema.js';
import { cidrContains, parseCidr, parseIp, type CidrBlock } from '../core/cidr.js';
import type { AdminRole } from './admin-sessions.js';
import { ApiError, bearerToken, secretMatches } from './http-kit.js';

/**
 * What a route needs: `open` (anyone), `read` (the read or admin token), `register` (a registration token for the
 * service in the path, or the admin token), `admin` (the admin token).
 */
export type Access = 'open' | 'read' | 'register' | 'admin';

/** Who made a call, as far as the admin API can tell: for the audit line and for the session cookie. */
export interface Caller {
  /** `open` when the API has no tokens at all (then every call is allowed, on loopback only). */
  readonly role: 'open' | AdminRole | 'register';
  /** A registration token's services. */
  readonly services?: readonly string[];
}

interface RegisterToken {
  readonly token: string;
  readonly services: ReadonlySet<string>;
}

const unauthorized = (detail: string, error?: string): ApiError =>
  new ApiError(
    401,
    'Unauthorized',
    detail,
    {},
    { 'www-authenticate': `Bearer realm="switchyard"${error === undefined ? '' : `, error="${error}"`}` },
  );

/**
 * The admin API's three roles (docs/security.md): **admin** may call everything; **read** may call the read-only
 * views; **register** may register, heartbeat and deregister endpoints of its own services, nothing else. Tokens are
 * compared in constant time, and every one is compared (the time does not tell which one matched). Also the
 * `allowedClients` networks.
 */
export class AdminAuth {
  readonly #admin: string | undefined;
  readonly #read: string | undefined;
  readonly #register: readonly RegisterToken[];
  readonly #allowed: readonly CidrBlock[] | undefined;

  constructor(config: Pick<AdminConfig, 'tokens' | 'allowedClients'>) {
    const set = (token: string | undefined): string | undefined => (token === '' ? undefined : token);
    this.#admin = set(config.tokens.admin);
    this.#read = set(config.tokens.read);
    this.#register = config.tokens.register
      .filter((entry) => entry.token !== '')
      .map((entry) => ({ token: entry.token, services: new Set(entry.services) }));
    this.#allowed = config.allowedClients?.map((text) => {
      const block = parseCidr(text);
      if (block === undefined) throw new Error(`invalid CIDR ${text}`); // the schema validated it
      return block;
    });
  }

  /** True when the API has no token of any kind: every call is allowed (the schema keeps it on loopback). */
  get open(): boolean {
    return this.#admin === undefined && this.#read === undefined && this.#register.length === 0;
  }

  /** The services registration tokens name, for a warning about ones the configuration does not declare. */
  registerServices(): string[] {
    return [...new Set(this.#register.flatMap((entry) => [...entry.services]))];
  }

  /** True when `address` (a socket's remote address) may talk to the admin API at all. */
  clientAllowed(address: string | undefined): boolean {
    if (this.#allowed === undefined) return true;
    const ip = address === undefined ? undefined : parseIp(address);
    return ip !== undefined && this.#allowed.some((block) => cidrContains(block, ip));
  }

  /**
   * Checks that the request may make a call needing `access` (for `register`, on `service`); throws a 401 or 403
   * ApiError otherwise. `sessionRole` is the role of a valid dashboard session cookie, when the route honours one and
   * no bearer token was sent.
   */
  authorise(req: IncomingMessage, access: Access, service?: string, sessionRole?: AdminRole): Caller {
    if (this.open) return { role: 'open' };
    if (access === 'open') return { role: 'read' };
    const presented = bearerToken(req);
    if (presented === undefined) {
      if (sessionRole !== undefined && (access === 'read' || sessionRole === 'admin')) return { role: sessionRole };
      throw unauthorized('send Authorization: Bearer <token>');
    }
    const caller = this.#identify(presented);
    if (caller === undefined) throw unauthorized('the token is not valid', 'invalid_token');
    if (caller.role === 'admin') return caller;
    if (access === 'read' && caller.role === 'read') return caller;
    if (access === 'register' && caller.role === 'register') {
      if (service !== undefined && caller.services?.includes(service) === true) return caller;
      throw new ApiError(
        403,
        'Forbidden',
        `this registration token is for ${caller.services?.map((s) => `"${s}"`).join(', ')} only`,
      );
    }
    const needed =
      access === 'read'
        ? 'the read or admin token'
        : access === 'register'
          ? 'a registration token'
          : 'the admin token';
    const what = caller.role === 'register' ? 'a registration token may only register, heartbeat and deregister' : '';
    throw new ApiError(403, 'Forbidden', `this call needs ${needed}${what === '' ? '' : ` (${what})`}`);
  }

  #identify(presented: string): Caller | undefined {
    // Every configured token is compared, whichever matches, so the time taken does not say which kind it was.
    const isAdmin = this.#admin !== undefined && secretMatches(presented, this.#admin);
    const isReader = this.#read !== undefined && secretMatches(presented, this.#read);
    let registrant: RegisterToken | undefined;
    for (const entry of this.#register) if (secretMatches(presented, entry.token)) registrant ??= entry;
    if (isAdmin) return { role: 'admin' };
    if (isReader) return { role: 'read' };
    if (registrant !== undefined) return { role: 'register', services: [...registrant.services] };
    return undefined;
  }
}
