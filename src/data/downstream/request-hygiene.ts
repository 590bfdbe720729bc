import type { IncomingMessage } from 'node:http';
import { proxyErrors, type ProxyError } from '../../core/errors.js';

/** What a listener lets through that the checks below would otherwise refuse. */
export interface HygieneOptions {
  /** Accept header names containing `_` (refused by default: `X_Forwarded_For` could pass for `X-Forwarded-For`). */
  readonly allowUnderscoreHeaders: boolean;
}

/** Why a request is refused: the error to answer with (always followed by closing the connection) and a detail. */
export interface HygieneProblem {
  readonly error: ProxyError;
  readonly detail: string;
}

const refuse = (detail: string): HygieneProblem => ({ error: proxyErrors.badRequest, detail });

// Built once: refusing a request allocates nothing either.
const problems = {
  version: refuse('only HTTP/1.0 and HTTP/1.1 are accepted here'),
  method: refuse('the method is not a valid token'),
  targetChar: refuse('the request target contains a space, a control character or a non-ASCII byte'),
  fragment: refuse('the request target contains a fragment (#)'),
  userinfo: refuse('an absolute-form request target must not contain userinfo (user@host)'),
  headerName: refuse('a header name is not a valid token'),
  underscore: refuse('header names containing "_" are not accepted'),
  headerValue: refuse('a header value contains a control character'),
  host: refuse('the Host header is not a valid authority'),
  duplicateHost: refuse('more than one Host header'),
  missingHost: refuse('an HTTP/1.1 request needs a Host header'),
  h2c: refuse('upgrading to HTTP/2 (h2c) over HTTP/1.1 is not supported'),
  contentLength: refuse('Content-Length must be a plain decimal number'),
  contentLengths: refuse('more than one Content-Length header'),
  transferEncoding: refuse('the only transfer coding accepted is chunked'),
  transferEncodings: refuse('more than one Transfer-Encoding header'),
  framing: refuse('Transfer-Encoding and Content-Length together'),
  http10Chunked: refuse('Transfer-Encoding is not allowed in an HTTP/1.0 request'),
} as const;

/** RFC 9110 §5.6.2 tchar, by char code (header names and methods). */
const tchar = new Uint8Array(128);
/** Characters of an RFC 3986 authority without userinfo: unreserved, sub-delims, `%`, `:` and IP-literal brackets. */
const hostChar = new Uint8Array(128);
for (let c = 48; c <= 57; c++) tchar[c] = hostChar[c] = 1;
for (let c = 65; c <= 90; c++) tchar[c] = tchar[c + 32] = hostChar[c] = hostChar[c + 32] = 1;
for (const c of "!#$%&'*+-.^_`|~") tchar[c.charCodeAt(0)] = 1;
for (const c of "-._~!$&'()*+,;=%:[]") hostChar[c.charCodeAt(0)] = 1;

/**
 * Refuses, before routing, what Node's HTTP/1 parser lets through but a proxy must not forward (docs/guarantees.md §3,
 * RFC 9112): header names with `_` (unless allowed); `Upgrade: h2c`, with or without Connection; a fragment, userinfo
 * or raw space/control bytes in the target; a Host that is no authority, appears twice or is missing on HTTP/1.1;
 * Transfer-Encoding other than exactly `chunked` (or repeated, beside Content-Length, or on HTTP/1.0); more than one
 * Content-Length, or one that is not plain digits; control characters in header values; a method that is no token;
 * any version but 1.x. Returns undefined when the request is clean; the caller answers with `error` and closes.
 *
 * It runs on every request, so it reads `rawHeaders` once with char-code loops and allocates nothing unless an
 * `Upgrade` header is present. An HTTP/2 compatibility request (it has a `stream`) is left alone: nghttp2 frames it
 * and its pseudo-headers are no tokens.
 */
export function hygieneProblem(req: IncomingMessage, options: HygieneOptions): HygieneProblem | undefined {
  if ((req as { stream?: unknown }).stream !== undefined) return http2Problem(req.rawHeaders, options);
  if (req.httpVersionMajor !== 1) return problems.version;
  const method = req.method ?? '';
  if (method.length === 0 || !isToken(method)) return problems.method;
  const targetProblem = checkTarget(req.url ?? '');
  if (targetProblem !== undefined) return targetProblem;

  const raw = req.rawHeaders;
  let hosts = 0;
  let contentLengths = 0;
  let transferEncodings = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const length = name.length;
    if (length === 0) return problems.headerName;
    let underscore = false;
    for (let j = 0; j < length; j++) {
      const c = name.charCodeAt(j);
      if (c > 127 || tchar[c] === 0) return problems.headerName;
      if (c === 95 /* _ */) underscore = true;
    }
    if (underscore && !options.allowUnderscoreHeaders) return problems.underscore;
    for (let j = 0; j < value.length; j++) {
      const c = value.charCodeAt(j);
      // field-value: VCHAR, obs-text, SP and HTAB (RFC 9110 §5.5); Node trimmed the surrounding whitespace.
      if ((c < 32 && c !== 9) || c === 127) return problems.headerValue;
    }
    // Only the names that matter are compared, selected by length first.
    switch (length) {
      case 4:
        if (sameLetters(name, 'host')) {
          hosts++;
          if (!isAuthority(value)) return problems.host;
        }
        break;
      case 7:
        if (sameLetters(name, 'upgrade') && upgradesToH2c(value)) return problems.h2c;
        break;
      case 14:
        // A lone HTTP2-Settings (no `Upgrade: h2c`) is harmless: it is stripped as hop-by-hop (docs/guarantees.md §3).
        if (sameLetters(name, 'content-length')) {
          contentLengths++;
          if (!isDecimal(value)) return problems.contentLength;
        }
        break;
      case 17:
        if (sameLetters(name, 'transfer-encoding')) {
          transferEncodings++;
          // Transfer-coding names are case-insensitive (RFC 9112 §7); anything but chunked alone cannot be forwarded.
          if (value.length !== 7 || !sameLetters(value, 'chunked')) return problems.transferEncoding;
        }
        break;
    }
  }
  if (hosts > 1) return problems.duplicateHost;
  if (hosts === 0 && req.httpVersionMinor === 1) return problems.missingHost;
  if (contentLengths > 1) return problems.contentLengths;
  if (transferEncodings > 0) {
    if (transferEncodings > 1) return problems.transferEncodings;
    if (contentLengths > 0) return problems.framing;
    // RFC 9112 §6.1: the framing of an HTTP/1.0 message with Transfer-Encoding is faulty.
    if (req.httpVersionMinor === 0) return problems.http10Chunked;
  }
  return undefined;
}

/** Raw bytes a parser should never have let through, a fragment, and userinfo in an absolute-form target. */
function checkTarget(target: string): HygieneProblem | undefined {
  const length = target.length;
  if (length === 0) return problems.targetChar;
  for (let i = 0; i < length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 32 || c >= 127) return problems.targetChar;
    if (c === 35 /* # */) return problems.fragment;
  }
  if (target.charCodeAt(0) === 47 /* / */) return undefined;
  // Absolute form: the authority runs from "://" to the first "/" or "?"; an "@" in it means userinfo.
  const scheme = target.indexOf('://');
  if (scheme === -1) return undefined;
  for (let i = scheme + 3; i < length; i++) {
    const c = target.charCodeAt(i);
    if (c === 47 || c === 63) break;
    if (c === 64 /* @ */) return problems.userinfo;
  }
  return undefined;
}

function isToken(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 127 || tchar[c] === 0) return false;
  }
  return true;
}

/** An RFC 9110 §7.2 Host value: empty (RFC 9112 §3.2 allows it) or host and optional port, no userinfo or path. */
function isAuthority(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 127 || hostChar[c] === 0) return false;
  }
  return true;
}

/** 1*DIGIT, short enough to stay an exact JavaScript number (15 digits: just under 1 PB). */
function isDecimal(value: string): boolean {
  const length = value.length;
  if (length === 0 || length > 15) return false;
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * `text` equals `lower` (lower-case letters, digits and "-", same length) ignoring ASCII case. Setting bit 0x20 folds
 * only letters onto `lower`'s characters: no other byte maps onto a lower-case letter, "-" or a digit except control
 * characters, which the callers have already refused.
 */
function sameLetters(text: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((text.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** True when a protocol an `Upgrade` value lists is h2c (RFC 9110 §7.8: comma-separated `name[/version]`). */
function upgradesToH2c(value: string): boolean {
  for (const protocol of value.toLowerCase().split(',')) {
    const slash = protocol.indexOf('/');
    if ((slash === -1 ? protocol : protocol.slice(0, slash)).trim() === 'h2c') return true;
  }
  return false;
}

/**
 * HTTP/2 requests are framed by nghttp2 (no smuggling, no obs-fold), but the underscore rule applies to them too, and
 * a `host` field may only repeat `:authority` (checked where the headers are copied).
 */
function http2Problem(raw: readonly string[], options: HygieneOptions): HygieneProblem | undefined {
  if (options.allowUnderscoreHeaders) return undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.includes('_')) return problems.underscore;
  }
  return undefined;
}
