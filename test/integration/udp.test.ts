import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { test, type TestContext } from 'node:test';
import type { SwitchyardConfigInput } from '../../src/config/schema.js';
import { formatProblem, parseConfigText } from '../../src/config/load-file.js';
import { startSwitchyard, type TestSwitchyard } from './helpers/switchyard.js';
import { sleep, waitFor } from './helpers/wait.js';

/** A UDP instance on 127.0.0.1:0 that answers every datagram with `<id>:<payload>` and records who sent what. */
interface UdpInstance {
  readonly id: string;
  readonly port: number;
  /** Payloads received, with the source port they came from (the balancer's per-session socket). */
  readonly seen: { readonly payload: string; readonly fromPort: number }[];
  close(): Promise<void>;
}

async function startUdpInstance(t: TestContext, id: string): Promise<UdpInstance> {
  const socket = createSocket('udp4');
  const seen: { payload: string; fromPort: number }[] = [];
  socket.on('message', (message, from) => {
    const payload = message.toString();
    seen.push({ payload, fromPort: from.port });
    socket.send(`${id}:${payload}`, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let closed: Promise<void> | undefined;
  const instance: UdpInstance = {
    id,
    port: socket.address().port,
    seen,
    close: () => (closed ??= new Promise<void>((resolve) => socket.close(() => resolve()))),
  };
  t.after(() => instance.close());
  return instance;
}

/** What came back for one datagram: the text and where it came from. */
interface Reply {
  readonly text: string;
  readonly from: RemoteInfo;
}

/** A client socket that sends one datagram at a time and waits for the answer (undefined after `timeoutMs`). */
interface UdpClient {
  readonly socket: Socket;
  ask(port: number, payload: string, timeoutMs?: number): Promise<Reply | undefined>;
}

async function startClient(t: TestContext): Promise<UdpClient> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return {
    socket,
    ask(port, payload, timeoutMs = 2_000) {
      return new Promise((resolve) => {
        const onMessage = (message: Buffer, from: RemoteInfo): void => {
          // An answer to an earlier, timed-out question is not this one's.
          if (!message.toString().endsWith(`:${payload}`)) return;
          clearTimeout(timer);
          socket.off('message', onMessage);
          resolve({ text: message.toString(), from });
        };
        const timer = setTimeout(() => {
          socket.off('message', onMessage);
          resolve(undefined);
        }, timeoutMs);
        socket.on('message', onMessage);
        socket.send(payload, port, '127.0.0.1');
      });
    },
  };
}

/** A config with one `udp` listener (`udp` on 127.0.0.1:0) sending to service `app` over the instances. */
function udpConfig(
  instances: readonly UdpInstance[],
  service: Record<string, unknown> = {},
  listener: Record<string, unknown> = {},
): SwitchyardConfigInput {
  return {
    admin: { enabled: false },
    registry: { store: 'memory' },
    listeners: [{ name: 'udp', protocol: 'udp', address: '127.0.0.1:0', service: 'app', ...listener }],
    services: { app: { endpoints: instances.map((i) => ({ url: `udp://127.0.0.1:${i.port}` })), ...service } },
  };
}

async function startBalancer(t: TestContext, config: SwitchyardConfigInput): Promise<TestSwitchyard> {
  const lb = await startSwitchyard(config);
  t.after(() => lb.close(0));
  return lb;
}

/** The instance id of a reply (`<id>:<payload>`). */
const idOf = (reply: Reply | undefined): string | undefined => reply?.text.split(':')[0];

/** The balancer's source ports toward an instance for the given payloads (one port: one session socket). */
const portsFor = (instance: UdpInstance, payloads: readonly string[]): Set<number> =>
  new Set(instance.seen.filter((s) => payloads.includes(s.payload)).map((s) => s.fromPort));

test("a session's datagrams all reach one instance, and replies come from the listener's own address", async (t) => {
  const instances = await Promise.all(['a', 'b', 'c'].map((id) => startUdpInstance(t, id)));
  const lb = await startBalancer(t, udpConfig(instances));
  const port = lb.port('udp');
  const client = await startClient(t);
  const replies: Reply[] = [];
  for (let i = 0; i < 6; i++) {
    const reply = await client.ask(port, `hello-${i}`);
    assert.ok(reply !== undefined, `datagram ${i} was answered`);
    replies.push(reply);
  }
  const ids = new Set(replies.map(idOf));
  assert.equal(ids.size, 1, `one instance answered the whole session (got ${[...ids].join(', ')})`);
  for (const reply of replies) {
    assert.equal(reply.from.address, '127.0.0.1');
    assert.equal(reply.from.port, port, 'the reply came from the port the client sent to');
  }
  const instance = instances.find((i) => i.id === [...ids][0])!;
  assert.equal(instance.seen.length, 6);
  assert.equal(new Set(instance.seen.map((s) => s.fromPort)).size, 1, 'one session socket carried them all');
});

test('different client sockets are spread round-robin over the instances', async (t) => {
  const instances = await Promise.all(['a', 'b', 'c'].map((id) => startUdpInstance(t, id)));
  const lb = await startBalancer(t, udpConfig(instances));
  const counts = new Map<string, number>();
  for (let i = 0; i < 6; i++) {
    const client = await startClient(t);
    const id = idOf(await client.ask(lb.port('udp'), `client-${i}`));
    assert.ok(id !== undefined, `client ${i} was answered`);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries([...counts].sort()), { a: 2, b: 2, c: 2 });
});

test('a session lives while datagrams flow, expires after sessionIdleMs of silence, and then starts anew', async (t) => {
  const instances = await Promise.all(['a', 'b'].map((id) => startUdpInstance(t, id)));
  const lb = await startBalancer(t, udpConfig(instances, {}, { timeouts: { sessionIdleMs: 600 } }));
  const port = lb.port('udp');
  const client = await startClient(t);
  // Traffic every 100 ms for three idle periods: the session must survive it.
  const first = idOf(await client.ask(port, 'first'));
  const live: string[] = ['first'];
  for (let i = 0; i < 18; i++) {
    await sleep(100);
    assert.equal(idOf(await client.ask(port, `live-${i}`)), first, 'an active session keeps its instance');
    live.push(`live-${i}`);
  }
  const firstInstance = instances.find((i) => i.id === first)!;
  assert.equal(portsFor(firstInstance, live).size, 1, 'one session throughout');
  // Silence well beyond the idle limit: the session is forgotten, the next datagram is a new session.
  await sleep(2_000);
  const after = await client.ask(port, 'after');
  assert.ok(after !== undefined);
  assert.notEqual(idOf(after), first, 'round-robin moved the new session to the other instance');
  const otherInstance = instances.find((i) => i.id === idOf(after))!;
  assert.equal(portsFor(otherInstance, ['after']).size, 1);
});

test('least-connections counts live sessions: new clients go to the instance whose sessions expired', async (t) => {
  const instances = await Promise.all(['a', 'b'].map((id) => startUdpInstance(t, id)));
  const lb = await startBalancer(
    t,
    udpConfig(instances, { algorithm: 'least-connections' }, { timeouts: { sessionIdleMs: 600 } }),
  );
  const port = lb.port('udp');
  const clients = await Promise.all([0, 1, 2, 3].map(() => startClient(t)));
  const placed: { client: UdpClient; id: string }[] = [];
  for (const [i, client] of clients.entries()) {
    const id = idOf(await client.ask(port, `c${i}-0`));
    assert.ok(id !== undefined);
    placed.push({ client, id });
  }
  const first = placed[0]!.id;
  const kept = placed.filter((p) => p.id === first);
  assert.equal(kept.length, 2, 'four sessions over two instances: two each');
  // The sessions on the first instance stay busy; the other instance's go quiet and expire.
  for (let round = 0; round < 20; round++) {
    await sleep(100);
    for (const [i, p] of kept.entries()) assert.equal(idOf(await p.client.ask(port, `keep-${i}-${round}`)), first);
  }
  // Two live sessions against none: the next two clients both go to the emptied instance.
  for (const i of [4, 5]) {
    const client = await startClient(t);
    const id = idOf(await client.ask(port, `c${i}`));
    assert.ok(id !== undefined && id !== first, `client ${i} went to the instance without sessions`);
  }
});

test('consistent-hash keys sessions on the client IP: every socket of one host reaches one instance', async (t) => {
  const instances = await Promise.all(['a', 'b', 'c'].map((id) => startUdpInstance(t, id)));
  const lb = await startBalancer(
    t,
    udpConfig(instances, {
      algorithm: 'consistent-hash',
      // Bounded load would move sessions of one hot key elsewhere (sessions count as load); off to see the key alone.
      balancing: { consistentHash: { boundedLoadFactor: 0 } },
    }),
  );
  const ids = new Set<string | undefined>();
  for (let i = 0; i < 5; i++) ids.add(idOf(await (await startClient(t)).ask(lb.port('udp'), `h${i}`)));
  assert.equal(ids.size, 1);
  assert.ok(!ids.has(undefined));
});

test('sessions count toward maxConnectionsPerEndpoint: full endpoints are passed over, and with all full the datagram is dropped', async (t) => {
  const instances = await Promise.all(['a', 'b'].map((id) => startUdpInstance(t, id)));
  const lb = await startBalancer(
    t,
    udpConfig(instances, { maxConnectionsPerEndpoint: 1 }, { timeouts: { sessionIdleMs: 1_000 } }),
  );
  const port = lb.port('udp');
  const [one, two, three] = await Promise.all([startClient(t), startClient(t), startClient(t)]);
  const ids = new Set([idOf(await one.ask(port, 'one')), idOf(await two.ask(port, 'two'))]);
  assert.deepEqual([...ids].sort(), ['a', 'b'], 'the second session passed over the full endpoint');
  assert.equal(await three.ask(port, 'three-0', 200), undefined, 'every endpoint full: dropped');
  // Once the first two sessions expire, the third client gets through.
  const answered = await waitFor(() => three.ask(port, `three-${Date.now()}`, 200), 5_000, 'a free endpoint', 100);
  assert.ok(answered.from.port === port);
});

test('at maxConnections sessions, the least recently active one is evicted for a new client', async (t) => {
  const instance = await startUdpInstance(t, 'a');
  const lb = await startBalancer(t, udpConfig([instance], {}, { limits: { maxConnections: 2 } }));
  const port = lb.port('udp');
  const [a, b, c] = await Promise.all([startClient(t), startClient(t), startClient(t)]);
  assert.ok(await a.ask(port, 'a1'));
  assert.ok(await b.ask(port, 'b1'));
  assert.ok(await a.ask(port, 'a2')); // b is now the least recently active
  assert.ok(await c.ask(port, 'c1')); // the table is full: b makes room
  assert.ok(await a.ask(port, 'a3'));
  assert.ok(await b.ask(port, 'b2')); // b comes back as a new session (evicting c, now the oldest)
  assert.equal(portsFor(instance, ['a1', 'a2', 'a3']).size, 1, "a's session survived both evictions");
  const [b1] = portsFor(instance, ['b1']);
  const [b2] = portsFor(instance, ['b2']);
  assert.notEqual(b1, b2, "b's later datagram came over a new session socket");
  assert.ok(await c.ask(port, 'c2'));
  assert.notDeepEqual(portsFor(instance, ['c1']), portsFor(instance, ['c2']), 'c was evicted in turn');
});

test('with no endpoint, datagrams are dropped and the balancer keeps serving', async (t) => {
  const lb = await startBalancer(t, udpConfig([]));
  const port = lb.port('udp');
  const client = await startClient(t);
  for (let i = 0; i < 5; i++) assert.equal(await client.ask(port, `void-${i}`, 200), undefined);
  const instance = await startUdpInstance(t, 'late');
  await lb.apply(udpConfig([instance]));
  assert.equal(lb.port('udp'), port, 'the listener kept its socket across the reload');
  assert.equal(idOf(await client.ask(port, 'now')), 'late');
});

test('an instance that goes away ends its sessions (ICMP port unreachable) without hurting the balancer', async (t) => {
  const instances = await Promise.all(['a', 'b'].map((id) => startUdpInstance(t, id)));
  const lb = await startBalancer(t, udpConfig(instances));
  const port = lb.port('udp');
  const client = await startClient(t);
  const first = idOf(await client.ask(port, 'before'));
  const gone = instances.find((i) => i.id === first)!;
  await gone.close();
  // The next datagram meets a closed port; the ICMP error ends the session and a later datagram starts a new one
  // on the other instance (sessionIdleMs is 60 s, so only the error can have ended it).
  let attempt = 0;
  const moved = await waitFor(
    async () => {
      const reply = await client.ask(port, `retry-${attempt++}`, 200);
      return reply !== undefined && idOf(reply) !== first ? reply : undefined;
    },
    5_000,
    'a reply from the remaining instance',
    0,
  );
  assert.equal(moved.from.port, port);
  const [survivor] = instances.filter((i) => i !== gone);
  assert.equal(idOf(await client.ask(port, 'after')), survivor!.id, 'the new session stays on the remaining instance');
});

test('a reload that removes an endpoint ends its sessions; sessions on the others keep their socket', async (t) => {
  const instances = await Promise.all(['a', 'b'].map((id) => startUdpInstance(t, id)));
  const lb = await startBalancer(t, udpConfig(instances));
  const port = lb.port('udp');
  const [one, two] = await Promise.all([startClient(t), startClient(t)]);
  const oneId = idOf(await one.ask(port, 'one-1'));
  const twoId = idOf(await two.ask(port, 'two-1'));
  assert.notEqual(oneId, twoId);
  const kept = instances.find((i) => i.id === twoId)!;
  await lb.apply(udpConfig([kept]));
  assert.equal(idOf(await two.ask(port, 'two-2')), twoId);
  assert.equal(portsFor(kept, ['two-1', 'two-2']).size, 1, 'the surviving session kept its socket');
  assert.equal(idOf(await one.ask(port, 'one-2')), twoId, 'the ended session started anew on what is left');
});

test('a udp listener needs a service, and may share its port number with a TCP listener', async (t) => {
  const problems = (text: string): string[] => {
    const result = parseConfigText(text, 'sy.yaml', {});
    return result.ok ? [] : result.problems.map(formatProblem);
  };
  const services = 'services:\n  app:\n    endpoints: [{ url: "udp://127.0.0.1:5353" }]\n';
  assert.deepEqual(problems(`listeners:\n  - { name: dns, protocol: udp, address: "127.0.0.1:5353" }\n${services}`), [
    'sy.yaml:2:5 listeners.0.service: a tcp or udp listener needs the "service" its connections go to',
  ]);
  const shared =
    'listeners:\n' +
    '  - { name: dns, protocol: udp, address: "127.0.0.1:5353", service: app }\n' +
    '  - { name: dns-tcp, protocol: tcp, address: "127.0.0.1:5353", service: app }\n';
  assert.deepEqual(problems(shared + services), []);
  const clash = shared.replace('protocol: tcp', 'protocol: udp');
  assert.deepEqual(problems(clash + services), [
    'sy.yaml:3:46 listeners.1.address: port 5353 is already used by listeners.0',
  ]);
  // And for real: a TCP listener binds the port number the UDP listener got.
  const instance = await startUdpInstance(t, 'a');
  const config = udpConfig([instance]);
  const lb = await startBalancer(t, config);
  const port = lb.port('udp');
  await lb.apply({
    ...config,
    listeners: [...config.listeners, { name: 'tcp', protocol: 'tcp', address: `127.0.0.1:${port}`, service: 'app' }],
  });
  assert.equal(lb.port('tcp'), port);
  assert.equal(lb.port('udp'), port);
  const client = await startClient(t);
  assert.equal(idOf(await client.ask(port, 'both')), 'a');
});
