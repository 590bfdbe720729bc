import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminConfig } from '../config/schema.js';
import { listenAt } from '../config/address.js';
import type { Logger } from '../core/log.js';
import { throttledErrorLog } from '../core/throttled-log.js';
import { mutationHandlers, readHandlers, type AdminContext, type ApiCall, type ApiResult } from './admin-api.js';
import { acmeHandlers } from './acme-api.js';
import { ApiError, bearerToken, secretMatches, sendApiError, sendJson, sendText } from './http-kit.js';
import { AdminSessions, type AdminRole } from './admin-sessions.js';
import { serveDashboard } from './dashboard-files.js';
import { EventStream, type EventStreamTuning } from './event-stream.js';
import { LiveStats } from './live-stats.js';

type Access = 'open' | 'read' | 'admin';
type Handler = (ctx: AdminContext, call: ApiCall) => ApiResult | Promise<ApiResult>;
/** A handler that writes the response itself (the event stream, the dashboard's files, the session cookie). */
type RawHandler = (req: IncomingMessage, res: ServerResponse, role: AdminRole, path: string) => void;

interface Route {
  readonly pattern: RegExp;
  /** Handlers by method; every other method gets 405 with `Allow`. */
  readonly methods: Readonly<
    Record<
      string,
      | { readonly access: Access; readonly handler: Handler }
      /** `session`: a dashboard session cookie (admin-sessions.ts) may stand in for the bearer token. */
      | { readonly access: Access; readonly raw: RawHandler; readonly session?: boolean }
    >
  >;
}

/** One path segment: anything but a slash (ids such as `[::1]:3000` included), percent-decoded after matching. */
const segment = '([^/]+)';
const read = (handler: Handler) => ({ access: 'read' as const, handler });
const admin = (handler: Handler) => ({ access: 'admin' as const, handler });

/** The admin API of SPEC.md: reads need the read (or admin) token, mutations the admin token. */
const routes: readonly Route[] = [
  {
    pattern: /^\/ping$/,
    methods: { GET: { access: 'open', handler: () => ({ status: 200, body: { status: 'ok' } }) } },
  },
  { pattern: /^\/api\/overview$/, methods: { GET: read(readHandlers.overview) } },
  { pattern: /^\/api\/listeners$/, methods: { GET: read(readHandlers.listeners) } },
  { pattern: /^\/api\/routes$/, methods: { GET: read(readHandlers.routes) } },
  { pattern: /^\/api\/services$/, methods: { GET: read(readHandlers.services) } },
  { pattern: new RegExp(`^/api/services/${segment}$`), methods: { GET: read(readHandlers.service) } },
  { pattern: new RegExp(`^/api/services/${segment}/endpoints$`), methods: { POST: admin(mutationHandlers.register) } },
  {
    pattern: new RegExp(`^/api/services/${segment}/endpoints/${segment}$`),
    methods: { DELETE: admin(mutationHandlers.deregister) },
  },
  {
    pattern: new RegExp(`^/api/services/${segment}/endpoints/${segment}/heartbeat$`),
    methods: { PUT: admin(mutationHandlers.heartbeat) },
  },
  {
    pattern: new RegExp(`^/api/services/${segment}/endpoints/${segment}/state$`),
    methods: { PUT: admin(mutationHandlers.state) },
  },
  {
    pattern: new RegExp(`^/api/services/${segment}/endpoints/${segment}/weight$`),
    methods: { PUT: admin(mutationHandlers.weight) },
  },
  { pattern: /^\/api\/reload$/, methods: { POST: admin(mutationHandlers.reload) } },
  { pattern: /^\/api\/acme$/, methods: { GET: read(acmeHandlers.status) } },
  { pattern: new RegExp(`^/api/acme/certificates/${segment}/renew$`), methods: { POST: admin(acmeHandlers.renew) } },
  { pattern: new RegExp(`^/api/acme/certificates/${segment}/revoke$`), methods: { POST: admin(acmeHandlers.revoke) } },
  { pattern: /^\/metrics$/, methods: { GET: read(readHandlers.metrics) } },
];

/**
 * The admin listener (127.0.0.1:9901 by default): the registration API, the read-only views and liveness /
 * readiness. Tokens are compared in constant time; mutations are POST/PUT/DELETE only; bodies are size-limited and
 * validated; every error is a problem document; every mutation writes one audit log line.
 */
export class AdminServer {
  readonly #server: Server;
  readonly #config: AdminConfig;
  readonly #ctx: AdminContext;
  readonly #log: Logger;
  readonly #live: LiveStats;
  readonly #events: EventStream;
  readonly #sessions = new AdminSessions();
  /** The routes of this server: the dashboard's own (event stream, session, files), then the shared table. */
  readonly #routes: readonly Route[];
  #draining = false;

  constructor(config: AdminConfig, ctx: AdminContext, log: Logger, tuning: EventStreamTuning = {}) {
    this.#config = config;
    this.#log = log.child({ component: 'admin' });
    this.#live = new LiveStats({
      control: ctx.control,
      counters: (service, endpoint) => ctx.counters(service, endpoint),
      ...(ctx.refresh === undefined ? {} : { refresh: ctx.refresh }),
      ...(tuning.statsIntervalMs === undefined ? {} : { intervalMs: tuning.statsIntervalMs }),
    });
    this.#ctx = { ...ctx, live: this.#live };
    this.#events = new EventStream(this.#live, ctx.control.events, this.#log, tuning);
    this.#routes = [
      {
        pattern: /^\/api\/events$/,
        methods: { GET: { access: 'read', session: true, raw: (req, res) => this.#events.open(req, res) } },
      },
      {
        pattern: /^\/api\/session$/,
        methods: {
          POST: { access: 'read', raw: (req, res, role) => this.#openSession(req, res, role) },
          DELETE: { access: 'open', raw: (req, res) => this.#closeSession(req, res) },
        },
      },
      {
        pattern: /^\/dashboard(\/.*)?$/,
        methods: { GET: { access: 'open', raw: (req, res, _role, path) => serveDashboard(req, res, path) } },
      },
      ...routes,
    ];
    this.#server = createServer(
      { headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 },
      (req, res) => {
        this.#handle(req, res).catch((error: unknown) => {
          this.#log.error({ err: error }, 'admin request failed');
          if (!res.headersSent) sendApiError(res, new ApiError(500, 'Internal error'));
          else res.destroy();
        });
      },
    );
    this.#server.on('clientError', (_error, socket) => socket.destroy());
    // Accept errors (EMFILE) are logged, not thrown: the API keeps answering once descriptors are free.
    this.#server.on('error', throttledErrorLog(this.#log, 'admin listener error'));
  }

  async listen(): Promise<AddressInfo> {
    await listenAt(this.#server, this.#config.address);
    const bound = this.address();
    this.#live.start();
    this.#log.info({ address: bound.address, port: bound.port }, 'admin API listening');
    return bound;
  }

  address(): AddressInfo {
    return this.#server.address() as AddressInfo;
  }

  /** From now on `/ready` answers 503 (the balancer is draining). */
  startDraining(): void {
    this.#draining = true;
  }

  async close(): Promise<void> {
    this.#events.close();
    this.#live.close();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/ready') {
      sendJson(res, this.#draining ? 503 : 200, { status: this.#draining ? 'draining' : 'ready' });
      return;
    }
    const route = this.#routes.find((r) => r.pattern.test(path));
    if (route === undefined) {
      sendApiError(res, new ApiError(404, 'Not found', `no admin resource at ${path}`));
      return;
    }
    const method = req.method ?? 'GET';
    const entry = route.methods[method];
    if (entry === undefined) {
      const allow = Object.keys(route.methods).join(', ');
      req.resume();
      sendApiError(res, new ApiError(405, 'Method not allowed', `use ${allow}`, {}, { allow }));
      return;
    }
    const client = req.socket.remoteAddress;
    try {
      const role = this.#authorise(req, entry.access, 'session' in entry && entry.session === true);
      if ('raw' in entry) return entry.raw(req, res, role, path);
      const params = (route.pattern.exec(path) ?? []).slice(1).map(decodePathSegment);
      if (method === 'GET') await this.#ctx.refresh?.();
      const result = await entry.handler(this.#ctx, { req, params, maxBodyBytes: this.#config.maxBodyBytes });
      if (entry.access === 'admin') this.#audit(req, client, result.status, result.audit);
      if (result.contentType === undefined) sendJson(res, result.status, result.body);
      else sendText(res, result.status, result.contentType, String(result.body));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (entry.access === 'admin') this.#audit(req, client, error.status, { error: error.title });
      sendApiError(res, error);
    }
  }

  /** Checks the caller may make this call and returns its role (`admin` when the API has no tokens). */
  #authorise(req: IncomingMessage, access: Access, session = false): AdminRole {
    const { admin, read } = this.#config.tokens;
    const adminToken = admin === '' ? undefined : admin;
    const readToken = read === '' ? undefined : read;
    if (adminToken === undefined && readToken === undefined) return 'admin'; // no tokens: open (loopback only)
    if (access === 'open') return 'read';
    const presented = bearerToken(req);
    const sessionRole = session && presented === undefined ? this.#sessions.roleOf(req) : undefined;
    if (sessionRole !== undefined && (access === 'read' || sessionRole === 'admin')) return sessionRole;
    if (presented === undefined) {
      throw new ApiError(
        401,
        'Unauthorized',
        'send Authorization: Bearer <token>',
        {},
        { 'www-authenticate': 'Bearer realm="switchyard"' },
      );
    }
    const isAdmin = adminToken !== undefined && secretMatches(presented, adminToken);
    const isReader = readToken !== undefined && secretMatches(presented, readToken);
    if (!isAdmin && !isReader) {
      throw new ApiError(
        401,
        'Unauthorized',
        'the token is not valid',
        {},
        { 'www-authenticate': 'Bearer realm="switchyard", error="invalid_token"' },
      );
    }
    if (access === 'admin' && !isAdmin) throw new ApiError(403, 'Forbidden', 'this call needs the admin token');
    return isAdmin ? 'admin' : 'read';
  }

  /** `POST /api/session`: the bearer token was valid; a session cookie for the event stream carries its role. */
  #openSession(req: IncomingMessage, res: ServerResponse, role: AdminRole): void {
    req.resume();
    const text = `${JSON.stringify({ role })}\n`;
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      'set-cookie': this.#sessions.open(role),
    });
    res.end(text);
  }

  /** `DELETE /api/session`: forgets the session and clears its cookie (needs no token: it only ends access). */
  #closeSession(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    res.writeHead(204, { 'cache-control': 'no-store', 'set-cookie': this.#sessions.close(req) });
    res.end();
  }

  #audit(
    req: IncomingMessage,
    client: string | undefined,
    status: number,
    details: Readonly<Record<string, unknown>> = {},
  ): void {
    this.#log.info({ audit: true, method: req.method, path: req.url, status, client, ...details }, 'admin mutation');
  }
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError(400, 'Malformed path', `"${segment}" is not valid percent-encoding`);
  }
}
