import type {
  HeaderRulesSnapshot,
  RouteRedirectSnapshot,
  RouteRespondSnapshot,
  RouteRewriteSnapshot,
  RouteSnapshot,
} from '../../core/snapshot.js';

/**
 * What a route does with a request it matched, compiled once per snapshot: the path rewrite, header rules, redirect
 * target, fixed response, timeouts and body limit. Pure string work; the proxy applies it to the wire.
 */
export class RoutePolicies {
  /** Upstream time to the response head, overriding the service's; undefined keeps the service's. */
  readonly firstByteMs: number | undefined;
  /** Upstream body idle time, overriding the service's. */
  readonly bodyIdleMs: number | undefined;
  /** Largest request body in bytes (413 beyond it); undefined is unlimited. */
  readonly maxBodyBytes: number | undefined;
  readonly requestHeaders: HeaderRules | undefined;
  readonly responseHeaders: HeaderRules | undefined;
  readonly redirect: Redirect | undefined;
  readonly respond: FixedResponse | undefined;
  readonly #rewrite: ((path: string, matchPath: string) => string) | undefined;

  constructor(route: RouteSnapshot) {
    this.firstByteMs = route.timeouts?.firstByteMs;
    this.bodyIdleMs = route.timeouts?.bodyIdleMs;
    this.maxBodyBytes = route.maxBodyBytes;
    this.requestHeaders = headerRules(route.requestHeaders);
    this.responseHeaders = headerRules(route.responseHeaders);
    const path = route.match.path;
    this.#rewrite =
      route.rewrite === undefined
        ? undefined
        : compileRewrite(route.rewrite, path?.kind === 'prefix' ? path.value : undefined, path?.ignoreCase ?? false);
    this.redirect = route.redirect === undefined ? undefined : new Redirect(route.redirect);
    this.respond = route.respond === undefined ? undefined : new FixedResponse(route.respond);
  }

  /**
   * The path after the route's rewrite (the upstream's path, or a redirect's), from the normalised `path` and its
   * `matchPath` (see `normalisePath`). Without a rewrite, `path` itself.
   */
  rewrite(path: string, matchPath: string): string {
    if (this.#rewrite === undefined || path === '*') return path;
    return this.#rewrite(path, matchPath);
  }
}

function compileRewrite(
  rewrite: RouteRewriteSnapshot,
  matchedPrefix: string | undefined,
  ignoreCase: boolean,
): (path: string, matchPath: string) => string {
  if (rewrite.replacePath !== undefined) {
    const replacement = rewrite.replacePath;
    return () => replacement;
  }
  const prefix = rewrite.stripPrefix ?? matchedPrefix ?? '/';
  const base =
    rewrite.stripPrefix !== undefined || rewrite.replacePrefix === '/' ? '' : trimSlash(rewrite.replacePrefix);
  if (prefix === '/') return (path) => (base === '' ? path : `${base}${path}`);
  const segments = prefix.split('/').length - 1;
  const folded = ignoreCase ? prefix.toLowerCase() : prefix;
  return (path, matchPath) => {
    if (!isUnderPrefix(ignoreCase ? matchPath.toLowerCase() : matchPath, folded)) return path;
    const rest = path === matchPath ? path.slice(prefix.length) : path.slice(offsetAfterSegments(path, segments));
    return `${base}${rest}` || '/';
  };
}

function trimSlash(path: string | undefined): string {
  if (path === undefined) return '';
  return path.endsWith('/') ? path.slice(0, -1) : path;
}

/** Prefix on segment boundaries: `/a` is under `/a`, `/a/` and `/a/b`, never `/ab`. */
export function isUnderPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47; /* '/' */
}

/**
 * Where `count` segments end in a path with `;parameters`, counting only segments whose name (before `;`) is not
 * empty: the same segments `matchPath` kept, so a strip removes what the route matched and keeps the parameters.
 */
function offsetAfterSegments(path: string, count: number): number {
  let seen = 0;
  let i = 0;
  while (seen < count && i < path.length) {
    const end = path.indexOf('/', i + 1);
    const stop = end === -1 ? path.length : end;
    if (i + 1 < stop && path.charCodeAt(i + 1) !== 59 /* ';' */) seen++;
    i = stop;
  }
  return i;
}

/** Compiled header add/set/remove: one pass over the fields, then the new ones appended. */
export class HeaderRules {
  /** Lower-case names whose fields are dropped: the removed ones and the ones `set` replaces. */
  readonly #drop: ReadonlySet<string>;
  readonly #append: readonly string[];

  constructor(rules: HeaderRulesSnapshot) {
    this.#drop = new Set([...rules.remove, ...rules.set.map(([name]) => name)]);
    this.#append = [...rules.set, ...rules.add].flatMap(([name, value]) => [name, value]);
  }

  /** A new flat `[name, value, …]` list with the rules applied. */
  apply(headers: readonly string[]): string[] {
    const out: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      if (this.#drop.size > 0 && this.#drop.has(name.toLowerCase())) continue;
      out.push(name, headers[i + 1]!);
    }
    for (const field of this.#append) out.push(field);
    return out;
  }
}

function headerRules(rules: HeaderRulesSnapshot | undefined): HeaderRules | undefined {
  if (rules === undefined) return undefined;
  if (rules.remove.length + rules.set.length + rules.add.length === 0) return undefined;
  return new HeaderRules(rules);
}

/** The request facts a redirect target is built from. */
export interface RedirectSource {
  /** The listener's scheme. */
  readonly scheme: 'http' | 'https';
  /** The `Host` header as sent; undefined when there was none. */
  readonly host: string | undefined;
  /** The normalised path after the route's rewrite. */
  readonly path: string;
  /** The query string without `?`; empty when there is none. */
  readonly query: string;
}

/** Names a template may use, in `{name}` form. */
export const redirectPlaceholders = ['scheme', 'host', 'port', 'path', 'query'] as const;

type Placeholder = (typeof redirectPlaceholders)[number];
type TemplatePart = string | { readonly placeholder: Placeholder };

const isPlaceholder = (name: string): name is Placeholder => (redirectPlaceholders as readonly string[]).includes(name);

/** A compiled `redirect`: its status and how to build `Location`. */
export class Redirect {
  readonly status: number;
  readonly #config: RouteRedirectSnapshot;
  readonly #template: readonly TemplatePart[] | undefined;

  constructor(config: RouteRedirectSnapshot) {
    this.status = config.status;
    this.#config = config;
    this.#template = config.to === undefined ? undefined : parseTemplate(config.to);
  }

  /** The `Location` value; undefined when it needs the request's host and the request sent none. */
  location(source: RedirectSource): string | undefined {
    const { hostname, port } = splitHost(source.host);
    const query = this.#config.dropQuery || source.query === '' ? '' : `?${source.query}`;
    if (this.#template !== undefined) {
      let out = '';
      for (const part of this.#template) {
        if (typeof part === 'string') out += part;
        else if (part.placeholder === 'scheme') out += source.scheme;
        else if (part.placeholder === 'host') out += hostname ?? '';
        else if (part.placeholder === 'port') out += port ?? (source.scheme === 'https' ? '443' : '80');
        else if (part.placeholder === 'path') out += source.path;
        else out += query;
      }
      if (hostname === undefined && this.#template.some((p) => typeof p !== 'string' && p.placeholder === 'host'))
        return undefined;
      return visible(out);
    }
    const scheme = this.#config.scheme ?? source.scheme;
    const host = this.#config.host ?? hostname;
    const path = this.#config.path ?? source.path;
    if (host === undefined) return undefined;
    const keptPort = scheme === source.scheme ? port : undefined;
    const targetPort = this.#config.port ?? keptPort;
    const defaultPort = targetPort === undefined || String(targetPort) === (scheme === 'https' ? '443' : '80');
    return visible(`${scheme}://${host}${defaultPort ? '' : `:${targetPort}`}${path}${query}`);
  }
}

/** Splits `{name}` placeholders out of a template; unknown names stay literal text (validation refuses them). */
export function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const found of template.matchAll(/\{([a-z]+)\}/g)) {
    const name = found[1] ?? '';
    if (!isPlaceholder(name)) continue;
    if (found.index > last) parts.push(template.slice(last, found.index));
    parts.push({ placeholder: name });
    last = found.index + found[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  return parts;
}

/** Host name (lower-case, no trailing dot, IPv6 in brackets) and explicit port of a `Host` value. */
function splitHost(host: string | undefined): { hostname: string | undefined; port: string | undefined } {
  if (host === undefined || host === '') return { hostname: undefined, port: undefined };
  const close = host.charCodeAt(0) === 91 /* '[' */ ? host.indexOf(']') : -1;
  const colon = host.indexOf(':', close + 1);
  let name = colon === -1 ? host : host.slice(0, colon);
  const port = colon === -1 ? undefined : host.slice(colon + 1);
  if (name.endsWith('.')) name = name.slice(0, -1);
  return { hostname: name.toLowerCase(), port: port !== undefined && /^\d+$/.test(port) ? port : undefined };
}

/** Percent-encodes anything outside visible ASCII, so a header value can always be sent. */
function visible(text: string): string {
  return /^[\x21-\x7e]*$/.test(text) ? text : text.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

/** A compiled `respond`: status, body bytes and the header fields that go with them. */
export class FixedResponse {
  readonly status: number;
  readonly body: Uint8Array;
  /** `content-type` (when there is a body) and `content-length`. */
  readonly headers: readonly string[];

  constructor(config: RouteRespondSnapshot) {
    this.status = config.status;
    this.body = new TextEncoder().encode(config.body);
    const type = config.contentType ?? (config.body === '' ? undefined : 'text/plain; charset=utf-8');
    this.headers = [
      ...(type === undefined ? [] : ['content-type', type]),
      'content-length',
      String(this.body.byteLength),
    ];
  }
}
