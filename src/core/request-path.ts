/**
 * Request path normalisation (docs/guarantees.md §3): the one function that decides what path a route sees and what path the
 * upstream gets, so that no encoding trick makes the two disagree. Configuration paths go through it too, so a route
 * written `/caf%c3%a9/` and a request for `/caf%C3%A9` compare equal.
 *
 * What it does, in one pass (RFC 3986 §6.2.2):
 * - `%XX` escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded (`%61dmin` is `admin`, `%2e` is `.`);
 *   every other escape is kept, with upper-case hex (`%c3%a9` is `%C3%A9`);
 * - characters not allowed raw in a path (`"`, `<`, `>`, `{`, `|`, `^`, `` ` `` …) are percent-encoded;
 * - duplicate slashes are merged (`//admin` is `/admin`), dot segments are resolved (RFC 3986 §5.2.4; `..` never climbs
 *   above the root), a trailing slash or trailing dot segment leaves a trailing slash (`/admin/.` is `/admin/`);
 * - rejected (400): an encoded slash `%2F` or backslash `%5C` (an upstream that decodes it would see other segments
 *   than the route did), a raw backslash (some servers treat it as `/`), `%00`, a malformed escape (`%zz`, `%4`), and a
 *   dot segment carrying path parameters (`..;x`, which servlet containers read as `..`).
 *
 * `matchPath` is the path with each segment's `;parameters` removed (and segments left empty by that dropped), which is
 * what routes compare against: `/admin;jsessionid=1` is matched as `/admin`, as servlet containers would serve it.
 * `path` keeps the parameters and is what the upstream receives.
 */

/** A path accepted by `normalisePath`. */
export interface NormalisedPath {
  readonly ok: true;
  /** The normalised path, forwarded upstream. */
  readonly path: string;
  /** The path routes are matched against: `path` without `;parameters`. Often the same string. */
  readonly matchPath: string;
}

/** A path refused by `normalisePath` (the proxy answers 400). */
export interface RejectedPath {
  readonly ok: false;
  /** Why, for the problem document's `detail`. */
  readonly reason: string;
}

export type PathResult = NormalisedPath | RejectedPath;

const SLASH = 47;
const PERCENT = 37;
const DOT = 46;
const SEMICOLON = 59;
const BACKSLASH = 92;
const HEX = '0123456789ABCDEF';

/** 1: unreserved (RFC 3986 §2.3); 2: other characters allowed raw in a segment (sub-delims, `:`, `@`). */
const charClass = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9\-._~]/.test(ch)) charClass[c] = 1;
  else if (/[!$&'()*+,;=:@]/.test(ch)) charClass[c] = 2;
}

/** Normalises an origin-form path (without its query). `*` (asterisk-form) is returned as is. */
export function normalisePath(raw: string): PathResult {
  if (raw === '*') return { ok: true, path: raw, matchPath: raw };
  if (raw.charCodeAt(0) !== SLASH) return reject('the path must start with "/"');
  if (isAlreadyNormal(raw)) return { ok: true, path: raw, matchPath: raw };
  return normaliseSlowly(raw);
}

/** True when the path has nothing to decode, encode, merge or resolve: the common case, answered without copying. */
function isAlreadyNormal(raw: string): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === SLASH) {
      const next = raw.charCodeAt(i + 1);
      // `//`, and any segment that starts with a dot (it may be `.` or `..`): let the slow path decide.
      if (next === SLASH || next === DOT) return false;
      continue;
    }
    if (c >= 128 || charClass[c] === 0 || c === SEMICOLON) return false;
  }
  return true;
}

function normaliseSlowly(raw: string): PathResult {
  const segments: string[] = [];
  let trailingSlash = false;
  let hasParameters = false;
  let segment = '';
  for (let i = 1; i <= raw.length; i++) {
    const c = i === raw.length ? SLASH : raw.charCodeAt(i);
    if (c === SLASH) {
      const atEnd = i === raw.length;
      const outcome = closeSegment(segment, segments);
      if (outcome !== undefined && typeof outcome === 'object') return outcome;
      if (atEnd) trailingSlash = outcome !== 'kept';
      segment = '';
      continue;
    }
    if (c === PERCENT) {
      const decoded = decodeEscape(raw, i);
      if (typeof decoded !== 'string') return decoded;
      segment += decoded;
      i += 2;
      continue;
    }
    if (c === BACKSLASH) return reject('a backslash is not allowed in the path');
    if (c === SEMICOLON) hasParameters = true;
    if (c < 128 && charClass[c] !== 0) {
      segment += raw[i];
      continue;
    }
    const encoded = encodeCharacter(raw, i);
    if (encoded === undefined) return reject('the path holds an invalid character');
    segment += encoded.text;
    i += encoded.length - 1;
  }
  const path = joinSegments(segments, trailingSlash);
  if (!hasParameters) return { ok: true, path, matchPath: path };
  const bare = segments.map(withoutParameters).filter((s) => s !== '');
  return { ok: true, path, matchPath: joinSegments(bare, trailingSlash) };
}

/**
 * Adds one segment to the resolved list: `'kept'`, `'dot'` for `.`/`..` (resolved), `'empty'` for an empty segment
 * (merged away), or a rejection.
 */
function closeSegment(segment: string, segments: string[]): 'kept' | 'dot' | 'empty' | RejectedPath {
  if (segment === '') return 'empty';
  const name = withoutParameters(segment);
  if (name === '.' || name === '..') {
    if (name !== segment) return reject('a dot segment cannot carry path parameters');
    if (name === '..') segments.pop();
    return 'dot';
  }
  segments.push(segment);
  return 'kept';
}

function withoutParameters(segment: string): string {
  const semicolon = segment.indexOf(';');
  return semicolon === -1 ? segment : segment.slice(0, semicolon);
}

function joinSegments(segments: readonly string[], trailingSlash: boolean): string {
  if (segments.length === 0) return '/';
  return `/${segments.join('/')}${trailingSlash ? '/' : ''}`;
}

/** The escape at `raw[i]` (`%XX`): an unreserved character decoded, anything else re-encoded in upper case. */
function decodeEscape(raw: string, i: number): string | RejectedPath {
  const high = hexValue(raw.charCodeAt(i + 1));
  const low = hexValue(raw.charCodeAt(i + 2));
  if (high === -1 || low === -1) return reject('the path holds a malformed percent-escape');
  const byte = high * 16 + low;
  if (byte === SLASH || byte === BACKSLASH) return reject('an encoded slash or backslash is not allowed in the path');
  if (byte === 0) return reject('an encoded NUL is not allowed in the path');
  if (byte < 128 && charClass[byte] === 1) return String.fromCharCode(byte);
  return `%${HEX[high]}${HEX[low]}`;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** Percent-encodes the character at `raw[i]` as UTF-8 (a surrogate pair counts as one); undefined for a lone half. */
function encodeCharacter(raw: string, i: number): { text: string; length: number } | undefined {
  const code = raw.codePointAt(i)!;
  const length = code > 0xffff ? 2 : 1;
  try {
    return { text: encodeURIComponent(raw.slice(i, i + length)), length };
  } catch {
    return undefined;
  }
}

function reject(reason: string): RejectedPath {
  return { ok: false, reason };
}
