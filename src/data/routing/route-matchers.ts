import type { RouteMatchSnapshot, RoutePathSnapshot, ValueMatchSnapshot } from '../../core/snapshot.js';
import { cidrContains, parseCidr, parseIp, type CidrBlock } from '../../core/cidr.js';
import { isUnderPrefix } from './route-policies.js';

/** What the route table needs to know of a request. */
export interface RouteRequest {
  /** The `Host` header as sent (any case, maybe a port); undefined when there is none. */
  readonly host: string | undefined;
  /** The normalised path routes compare against: `matchPath` of `normalisePath` (no query). */
  readonly path: string;
  readonly method: string;
  /** The raw query string without `?`; empty when there is none. */
  readonly query: string;
  /** The client's header block as Node gives it: `[name, value, name, value …]`. */
  readonly rawHeaders: readonly string[];
  /** The client address (the right-most untrusted hop when the peer is a trusted proxy). */
  readonly clientIp: string;
}

/**
 * One request as the matchers read it. Header values, query parameters and the client address are looked up once,
 * on first use, and only for the names some route asks about.
 */
export class RequestView {
  readonly request: RouteRequest;
  readonly #headerNames: ReadonlySet<string>;
  readonly #queryNames: ReadonlySet<string>;
  #headers: Map<string, string[]> | undefined;
  #query: Map<string, string[]> | undefined;
  #ip: Uint8Array | null | undefined;

  constructor(request: RouteRequest, headerNames: ReadonlySet<string>, queryNames: ReadonlySet<string>) {
    this.request = request;
    this.#headerNames = headerNames;
    this.#queryNames = queryNames;
  }

  /** Every value of a header (lower-case name), one per field, in order. */
  header(name: string): readonly string[] {
    if (this.#headers === undefined) {
      this.#headers = new Map();
      const raw = this.request.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        const lower = raw[i]!.toLowerCase();
        if (!this.#headerNames.has(lower)) continue;
        const values = this.#headers.get(lower);
        if (values === undefined) this.#headers.set(lower, [raw[i + 1]!]);
        else values.push(raw[i + 1]!);
      }
    }
    return this.#headers.get(name) ?? none;
  }

  /** Every value of a query parameter, decoded as a form (`+` is a space), in order. */
  query(name: string): readonly string[] {
    if (this.#query === undefined) {
      this.#query = new Map();
      for (const pair of this.request.query.split('&')) {
        if (pair === '') continue;
        const equals = pair.indexOf('=');
        const key = decodeFormComponent(equals === -1 ? pair : pair.slice(0, equals));
        if (!this.#queryNames.has(key)) continue;
        const value = equals === -1 ? '' : decodeFormComponent(pair.slice(equals + 1));
        const values = this.#query.get(key);
        if (values === undefined) this.#query.set(key, [value]);
        else values.push(value);
      }
    }
    return this.#query.get(name) ?? none;
  }

  /** The client address as 16 bytes; undefined when it is not an IP address. */
  ip(): Uint8Array | undefined {
    if (this.#ip === undefined) this.#ip = parseIp(this.request.clientIp) ?? null;
    return this.#ip ?? undefined;
  }
}

const none: readonly string[] = [];

function decodeFormComponent(text: string): string {
  const spaced = text.includes('+') ? text.replaceAll('+', ' ') : text;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced; // a malformed escape stays as sent, so it can still be matched literally
  }
}

/** One header or query condition, compiled. */
export interface ValueMatcher {
  readonly name: string;
  /** True when the request's values (one per field or occurrence) satisfy the condition. */
  test(values: readonly string[]): boolean;
}

/** Compiles a header or query condition. A value condition holds when any one field or occurrence matches. */
export function compileValueMatcher(snapshot: ValueMatchSnapshot): ValueMatcher {
  const { name, kind, value = '' } = snapshot;
  switch (kind) {
    case 'exact':
      return { name, test: (values) => values.includes(value) };
    case 'regex': {
      const regex = wholeMatch(value, false);
      return { name, test: (values) => values.some((v) => regex.test(v)) };
    }
    case 'present':
      return { name, test: (values) => values.length > 0 };
    case 'absent':
      return { name, test: (values) => values.length === 0 };
  }
}

/** A regular expression that must match the whole input (it is wrapped in `^(?:…)$`). */
export function wholeMatch(source: string, ignoreCase: boolean): RegExp {
  return new RegExp(`^(?:${source})$`, ignoreCase ? 'i' : '');
}

/** A compiled path condition; undefined for one that every path meets (no path, or prefix `/`). */
export function compilePathMatcher(path: RoutePathSnapshot | undefined): ((path: string) => boolean) | undefined {
  if (path === undefined || (path.kind === 'prefix' && path.value === '/')) return undefined;
  const { value, ignoreCase } = path;
  const folded = ignoreCase ? value.toLowerCase() : value;
  switch (path.kind) {
    case 'exact':
      return ignoreCase ? (p) => p.length === value.length && p.toLowerCase() === folded : (p) => p === value;
    case 'prefix':
      return ignoreCase ? (p) => isUnderPrefix(p.toLowerCase(), folded) : (p) => isUnderPrefix(p, value);
    case 'regex': {
      const regex = wholeMatch(value, ignoreCase);
      return (p) => regex.test(p);
    }
  }
}

/** Every condition of a route but the host (the table indexes routes by host), compiled. */
export class RouteConditions {
  readonly #methods: ReadonlySet<string> | undefined;
  readonly #path: ((path: string) => boolean) | undefined;
  /** Regex paths are tested last, after the cheap string comparisons. */
  readonly #pathIsRegex: boolean;
  readonly #cidrs: readonly CidrBlock[] | undefined;
  readonly #headers: readonly ValueMatcher[];
  readonly #query: readonly ValueMatcher[];

  constructor(match: RouteMatchSnapshot) {
    this.#methods = match.methods === undefined ? undefined : new Set(match.methods);
    this.#path = compilePathMatcher(match.path);
    this.#pathIsRegex = match.path?.kind === 'regex';
    this.#cidrs = match.clientCidrs?.map((text) => {
      const block = parseCidr(text);
      if (block === undefined) throw new Error(`invalid CIDR ${text}`);
      return block;
    });
    this.#headers = (match.headers ?? []).map(compileValueMatcher);
    this.#query = (match.query ?? []).map(compileValueMatcher);
  }

  /** True when the request meets every condition. */
  test(view: RequestView): boolean {
    const request = view.request;
    if (this.#methods !== undefined && !this.#methods.has(request.method)) return false;
    if (this.#path !== undefined && !this.#pathIsRegex && !this.#path(request.path)) return false;
    if (this.#cidrs !== undefined) {
      const ip = view.ip();
      if (ip === undefined || !this.#cidrs.some((block) => cidrContains(block, ip))) return false;
    }
    for (const matcher of this.#headers) if (!matcher.test(view.header(matcher.name))) return false;
    for (const matcher of this.#query) if (!matcher.test(view.query(matcher.name))) return false;
    return !this.#pathIsRegex || this.#path!(request.path);
  }
}
