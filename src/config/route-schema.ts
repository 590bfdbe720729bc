import { METHODS } from 'node:http';
import { z } from 'zod';
import { normalisePath } from '../core/request-path.js';
import { cidr, milliseconds, name } from './primitives.js';
import { nearest } from './suggest.js';

/** Routes (docs/routing.md): what a request must look like, and what happens to the requests that match. */

/** A path as written in a route: starts with `/` and normalises (so a request can ever equal it). */
const routePath = (startMessage: string) =>
  z
    .string()
    .startsWith('/', startMessage)
    .superRefine((path, ctx) => {
      if (!path.startsWith('/')) return;
      const result = normalisePath(path);
      if (!result.ok) ctx.addIssue({ code: 'custom', message: result.reason });
      else if (result.path !== result.matchPath)
        ctx.addIssue({ code: 'custom', message: 'path parameters (";…") are ignored when matching: leave them out' });
    });

const regexSource = z
  .string()
  .min(1)
  .refine((source) => {
    try {
      new RegExp(source);
      return true;
    } catch {
      return false;
    }
  }, 'not a valid regular expression');

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected a header name');

/** YAML reads `version: 2` as a number: a scalar value is matched as the text it was written as. */
const scalarText = z.union([z.string(), z.number().transform(String), z.boolean().transform(String)]);

/** One header or query condition: an exact value, `{ regex }`, `{ present: true }` or `{ absent: true }`. */
const valueCondition = z.union(
  [
    scalarText,
    z.strictObject({ regex: regexSource }),
    z.strictObject({ present: z.literal(true) }),
    z.strictObject({ absent: z.literal(true) }),
  ],
  { error: 'expected a value, { regex: … }, { present: true } or { absent: true }' },
);

const pathMatch = z
  .strictObject({
    /** The whole path, exactly. */
    exact: routePath('a path starts with "/"').optional(),
    /** Path prefix on segment boundaries: `/a` matches `/a`, `/a/` and `/a/b`, not `/ab`. */
    prefix: routePath('a path prefix starts with "/"').optional(),
    /** A regular expression that must match the whole normalised path. */
    regex: regexSource.optional(),
    /** Compare without regard to letter case (for instances that serve paths case-insensitively). */
    ignoreCase: z.boolean().default(false),
  })
  .refine(
    (p) => [p.exact, p.prefix, p.regex].filter((v) => v !== undefined).length === 1,
    'give exactly one of exact, prefix or regex',
  );

/**
 * The methods a route can see: what Node's HTTP parser accepts (it refuses a request with any other before routing),
 * except CONNECT, which is answered 405 before routing (Switchyard is not a forward proxy).
 */
export const routeMethods: readonly string[] = METHODS.filter((m) => m !== 'CONNECT');

const method = z.string().superRefine((value, ctx) => {
  const upper = value.toUpperCase();
  if (routeMethods.includes(upper)) return;
  if (upper === 'CONNECT') {
    ctx.addIssue({ code: 'custom', message: 'CONNECT is answered 405 before routing: no route ever sees it' });
    return;
  }
  const suggestion = nearest(upper, routeMethods);
  const hint = suggestion === undefined ? '' : ` — did you mean '${suggestion}'?`;
  ctx.addIssue({ code: 'custom', message: `unknown HTTP method '${value}'${hint}` });
});

const routeMatch = z.strictObject({
  /** Exact host (`api.example.com`) or one leading wildcard label (`*.example.com`); case-insensitive, port ignored. */
  host: z
    .string()
    .regex(/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/, 'expected a host name, optionally starting with "*."')
    .optional(),
  path: pathMatch.optional(),
  /** Request methods, any case (compared upper-case); only methods Node's HTTP parser accepts, CONNECT excepted. */
  methods: z.array(method).min(1).optional(),
  /** Header name (any case) to condition; a condition holds when any one field of that name meets it. */
  headers: z.record(headerName, valueCondition).optional(),
  /** Query parameter name (as written) to condition; holds when any one occurrence meets it. */
  query: z.record(z.string().min(1), valueCondition).optional(),
  /** The client address (after `trustedProxies`) must be in one of these. */
  clientCidrs: z.array(cidr).min(1).optional(),
});

/** Framing and connection fields Switchyard manages itself: header rules may not touch them. */
const managedHeaders = new Set([
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'http2-settings',
]);
const ruleValue = z
  .union([z.string(), z.number().transform(String)])
  .refine((v) => !/[\r\n\0]/.test(v), 'a header value cannot hold CR, LF or NUL');

const headerRules = z
  .strictObject({
    /** Appended, beside any fields of the same name. */
    add: z.record(headerName, ruleValue).optional(),
    /** Replaces every field of that name (or adds one). */
    set: z.record(headerName, ruleValue).optional(),
    /** Removed, before `set` and `add` apply. */
    remove: z.array(headerName).optional(),
  })
  .superRefine((rules, ctx) => {
    const check = (names: readonly string[], path: (name: string, i: number) => (string | number)[]): void =>
      names.forEach((n, i) => {
        if (managedHeaders.has(n.toLowerCase()))
          ctx.addIssue({ code: 'custom', path: path(n, i), message: `Switchyard manages ${n}: no rule may change it` });
      });
    check(Object.keys(rules.add ?? {}), (n) => ['add', n]);
    check(Object.keys(rules.set ?? {}), (n) => ['set', n]);
    check(rules.remove ?? [], (_n, i) => ['remove', i]);
  });

const rewrite = z
  .strictObject({
    /** Removes this prefix (on segment boundaries) from the path; `/api/users` with `/api` becomes `/users`. */
    stripPrefix: routePath('a path prefix starts with "/"').optional(),
    /** Replaces the whole path (the query string is kept). */
    replacePath: routePath('a path starts with "/"').optional(),
    /** Replaces the route's `match.path.prefix` with this. */
    replacePrefix: routePath('a path prefix starts with "/"').optional(),
  })
  .refine(
    (r) => [r.stripPrefix, r.replacePath, r.replacePrefix].filter((v) => v !== undefined).length === 1,
    'give exactly one of stripPrefix, replacePath or replacePrefix',
  );

const redirectStatuses = [301, 302, 303, 307, 308] as const;

const redirect = z
  .strictObject({
    /** A URL template: `{scheme}`, `{host}`, `{port}`, `{path}`, `{query}` are the request's (`{query}` has its `?`). */
    to: z
      .string()
      .regex(/^(https?:\/\/|\{scheme\}:\/\/|\/(?!\/))/, 'start with http://, https://, {scheme}:// or one "/"')
      .refine((to) => /^[\x21-\x7e]+$/.test(to), 'no spaces or control characters')
      .refine(
        (to) => [...to.matchAll(/\{([^}]*)\}/g)].every((m) => /^(scheme|host|port|path|query)$/.test(m[1] ?? '')),
        'placeholders are {scheme}, {host}, {port}, {path} and {query}',
      )
      .optional(),
    scheme: z.enum(['http', 'https']).optional(),
    host: z
      .string()
      .regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, 'expected a host name')
      .optional(),
    port: z.number().int().min(1).max(65_535).optional(),
    path: routePath('a path starts with "/"').optional(),
    /** Leave the request's query string out of the target. */
    dropQuery: z.boolean().default(false),
    status: z
      .number()
      .refine((s) => (redirectStatuses as readonly number[]).includes(s), 'use 301, 302, 303, 307 or 308')
      .default(302),
  })
  .refine(
    (r) => r.to === undefined || [r.scheme, r.host, r.port, r.path].every((v) => v === undefined),
    'give either "to" or the parts (scheme, host, port, path), not both',
  );

const respond = z
  .strictObject({
    status: z.number().int().min(200).max(599),
    body: z.string().default(''),
    /** `text/plain; charset=utf-8` when there is a body. */
    contentType: z
      .string()
      .regex(/^[\x20-\x7e]+$/, 'expected a media type')
      .optional(),
  })
  .refine((r) => !(r.status === 204 || r.status === 304) || r.body === '', {
    message: 'a 204 or 304 response has no body',
    path: ['body'],
  });

/**
 * A token bucket per client key: `requestsPerSecond` refill, `burst` tokens at most; a request without a token gets
 * 429 with `Retry-After` and the `RateLimit-*` fields (docs/operations.md "Overload protection").
 */
const rateLimit = z.strictObject({
  requestsPerSecond: z.number().positive().max(1_000_000),
  /** Requests a key may send at once after being idle; one second's worth (at least 1) when omitted. */
  burst: z.number().int().min(1).max(1_000_000).optional(),
  /** Whose budget a request spends: the client address (after `trustedProxies`) or a header's value. */
  key: z
    .string()
    .regex(/^(client-ip|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+)$/, 'expected client-ip or header:<name>')
    .default('client-ip'),
  /** Keys remembered at once; the least recently seen is forgotten beyond it (a full bucket loses nothing). */
  maxKeys: z.number().int().min(1).max(10_000_000).default(100_000),
});

export const routeSchema = z
  .strictObject({
    name: name.optional(),
    /** Listeners the route applies to; every HTTP listener when omitted. */
    listeners: z.array(name).min(1).optional(),
    /** Higher is tried first; routes of equal priority are tried most specific first. */
    priority: z.number().int().min(-1_000_000).max(1_000_000).default(0),
    match: routeMatch.prefault({}),
    /** Where matching requests are proxied. Exactly one of service, redirect and respond. */
    service: name.optional(),
    redirect: redirect.optional(),
    respond: respond.optional(),
    rewrite: rewrite.optional(),
    requestHeaders: headerRules.optional(),
    responseHeaders: headerRules.optional(),
    /** Upstream timeouts for this route, overriding the service's. */
    timeouts: z.strictObject({ firstByteMs: milliseconds.optional(), bodyIdleMs: milliseconds.optional() }).optional(),
    /** Largest request body (413 beyond it); unlimited when omitted. */
    maxBodyBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    /** WebSocket upgrades are proxied on this route (refused with 400 elsewhere). */
    websocket: z.boolean().default(false),
    /** Requests per client key beyond this rate get 429 (any route action: service, redirect or respond). */
    rateLimit: rateLimit.optional(),
  })
  .superRefine((route, ctx) => {
    // Zod runs this even when a nested key failed, so the route is read defensively.
    if (typeof route.match !== 'object' || route.match === null) return;
    const issue = (path: string, message: string): void => ctx.addIssue({ code: 'custom', path: [path], message });
    const actions = (['service', 'redirect', 'respond'] as const).filter((key) => route[key] !== undefined);
    if (actions.length === 0) issue('service', 'required: give service, redirect or respond');
    if (actions.length > 1) issue(actions[1]!, `give only one of service, redirect and respond (not ${actions[0]})`);
    if (route.rewrite?.replacePrefix !== undefined && route.match.path?.prefix === undefined)
      issue('rewrite', 'replacePrefix needs match.path.prefix');
    if (route.service !== undefined) return;
    for (const key of ['requestHeaders', 'timeouts', 'maxBodyBytes'] as const)
      if (route[key] !== undefined) issue(key, 'only a route with a service takes this');
    if (route.websocket) issue('websocket', 'only a route with a service takes this');
    if (route.respond !== undefined && route.rewrite !== undefined) issue('rewrite', 'a fixed response has no path');
    const r = typeof route.redirect === 'object' && route.redirect !== null ? route.redirect : undefined;
    if (r !== undefined && r.to === undefined && [r.scheme, r.host, r.port, r.path, route.rewrite].every((v) => !v))
      issue('redirect', 'a redirect to the same URL would loop: give to, scheme, host, port, path or a rewrite');
  });
