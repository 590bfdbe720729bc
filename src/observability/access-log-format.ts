import {
  accessLogFields,
  defaultAccessLogFields,
  type AccessEntry,
  type AccessLogField,
} from '../core/access-entry.js';

/** What a line looks like; compiled once per configuration (`accessLineFormat`). */
export interface AccessLineOptions {
  readonly format: 'json' | 'common' | 'combined';
  /** JSON only: the fields to write (written in `accessLogFields` order); default `defaultAccessLogFields`. */
  readonly fields?: readonly AccessLogField[] | undefined;
  /** Fields whose value is hidden; `query` cuts the query string off `path`. */
  readonly redact?: readonly (AccessLogField | 'query')[];
}

/** Turns an entry into one line, newline included. */
export type AccessLineFormat = (entry: AccessEntry) => string;

/** The value written in place of a redacted JSON field. */
export const redactedValue = '[redacted]';

/**
 * Compiles the line format of a configuration. JSON lines hold every chosen field (absent values are `null`, `flags`
 * is `"-"` when there are none); `common` and `combined` are the Apache/nginx formats, with the client address as the
 * host, the request line and the response body bytes (`bytes_out`).
 */
export function accessLineFormat(options: AccessLineOptions): AccessLineFormat {
  const redact = new Set(options.redact ?? []);
  if (options.format === 'json') return jsonFormat(options.fields ?? defaultAccessLogFields, redact);
  return textFormat(options.format === 'combined', redact);
}

/** True when lines need the request's User-Agent and Referer (so the data plane reads them). */
export function needsRequestHeaders(options: AccessLineOptions): boolean {
  if (options.format === 'combined') return true;
  if (options.format !== 'json') return false;
  const fields = options.fields ?? defaultAccessLogFields;
  return fields.includes('user_agent') || fields.includes('referer');
}

type JsonValue = (entry: AccessEntry) => string;

const jsonValues: Readonly<Record<AccessLogField, JsonValue>> = {
  time: (e) => `"${isoTime(e.time)}"`,
  request_id: (e) => optionalJsonString(e.requestId),
  client_ip: (e) => jsonString(e.clientIp),
  method: (e) => optionalJsonString(e.method),
  host: (e) => optionalJsonString(e.host),
  path: (e) => optionalJsonString(e.path),
  protocol: (e) => jsonString(e.protocol),
  status: (e) => String(e.status),
  bytes_in: (e) => String(e.bytesIn),
  bytes_out: (e) => String(e.bytesOut),
  duration_ms: (e) => String(roundMs(e.durationMs)),
  route: (e) => optionalJsonString(e.route),
  service: (e) => optionalJsonString(e.service),
  endpoint: (e) => optionalJsonString(e.endpoint),
  upstream_status: (e) => (e.upstreamStatus === undefined ? 'null' : String(e.upstreamStatus)),
  upstream_duration_ms: (e) => (e.upstreamDurationMs === undefined ? 'null' : String(roundMs(e.upstreamDurationMs))),
  retries: (e) => String(e.retries),
  sticky: (e) => (e.sticky ? 'true' : 'false'),
  flags: (e) => (e.flags === '' ? '"-"' : jsonString(e.flags)),
  grpc_status: (e) => (e.grpcStatus === undefined ? 'null' : String(e.grpcStatus)),
  user_agent: (e) => optionalJsonString(e.userAgent),
  referer: (e) => optionalJsonString(e.referer),
};

function jsonFormat(fields: readonly AccessLogField[], redact: ReadonlySet<string>): AccessLineFormat {
  const chosen = accessLogFields.filter((field) => fields.includes(field));
  const keys = chosen.map((field, i) => `${i === 0 ? '' : ','}"${field}":`);
  const values = chosen.map((field): JsonValue => {
    if (redact.has(field)) return () => `"${redactedValue}"`;
    if (field === 'path' && redact.has('query')) return (e) => optionalJsonString(withoutQuery(e.path));
    return jsonValues[field];
  });
  const count = chosen.length;
  return (entry) => {
    let line = '{';
    for (let i = 0; i < count; i++) line += keys[i]! + values[i]!(entry);
    return `${line}}\n`;
  };
}

function textFormat(combined: boolean, redact: ReadonlySet<string>): AccessLineFormat {
  const hidden = (field: AccessLogField): boolean => redact.has(field);
  const cutQuery = redact.has('query');
  return (e) => {
    const client = hidden('client_ip') || e.clientIp === '' ? '-' : e.clientIp;
    const time = hidden('time') ? '-' : `[${clfTime(e.time)}]`;
    const method = hidden('method') ? '-' : (e.method ?? '-');
    const rawPath = cutQuery ? withoutQuery(e.path) : e.path;
    const path = hidden('path') ? '-' : (rawPath ?? '-');
    const protocol = hidden('protocol') ? '-' : e.protocol;
    const status = hidden('status') ? '-' : String(e.status);
    const bytes = hidden('bytes_out') ? '-' : String(e.bytesOut);
    let line = `${client} - - ${time} "${clfEscape(`${method} ${path} ${protocol}`)}" ${status} ${bytes}`;
    if (combined) {
      const referer = hidden('referer') ? '-' : (e.referer ?? '-');
      const agent = hidden('user_agent') ? '-' : (e.userAgent ?? '-');
      line += ` "${clfEscape(referer)}" "${clfEscape(agent)}"`;
    }
    return `${line}\n`;
  };
}

/** True when a JSON string must escape nothing of `value` (`"`, `\`, control characters; RFC 8259 §7). */
function jsonPlain(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** A JSON string; UTF-8 beyond ASCII is written as it is. */
function jsonString(value: string): string {
  return jsonPlain(value) ? `"${value}"` : JSON.stringify(value);
}

function optionalJsonString(value: string | undefined): string {
  return value === undefined ? 'null' : jsonString(value);
}

/** A quoted Common Log Format field, escaped as nginx does: `"`, `\` and control characters become `\xHH`. */
function clfEscape(value: string): string {
  let escaped: string | undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const special = c < 0x20 || c === 0x7f || c === 0x22 || c === 0x5c;
    if (special) escaped = `${escaped ?? value.slice(0, i)}\\x${c.toString(16).padStart(2, '0').toUpperCase()}`;
    else if (escaped !== undefined) escaped += value[i];
  }
  return escaped ?? value;
}

function withoutQuery(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const mark = path.indexOf('?');
  return mark === -1 ? path : `${path.slice(0, mark)}?${redactedValue}`;
}

/** Milliseconds to the microsecond: enough to tell a proxy's own cost apart, short enough to read. */
function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

// Many lines of a busy second share their time stamp's text: the last one is kept.
let isoMs = Number.NaN;
let isoText = '';

/** `2025-01-31T12:00:00.123Z`. */
export function isoTime(ms: number): string {
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let clfSecond = Number.NaN;
let clfText = '';

/** `10/Oct/2000:13:55:36 +0000` (UTC), as Apache's `%t` without the brackets. */
export function clfTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== clfSecond) {
    clfSecond = second;
    const d = new Date(second * 1000);
    const two = (n: number): string => String(n).padStart(2, '0');
    clfText =
      `${two(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
      `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
  }
  return clfText;
}
