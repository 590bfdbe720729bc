import { createHash } from 'node:crypto';

/** RFC 6455 §1.3: the GUID the accept value is derived with. */
const websocketGuid = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The `Sec-WebSocket-Accept` a server must answer a `Sec-WebSocket-Key` with (RFC 6455 §4.2.2). */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(`${key}${websocketGuid}`).digest('base64');
}

/** The value of a field in a raw response head (lower-case `name`); undefined when absent. */
function headField(head: string, name: string): string | undefined {
  const lines = head.split('\r\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name) return line.slice(colon + 1).trim();
  }
  return undefined;
}

/** The first protocol token of an `Upgrade` value, lower-cased, without a version (`websocket`, `h2c`). */
function firstProtocol(value: string | undefined): string | undefined {
  const first = value?.split(',')[0]?.trim().toLowerCase();
  return first === undefined || first === '' ? undefined : first;
}

/**
 * Why an instance's `101 Switching Protocols` must not open a tunnel, or undefined when it may: the 101 must name in
 * `Upgrade` the protocol the client asked for (RFC 9110 §7.8), and for WebSocket carry the `Sec-WebSocket-Accept`
 * derived from the client's key (RFC 6455 §4.1: the client fails the connection otherwise). Anything else would pipe a
 * client's connection to an instance that never agreed to a protocol, past routing for every later request on it.
 */
export function switchProblem(
  requestUpgrade: string | undefined,
  websocketKey: string | undefined,
  head: Buffer,
): string | undefined {
  const text = head.toString('latin1');
  const asked = firstProtocol(requestUpgrade);
  const answered = firstProtocol(headField(text, 'upgrade'));
  if (answered === undefined) return 'the 101 names no protocol in Upgrade';
  if (asked === undefined || answered !== asked) return `the 101 switches to ${answered}, not to what was asked`;
  if (asked === 'websocket') {
    const accept = headField(text, 'sec-websocket-accept');
    if (websocketKey === undefined || accept !== websocketAccept(websocketKey))
      return 'the 101 carries no valid Sec-WebSocket-Accept';
  }
  return undefined;
}
