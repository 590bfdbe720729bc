import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AdminConfig } from '../config/schema.js';
import { listenAt } from '../config/address.js';
import type { Logger } from '../core/log.js';
import { SwitchyardError } from '../core/errors.js';
import { throttledErrorLog } from '../core/throttled-log.js';
import { mutationHandlers, readHandlers, type AdminContext, type ApiCall, type ApiResult } from './admin-api.js';
import { acmeHandlers } from './acme-api.js';
import { ApiError, sendApiError, sendJson, sendText } from './http-kit.js';
import { AdminSessions, type AdminRole } from './admin-sessions.js';
import { AdminAuth, type Access, type Caller } from './auth.js';
import { serveDashboard } from './dashboard-files.js';
import { EventStream, type EventStreamTuning } from './event-stream.js';
import { LiveStats } from './live-stats.js';

type Handler = (ctx: AdminContext, call: ApiCall) => ApiResult | Promise<ApiResult>;
/** A handler that writes the response itself (the event stream, the dashboard's files, the session cookie). */
type RawHandler = (req: IncomingMessage, res: ServerResponse, role: AdminRole, path: string) => void;

interface Route {
  readonly pattern: RegExp;
  /** Handlers by method; every other method gets 405 with `Allow`. */
  readonly methods: Readonly<
    Record<
      string,
      /** `quiet`: its audit line is at debug level (a heartbeat changes nothing but a lease). */
      | { readonly access: Access; readonly handler: Handler; readonly quiet?: boolean }
      /** `session`: a dashboard session cookie (admin-sessions.ts) may stand in for the bearer token. */
      | { readonly access: Access; readonly raw: RawHandler; readonly session?: boolean }
    >
  >;
}

/** One path segment: anything but a slash (ids such as `[::1]:3000` included), percent-decoded after matching. */
const segment = '([^/]+)';
const read = (handler: Handler) => ({ access: 'read' as const, handler });
const admin = (handler: Handler) => ({ access: 'admin' as const, handler });
const registrant = (handler: Handler, quiet = false) => ({ access: 'register' as const, handler, quiet });

/**
 * The admin API of SPEC.md: reads need the read (or admin) token, mutations the admin token; registration,
 * heartbeat and deregistration also take a registration token for the service in the path (docs/security.md).
 */
const routes: readonly Route[] = [
  {
    pattern: /^\/ping$/,
    methods: { GET: { access: 'open', handler: () => ({ status: 200, body: { status: 'ok' } }) } },
  },
  { pattern: /^\/api\/overview$/, methods: { GET: read(readHandlers.overview) } },
  { pattern: /^\/api\/listeners$/, methods: { GET: read(readHandlers.listeners) } },
  { pattern: /^\/api\/routes$/, methods: { GET: read(readHandlers.routes) } },
  { pattern: /^\/api\/services$/, methods: { GET: read(readHandlers.services) } },
  { pattern: /^\/api\/nodes$/, methods: { GET: read(readHandlers.nodes) } },
  { pattern: new RegExp(`^/api/services/${segment}$`), methods: { GET: read(readHandlers.service) } },
  {
    pattern: new RegExp(`^/api/services/${segment}/endpoints$`),
    methods: { POST: registrant(mutationHandlers.register) },
  },
  {
    pattern: new RegExp(`^/api/services/${segment}/endpoints/${segment}$`),
    methods: { DELETE: registrant(mutationHandlers.deregister) },
  },
  {
    pattern: new RegExp(`^/api/services/${segment}/endpoints/${segment}/heartbeat$`),
    methods: { PUT: registrant(mutationHandlers.heartbeat, true) },
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
 * The admin listener (127.0.0.1:9901 by default; https with `admin.tls`, mTLS with `admin.tls.clientCa`): the
 * registration API, the read-only views and liveness / readiness. Clients outside `admin.allowedClients` get 403;
 * tokens are compared in constant time; mutations are POST/PUT/DELETE only; bodies are size-limited and validated;
 * every error is a problem document; every mutation writes one audit line (at info; a heartbeat's at debug).
 */
export class AdminServer {
  readonly #server: Server;
  readonly #config: AdminConfig;
  readonly #ctx: AdminContext;
  readonly #log: Logger;
  readonly #live: LiveStats;
  readonly #events: EventStream;
  readonly #sessions = new AdminSessions();
  readonly #auth: AdminAuth;
  /** A client outside `allowedClients`: a warning, at most one line per 5 s (a scan must not flood the log). */
  readonly #refusedClient: (details: Record<string, unknown>) => void;
  /** The routes of this server: the dashboard's own (event stream, session, files), then the shared table. */
  readonly #routes: readonly Route[];
  #draining = false;

  constructor(config: AdminConfig, ctx: AdminContext, log: Logger, tuning: EventStreamTuning = {}) {
    this.#config = config;
    this.#log = log.child({ component: 'admin' });
    this.#auth = new AdminAuth(config);
    this.#refusedClient = throttledWarning(this.#log, 'admin client refused: not in admin.allowedClients');
    const unknown = this.#auth.registerServices().filter((service) => !ctx.control.registry.hasService(service));
    if (unknown.length > 0)
      this.#log.warn({ services: unknown }, 'a registration token names services the configuration does not declare');
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
    const serve = (req: IncomingMessage, res: ServerResponse): void => {
      this.#handle(req, res).catch((error: unknown) => {
        this.#log.error({ err: error }, 'admin request failed');
        if (!res.headersSent) sendApiError(res, new ApiError(500, 'Internal error'));
        else res.destroy();
      });
    };
    const timeouts = { headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 };
    const mutual = config.tls?.clientCa !== undefined;
    // With TLS, the certificate files are read by listen() and installed with setSecureContext().
    this.#server =
      config.tls === undefined
        ? createServer(timeouts, serve)
        : createTlsServer(
            { ...timeouts, requestCert: mutual, rejectUnauthorized: mutual, minVersion: 'TLSv1.2' },
            serve,
          );
    this.#server.on('clientError', (_error, socket) => socket.destroy());
    this.#server.on('tlsClientError', this.#handshakeFailed());
    // Accept errors (EMFILE) are logged, not thrown: the API keeps answering once descriptors are free.
    this.#server.on('error', throttledErrorLog(this.#log, 'admin listener error'));
  }

  async listen(): Promise<AddressInfo> {
    const tls = this.#config.tls;
    if (tls !== undefined) {
      const read = (file: string, what: string): Promise<Buffer> =>
        readFile(file).catch((error: NodeJS.ErrnoException) => {
          throw new SwitchyardError(`admin.tls.${what}: cannot read ${file}: ${error.message}`);
        });
      const [cert, key, ca] = await Promise.all([
        read(tls.cert, 'cert'),
        read(tls.key, 'key'),
        tls.clientCa === undefined ? undefined : read(tls.clientCa, 'clientCa'),
      ]);
      try {
        (this.#server as HttpsServer).setSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }) });
      } catch (error) {
        throw new SwitchyardError(`admin.tls: ${tls.cert} / ${tls.key} cannot be used: ${(error as Error).message}`);
      }
    }
    await listenAt(this.#server, this.#config.address);
    const bound = this.address();
    this.#live.start();
    this.#log.info(
      {
        address: bound.address,
        port: bound.port,
        tls: tls === undefined ? false : tls.clientCa === undefined ? 'server' : 'mutual',
        ...(this.#config.allowedClients === undefined ? {} : { allowedClients: this.#config.allowedClients }),
      },
      'admin API listening',
    );
    return bound;
  }

  address(): AddressInfo {
    return this.#server.address() as AddressInfo;
  }

  /** A failed TLS handshake (mTLS: no or a foreign client certificate): a warning, at most one line per 5 s. */
  #handshakeFailed(): (error: Error, socket: TLSSocket) => void {
    const warn = throttledWarning(this.#log, 'admin TLS handshake failed');
    return (error, socket) => {
      socket.destroy();
      warn({ client: socket.remoteAddress, reason: error.message });
    };
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
    const client = req.socket.remoteAddress;
    if (!this.#auth.clientAllowed(client)) {
      req.resume();
      this.#refusedClient({ audit: true, method: req.method, path: req.url, status: 403, client });
      sendApiError(res, new ApiError(403, 'Forbidden', `${client ?? 'this client'} is not in admin.allowedClients`));
      return;
    }
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
    const audited = entry.access === 'admin' || entry.access === 'register';
    const quiet = 'quiet' in entry && entry.quiet === true;
    let caller: Caller | undefined;
    try {
      const params = (route.pattern.exec(path) ?? []).slice(1).map(decodePathSegment);
      const session = 'session' in entry && entry.session === true ? this.#sessions.roleOf(req) : undefined;
      caller = this.#auth.authorise(req, entry.access, params[0], session);
      if ('raw' in entry) return entry.raw(req, res, caller.role === 'read' ? 'read' : 'admin', path);
      if (method === 'GET') await this.#ctx.refresh?.();
      const result = await entry.handler(this.#ctx, { req, params, maxBodyBytes: this.#config.maxBodyBytes });
      if (audited) this.#audit(req, caller, result.status, quiet, result.audit);
      if (result.contentType === undefined) sendJson(res, result.status, result.body);
      else sendText(res, result.status, result.contentType, String(result.body));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      // A refused heartbeat is audited at info: a wrong or foreign token is worth seeing.
      if (audited) this.#audit(req, caller, error.status, quiet && caller !== undefined, { error: error.title });
      req.resume();
      sendApiError(res, error);
    }
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

  /**
   * One audit line for a call that changes something (or was refused): who (client address, role, client
   * certificate), what (method, path, service, endpoint) and the outcome. Never the token.
   */
  #audit(
    req: IncomingMessage,
    caller: Caller | undefined,
    status: number,
    quiet: boolean,
    details: Readonly<Record<string, unknown>> = {},
  ): void {
    const socket = req.socket as Partial<TLSSocket>;
    const subject = socket.encrypted === true ? socket.getPeerCertificate?.()?.subject : undefined;
    const line = {
      audit: true,
      method: req.method,
      path: req.url,
      status,
      client: req.socket.remoteAddress,
      ...(caller === undefined ? {} : { role: caller.role }),
      ...(subject?.CN === undefined ? {} : { clientCertificate: subject.CN }),
      ...details,
    };
    if (quiet) this.#log.debug(line, 'admin heartbeat');
    else this.#log.info(line, 'admin mutation');
  }
}

/** A warning logged at most once per `intervalMs`, with the number of occurrences left out since (`suppressed`). */
function throttledWarning(
  log: Logger,
  message: string,
  intervalMs = 5_000,
): (details: Record<string, unknown>) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (details) => {
    if (Date.now() - last < intervalMs) {
      suppressed++;
      return;
    }
    last = Date.now();
    log.warn({ ...details, ...(suppressed > 0 ? { suppressed } : {}) }, message);
    suppressed = 0;
  };
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError(400, 'Malformed path', `"${segment}" is not valid percent-encoding`);
  }
}
