import {
  credentials,
  loadPackageDefinition,
  Metadata,
  Server,
  ServerCredentials,
  status as grpcStatus,
  type ChannelOptions,
  type Client,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

/** A request of the test service `switchyard.test.Echo` (test/integration/fixtures/echo.proto). */
export interface EchoRequest {
  text?: string;
  count?: number;
  failCode?: number;
  payload?: Buffer;
  delayMs?: number;
}

export interface EchoReply {
  text: string;
  index: number;
  seenMetadata: string;
  payload: Buffer;
  instance: string;
}

const fixtures = (file: string): string => fileURLToPath(new URL(`../fixtures/${file}`, import.meta.url));
const loaderOptions = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true };

type ClientConstructor = new (
  target: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options?: ChannelOptions,
) => Client;

interface ServiceConstructor extends ClientConstructor {
  readonly service: Parameters<Server['addService']>[0];
}

function load(file: string, path: readonly string[]): ServiceConstructor {
  let node: unknown = loadPackageDefinition(loadSync(fixtures(file), loaderOptions));
  for (const part of path) node = (node as Record<string, unknown>)[part];
  return node as ServiceConstructor;
}

const Echo = load('echo.proto', ['switchyard', 'test', 'Echo']);
const Health = load('health.proto', ['grpc', 'health', 'v1', 'Health']);

/** A grpc.health.v1 serving status, as the enum's name. */
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** A real grpc-js server on 127.0.0.1:0: the Echo service and grpc.health.v1.Health. */
export interface GrpcOrigin {
  readonly name: string;
  /** `http://127.0.0.1:PORT` (h2c) or `https://…` (h2 over TLS). */
  readonly url: string;
  readonly port: number;
  /** Calls that reached it, by method name (`Unary`, `ServerStream`, `ClientStream`, `Bidi`, `Check`). */
  readonly calls: string[];
  /** The health of `service` (`""`: the whole instance); `SERVING` for `""` by default, unknown names otherwise. */
  setHealth(service: string, status: ServingStatus): void;
  /** How many messages each server-side stream has written but the peer not yet read (back-pressure tests). */
  readonly pendingWrites: { value: number };
  close(): Promise<void>;
}

const trailerOf = (name: string, extra?: Record<string, string>): Metadata => {
  const trailers = new Metadata();
  trailers.set('x-trailer', `done-by-${name}`);
  for (const [key, value] of Object.entries(extra ?? {})) trailers.set(key, value);
  return trailers;
};

const failure = (code: number, name: string): Partial<ServiceError> => ({
  code,
  details: 'asked to fail',
  metadata: trailerOf(name, { 'x-failed': 'yes' }),
});

/** Starts a grpc-js server; `tls` makes it h2 over TLS (its certificate and key PEM texts). */
export async function startGrpcOrigin(
  name: string,
  tls?: { readonly cert: string; readonly key: string },
): Promise<GrpcOrigin> {
  const server = new Server();
  const calls: string[] = [];
  const health = new Map<string, ServingStatus>([['', 'SERVING']]);
  const pendingWrites = { value: 0 };
  const seen = (metadata: Metadata): string => metadata.get('x-test').map(String).join(',');
  const reply = (text: string, index: number, metadata: Metadata, payload?: Buffer): EchoReply => ({
    text,
    index,
    seenMetadata: seen(metadata),
    payload: payload ?? Buffer.alloc(0),
    instance: name,
  });
  server.addService(Echo.service, {
    Unary(call: ServerUnaryCall<EchoRequest, EchoReply>, callback: sendUnaryData<EchoReply>) {
      calls.push('Unary');
      const answer = (): void => {
        call.sendMetadata(new Metadata({}));
        if (call.request.failCode) return callback(failure(call.request.failCode, name));
        callback(null, reply(call.request.text ?? '', 0, call.metadata, call.request.payload), trailerOf(name));
      };
      if (call.request.delayMs) setTimeout(answer, call.request.delayMs).unref();
      else answer();
    },
    ServerStream(call: ServerWritableStream<EchoRequest, EchoReply>) {
      calls.push('ServerStream');
      const count = call.request.count ?? 1;
      let index = 0;
      const pump = (): void => {
        while (index < count) {
          pendingWrites.value++;
          const more = call.write(reply(call.request.text ?? '', index++, call.metadata, call.request.payload), () => {
            pendingWrites.value--;
          });
          if (!more) return void call.once('drain', pump);
        }
        if (call.request.failCode) call.emit('error', failure(call.request.failCode, name));
        else call.end(trailerOf(name));
      };
      pump();
    },
    ClientStream(call: ServerReadableStream<EchoRequest, EchoReply>, callback: sendUnaryData<EchoReply>) {
      calls.push('ClientStream');
      const texts: string[] = [];
      let bytes = 0;
      call.on('data', (message: EchoRequest) => {
        texts.push(message.text ?? '');
        bytes += message.payload?.length ?? 0;
      });
      call.on('error', () => undefined);
      call.on('end', () => callback(null, reply(texts.join('+'), bytes, call.metadata), trailerOf(name)));
    },
    Bidi(call: ServerDuplexStream<EchoRequest, EchoReply>) {
      calls.push('Bidi');
      let index = 0;
      call.on('data', (message: EchoRequest) => {
        if (message.failCode) return call.emit('error', failure(message.failCode, name));
        call.write(reply(message.text ?? '', index++, call.metadata, message.payload));
      });
      call.on('error', () => undefined);
      call.on('end', () => call.end(trailerOf(name)));
    },
  });
  server.addService(Health.service, {
    Check(call: ServerUnaryCall<{ service: string }, { status: ServingStatus }>, callback: sendUnaryData<unknown>) {
      calls.push('Check');
      const status = health.get(call.request.service);
      if (status === undefined) return callback({ code: grpcStatus.NOT_FOUND, details: 'unknown service' });
      callback(null, { status });
    },
  });
  const creds =
    tls === undefined
      ? ServerCredentials.createInsecure()
      : ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }]);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', creds, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    name,
    port,
    url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    calls,
    pendingWrites,
    setHealth: (service, status) => health.set(service, status),
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

/** What a finished call returned: its messages, status, message and the metadata of both ends. */
export interface CallOutcome {
  readonly replies: EchoReply[];
  readonly code: number;
  readonly details: string;
  readonly headers: Record<string, string>;
  readonly trailers: Record<string, string>;
}

/** A grpc-js client of the Echo service; `tls.ca` trusts a test CA, `tls.servername` overrides the checked name. */
export interface EchoClient {
  unary(request: EchoRequest, metadata?: Record<string, string>, deadlineMs?: number): Promise<CallOutcome>;
  serverStream(request: EchoRequest, metadata?: Record<string, string>): Promise<CallOutcome>;
  clientStream(requests: readonly EchoRequest[], metadata?: Record<string, string>): Promise<CallOutcome>;
  bidi(requests: readonly EchoRequest[], metadata?: Record<string, string>): Promise<CallOutcome>;
  /** The underlying client (for streams a test drives itself). */
  readonly raw: Client;
  close(): void;
}

const flat = (metadata: Metadata): Record<string, string> =>
  Object.fromEntries(Object.entries(metadata.getMap()).map(([key, value]) => [key, String(value)]));

const metadataOf = (pairs?: Record<string, string>): Metadata => {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(pairs ?? {})) metadata.set(key, value);
  return metadata;
};

type Call = {
  on(event: 'metadata' | 'status' | 'data' | 'error', listener: (value: never) => void): unknown;
};

/** Collects a call's headers, messages and final status; resolves on the status whatever it is. */
function outcomeOf(call: Call, replies: EchoReply[] = []): Promise<CallOutcome> {
  let headers: Record<string, string> = {};
  return new Promise((resolve) => {
    call.on('metadata', (metadata: Metadata) => (headers = flat(metadata)));
    call.on('data', (reply: EchoReply) => replies.push(reply));
    call.on('error', () => undefined);
    call.on('status', (status: { code: number; details: string; metadata: Metadata }) =>
      resolve({ replies, code: status.code, details: status.details, headers, trailers: flat(status.metadata) }),
    );
  });
}

export function echoClient(
  target: string,
  tls?: { readonly ca: string; readonly servername?: string },
  options: ChannelOptions = {},
): EchoClient {
  const creds = tls === undefined ? credentials.createInsecure() : credentials.createSsl(Buffer.from(tls.ca));
  const channelOptions: ChannelOptions = {
    ...(tls?.servername === undefined ? {} : { 'grpc.ssl_target_name_override': tls.servername }),
    ...options,
  };
  const client = new Echo(target, creds, channelOptions) as Client & Record<string, (...args: unknown[]) => unknown>;
  const deadline = (ms = 20_000) => ({ deadline: new Date(Date.now() + ms) });
  return {
    raw: client,
    unary(request, metadata, deadlineMs) {
      const replies: EchoReply[] = [];
      const call = client.Unary!(
        request,
        metadataOf(metadata),
        deadline(deadlineMs),
        (_: unknown, reply?: EchoReply) => {
          if (reply !== undefined) replies.push(reply);
        },
      ) as Call;
      return outcomeOf(call, replies);
    },
    serverStream(request, metadata) {
      return outcomeOf(client.ServerStream!(request, metadataOf(metadata), deadline()) as Call);
    },
    clientStream(requests, metadata) {
      const replies: EchoReply[] = [];
      const call = client.ClientStream!(metadataOf(metadata), deadline(), (_: unknown, reply?: EchoReply) => {
        if (reply !== undefined) replies.push(reply);
      }) as Call & { write(message: EchoRequest): boolean; end(): void };
      const outcome = outcomeOf(call, replies);
      for (const request of requests) call.write(request);
      call.end();
      return outcome;
    },
    bidi(requests, metadata) {
      const call = client.Bidi!(metadataOf(metadata), deadline()) as Call & {
        write(message: EchoRequest): boolean;
        end(): void;
      };
      const outcome = outcomeOf(call);
      for (const request of requests) call.write(request);
      call.end();
      return outcome;
    },
    close: () => client.close(),
  };
}

/** A grpc-js client of grpc.health.v1.Health (to compare what Switchyard's own probe decides). */
export function healthCheck(target: string, service: string): Promise<{ code: number; status?: ServingStatus }> {
  const client = new Health(target, credentials.createInsecure()) as Client &
    Record<string, (...args: unknown[]) => unknown>;
  return new Promise((resolve) => {
    client.Check!({ service }, (error: ServiceError | null, reply?: { status: ServingStatus }) => {
      client.close();
      resolve(
        error === null ? { code: 0, ...(reply === undefined ? {} : { status: reply.status }) } : { code: error.code },
      );
    });
  });
}
