import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import type { HealthCheckConfig } from '../../config/service-schema.js';
import { abortDetail, describeError, type Probe, type ProbeResult, type ProbeTarget } from './probe.js';

/** The `grpc` part of a service's health check. */
export type GrpcCheckConfig = NonNullable<HealthCheckConfig['grpc']>;

/** TLS toward `https://` endpoints (PEM texts); the system CAs and the URL's host when omitted. */
export interface GrpcProbeTls {
  readonly ca?: string | Buffer;
  readonly servername?: string;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

/** grpc.health.v1.HealthCheckResponse.ServingStatus, by number. */
const servingStatus = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

/** The largest response message read; a health response is two bytes. */
const maxMessageBytes = 1_024;

/**
 * A gRPC health check: `grpc.health.v1.Health/Check` with the configured service name, over a fresh HTTP/2
 * connection closed afterwards (h2c with prior knowledge to `http://` endpoints, h2 by ALPN to `https://` ones). Passes
 * when the call ends with grpc-status 0 and the reply says `SERVING`. The request and the reply are encoded here by
 * hand (two protobuf fields and the gRPC length prefix), so the product needs no gRPC library.
 */
export class GrpcProbe implements Probe {
  readonly #config: GrpcCheckConfig;
  readonly #request: Buffer;
  readonly #tls: GrpcProbeTls | undefined;

  constructor(config: GrpcCheckConfig, tls?: GrpcProbeTls) {
    this.#config = config;
    this.#tls = tls;
    this.#request = grpcFrame(encodeHealthCheckRequest(config.service));
  }

  check(endpoint: ProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
    if (signal.aborted) return Promise.resolve({ ok: false, detail: abortDetail(signal) });
    if (!URL.canParse(endpoint.url)) return Promise.resolve({ ok: false, detail: `invalid URL ${endpoint.url}` });
    const url = new URL(endpoint.url);
    return new Promise<ProbeResult>((resolve) => {
      let session: ClientHttp2Session | undefined;
      let settled = false;
      const settle = (result: ProbeResult): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        session?.destroy();
        resolve(result);
      };
      const onAbort = (): void => settle({ ok: false, detail: abortDetail(signal) });
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        session = connect(url.origin, url.protocol === 'https:' ? this.#tlsOptions() : {});
      } catch (error) {
        settle({ ok: false, detail: describeError(error) });
        return;
      }
      session.on('error', (error) => settle({ ok: false, detail: describeError(error) }));
      this.#call(session, url, settle);
    });
  }

  #tlsOptions(): Record<string, unknown> {
    const tls = this.#tls;
    return {
      ALPNProtocols: ['h2'],
      rejectUnauthorized: true,
      ...(tls?.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls?.servername === undefined ? {} : { servername: tls.servername }),
      ...(tls?.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls?.key === undefined ? {} : { key: tls.key }),
    };
  }

  #call(session: ClientHttp2Session, url: URL, settle: (result: ProbeResult) => void): void {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      ':authority': this.#config.authority ?? url.host,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'switchyard-health-check',
    });
    let head: IncomingHttpHeaders = {};
    let body = Buffer.alloc(0);
    stream.on('error', (error) => settle({ ok: false, detail: describeError(error) }));
    stream.on('response', (headers) => (head = headers));
    stream.on('data', (chunk: Buffer) => {
      body = Buffer.concat([body, chunk]);
      if (body.length > maxMessageBytes) settle({ ok: false, detail: 'reply too large' });
    });
    let trailers: IncomingHttpHeaders | undefined;
    stream.on('trailers', (headers: IncomingHttpHeaders) => (trailers = headers));
    stream.on('close', () => {
      if (stream.rstCode !== undefined && stream.rstCode !== constants.NGHTTP2_NO_ERROR)
        return settle({ ok: false, detail: `stream reset (HTTP/2 error code ${stream.rstCode})` });
      settle(judge(head, trailers ?? head, body));
    });
    stream.end(this.#request);
  }
}

/** The verdict on a finished Check call: HTTP 200, grpc-status 0 and a SERVING reply. */
function judge(head: IncomingHttpHeaders, trailers: IncomingHttpHeaders, body: Buffer): ProbeResult {
  const status = Number(head[':status']);
  if (status !== 200) return { ok: false, detail: `HTTP ${status}` };
  const grpcStatus = trailers['grpc-status'];
  if (grpcStatus === undefined) return { ok: false, detail: 'no grpc-status' };
  if (grpcStatus !== '0') {
    const message = trailers['grpc-message'];
    const reason = typeof message === 'string' && message !== '' ? `: ${decodeURIComponent(message)}` : '';
    return { ok: false, detail: `grpc-status ${String(grpcStatus)}${reason}` };
  }
  const message = unframe(body);
  if (message === undefined) return { ok: false, detail: 'malformed reply' };
  const serving = decodeServingStatus(message);
  if (serving === undefined) return { ok: false, detail: 'malformed reply' };
  return { ok: serving === 1, detail: servingStatus[serving] ?? `status ${serving}` };
}

/** HealthCheckRequest { string service = 1; }: field 1, wire type 2 (length-delimited); empty when `""`. */
export function encodeHealthCheckRequest(service: string): Buffer {
  if (service === '') return Buffer.alloc(0);
  const text = Buffer.from(service, 'utf8');
  return Buffer.concat([Buffer.from([0x0a]), varint(text.length), text]);
}

/**
 * HealthCheckResponse { ServingStatus status = 1; }: the value of field 1 (wire type 0, varint); 0 (UNKNOWN) when the
 * field is absent (proto3 default); undefined when the message cannot be read. Unknown fields are skipped.
 */
export function decodeServingStatus(message: Buffer): number | undefined {
  let status = 0;
  let at = 0;
  while (at < message.length) {
    const key = readVarint(message, at);
    if (key === undefined) return undefined;
    at = key.next;
    const field = key.value >>> 3;
    const wire = key.value & 7;
    if (wire === 0) {
      const value = readVarint(message, at);
      if (value === undefined) return undefined;
      at = value.next;
      if (field === 1) status = value.value;
    } else if (wire === 2) {
      const length = readVarint(message, at);
      if (length === undefined || length.next + length.value > message.length) return undefined;
      at = length.next + length.value;
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
    } else return undefined;
  }
  return at === message.length ? status : undefined;
}

/** A gRPC length-prefixed message: compressed flag 0, 4-byte big-endian length, the message. */
export function grpcFrame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** The one uncompressed message of a gRPC body, or undefined when the body is not exactly that. */
function unframe(body: Buffer): Buffer | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined;
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length) return undefined;
  return body.subarray(5);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function readVarint(buffer: Buffer, from: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let at = from, shift = 0; at < buffer.length && shift < 35; at++, shift += 7) {
    const byte = buffer[at]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return { value, next: at + 1 };
  }
  return undefined;
}
