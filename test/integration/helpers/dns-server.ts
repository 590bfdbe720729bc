import { createSocket, type RemoteInfo } from 'node:dgram';

/** One SRV record (RFC 2782). */
export interface SrvRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  /** Host name of the instance; `.` means "no service here". */
  readonly target: string;
}

/** The records of one name. A type without records is answered NOERROR with no answers (NODATA). */
export interface DnsRecords {
  readonly a?: readonly string[];
  readonly aaaa?: readonly string[];
  readonly srv?: readonly SrvRecord[];
}

/** Misbehaviour for a name: an error response code, or `DROP` to answer nothing (the client times out). */
export type DnsFault = 'SERVFAIL' | 'REFUSED' | 'DROP';

/** One question the server received; `type` is `A`, `AAAA`, `SRV` or the number of another type. */
export interface DnsQuery {
  readonly name: string;
  readonly type: string;
}

/** A tiny authoritative DNS server on 127.0.0.1 (UDP, port 0) answering from a table the test changes at runtime. */
export interface DnsServer {
  readonly port: number;
  /** Every question received, oldest first. */
  readonly queries: DnsQuery[];
  /** Sets what a name answers (case-insensitive, trailing dot ignored). */
  set(name: string, answer: DnsRecords | DnsFault): void;
  /** Forgets a name: it answers NXDOMAIN again. */
  delete(name: string): void;
  /** Questions received for a name (of any type). */
  queriesFor(name: string): number;
  close(): Promise<void>;
}

const TYPES: Record<number, string> = { 1: 'A', 28: 'AAAA', 33: 'SRV' };
const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

const normalise = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** Starts the server. Answers carry TTL 0, so no cache between the test and the server may keep them. */
export async function startDnsServer(): Promise<DnsServer> {
  const table = new Map<string, DnsRecords | DnsFault>();
  const queries: DnsQuery[] = [];
  const socket = createSocket('udp4');
  socket.on('error', () => {}); // a test server: a send error only loses one answer, the client retries
  socket.on('message', (message: Buffer, from: RemoteInfo) => {
    const question = parseQuestion(message);
    if (question === undefined) return;
    const { name, type } = question;
    queries.push({ name, type: TYPES[type] ?? String(type) });
    const entry = table.get(name);
    if (entry === 'DROP') return;
    let rcode: number = RCODE.NXDOMAIN;
    let answers: Buffer[] = [];
    if (entry === 'SERVFAIL' || entry === 'REFUSED') rcode = RCODE[entry];
    else if (entry !== undefined) [rcode, answers] = [RCODE.NOERROR, recordsOf(entry, type)];
    socket.send(response(message, question.end, rcode, answers), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  let closed: Promise<void> | undefined;
  return {
    port,
    queries,
    set: (name, answer) => void table.set(normalise(name), answer),
    delete: (name) => void table.delete(normalise(name)),
    queriesFor: (name) => queries.filter((query) => query.name === normalise(name)).length,
    close: () => (closed ??= new Promise<void>((resolve) => socket.close(() => resolve()))),
  };
}

/** The first question of a query (RFC 1035 §4.1.1, §4.1.2); undefined for anything malformed. */
function parseQuestion(message: Buffer): { name: string; type: number; end: number } | undefined {
  if (message.length < 12 || (message[2]! & 0x80) !== 0 || message.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    const length = message[offset];
    // Queries never compress their one name, so a pointer (0b11……) is malformed here (RFC 1035 §4.1.4).
    if (length === undefined || length > 63) return undefined;
    offset += 1;
    if (length === 0) break;
    labels.push(message.toString('latin1', offset, offset + length));
    offset += length;
  }
  if (offset + 4 > message.length) return undefined;
  return { name: normalise(labels.join('.')), type: message.readUInt16BE(offset), end: offset + 4 };
}

/** The header, the question echoed byte for byte (keeps the client's 0x20 case mix), then the answers. */
function response(query: Buffer, questionEnd: number, rcode: number, answers: readonly Buffer[]): Buffer {
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // ID
  header[2] = 0x80 | (query[2]! & 0x79) | 0x04; // QR, the query's opcode and RD, AA
  header[3] = rcode; // RA = 0: authoritative only
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
}

/** Resource records (RFC 1035 §4.1.3) for the asked type; the owner is a pointer to the question name at 12. */
function recordsOf(records: DnsRecords, type: number): Buffer[] {
  const rdatas =
    type === 1
      ? (records.a ?? []).map((ip) => Buffer.from(ip.split('.').map(Number)))
      : type === 28
        ? (records.aaaa ?? []).map(ipv6Bytes)
        : type === 33
          ? (records.srv ?? []).map(srvData)
          : [];
  return rdatas.map((rdata) => {
    const head = Buffer.alloc(12);
    head.writeUInt16BE(0xc00c, 0);
    head.writeUInt16BE(type, 2);
    head.writeUInt16BE(1, 4); // class IN
    head.writeUInt32BE(0, 6); // TTL
    head.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([head, rdata]);
  });
}

/** SRV RDATA: priority, weight, port, then the target uncompressed (RFC 2782). */
function srvData(record: SrvRecord): Buffer {
  const fixed = Buffer.alloc(6);
  fixed.writeUInt16BE(record.priority, 0);
  fixed.writeUInt16BE(record.weight, 2);
  fixed.writeUInt16BE(record.port, 4);
  const labels = record.target.replace(/\.$/, '').split('.').filter(Boolean);
  const name = labels.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'latin1')]));
  return Buffer.concat([fixed, ...name, Buffer.from([0])]);
}

/** 16 bytes of an IPv6 address in text form (`::` expanded; no embedded IPv4). */
function ipv6Bytes(text: string): Buffer {
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  const bytes = Buffer.alloc(16);
  [...left, ...zeros, ...right].forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}
