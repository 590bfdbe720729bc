import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The role a token (or a session opened with it) grants. */
export type AdminRole = 'read' | 'admin';

/** The session cookie's name. */
export const sessionCookie = 'sy_admin_session';

/** How long a session lasts (ms) however much it is used: 12 h. */
const sessionLifetimeMs = 12 * 60 * 60 * 1000;
/** Sessions kept at most; opening one more forgets the oldest. */
const maxSessions = 256;

interface Session {
  readonly role: AdminRole;
  readonly expiresAt: number;
}

/**
 * Browser sessions for the live event stream. `EventSource` cannot send an `Authorization` header, so the dashboard
 * first calls `POST /api/session` with its bearer token and gets an opaque, random session id in an HttpOnly,
 * SameSite=Strict cookie scoped to `/api`. The cookie is honoured by `GET /api/events` only (a read): every other call,
 * and every mutation, still needs the bearer token, so the cookie cannot be used for cross-site request forgery. The
 * token itself never appears in a URL (where access logs, proxies and browser history would keep it) nor in a cookie.
 * Sessions live in memory: a restart or `DELETE /api/session` ends them.
 */
export class AdminSessions {
  readonly #sessions = new Map<string, Session>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Opens a session for `role` and returns the `Set-Cookie` value that carries it. */
  open(role: AdminRole): string {
    const now = this.#now();
    for (const [id, session] of this.#sessions) if (session.expiresAt <= now) this.#sessions.delete(id);
    while (this.#sessions.size >= maxSessions) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    this.#sessions.set(id, { role, expiresAt: now + sessionLifetimeMs });
    return `${sessionCookie}=${id}; Path=/api; HttpOnly; SameSite=Strict`;
  }

  /** The role of the request's session cookie, or undefined when it has none that is valid. */
  roleOf(req: IncomingMessage): AdminRole | undefined {
    const id = sessionIdOf(req);
    if (id === undefined) return undefined;
    const session = this.#sessions.get(id);
    if (session === undefined) return undefined;
    if (session.expiresAt > this.#now()) return session.role;
    this.#sessions.delete(id);
    return undefined;
  }

  /** Ends the request's session; returns the `Set-Cookie` value that clears the cookie. */
  close(req: IncomingMessage): string {
    const id = sessionIdOf(req);
    if (id !== undefined) this.#sessions.delete(id);
    return `${sessionCookie}=; Path=/api; HttpOnly; SameSite=Strict; Max-Age=0`;
  }
}

function sessionIdOf(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === sessionCookie) return part.slice(eq + 1).trim();
  }
  return undefined;
}
