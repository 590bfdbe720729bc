import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

/** One member of a test etcd cluster. */
export interface EtcdMember {
  readonly name: string;
  /** Where clients reach it: `http://127.0.0.1:PORT` (`https://` with TLS). */
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** True while its process runs (false after `kill` / `stop` until `start`). */
  readonly running: boolean;
  readonly pid: number | undefined;
}

/** Optional security of the test cluster. */
export interface EtcdClusterOptions {
  /** Members (default 3). */
  readonly size?: number;
  /**
   * Turns on etcd authentication: a `root` user (needed by etcd to enable auth) and `user`, whose role may read and
   * write only under `prefix`.
   */
  readonly auth?: { readonly user: string; readonly password: string; readonly prefix: string };
  /** Client-side TLS: etcd serves https:// with this certificate and, with `clientCa`, requires client certificates. */
  readonly tls?: {
    readonly certFile: string;
    readonly keyFile: string;
    readonly caFile: string;
    readonly clientCert?: boolean;
  };
}

/** A real etcd cluster on loopback (Debian's `etcd` on PATH), with temporary data directories. */
export interface EtcdCluster {
  /** Client URLs of every member, for `registry.etcd.endpoints`. */
  readonly endpoints: readonly string[];
  readonly members: readonly EtcdMember[];
  /** The `root` password when started with `auth`. */
  readonly rootPassword: string | undefined;
  /** The member that is leader now (asks the running members). */
  leader(): Promise<EtcdMember>;
  /** Sends `signal` (default SIGKILL) to one member and waits for it to exit. */
  kill(member: EtcdMember, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped member again on its data directory, and waits until it is healthy. */
  start(member: EtcdMember): Promise<void>;
  /** Stops every member (SIGKILL by default). */
  stopAll(signal?: NodeJS.Signals): Promise<void>;
  /** Starts every stopped member and waits until the cluster has a leader. */
  startAll(): Promise<void>;
  /**
   * Freezes every running member with SIGSTOP (a stalled leader, a partition): the processes live and their sockets
   * accept connections, but nothing answers. `thawAll` sends SIGCONT.
   */
  freezeAll(): Promise<void>;
  /** Resumes frozen members (SIGCONT) and waits until the cluster has a leader again. */
  thawAll(): Promise<void>;
  /** The store's current revision. */
  revision(): Promise<number>;
  /** Compacts the store at its current revision (or `revision`); returns the revision compacted at. */
  compact(revision?: number): Promise<number>;
  /** Runs etcdctl against the running members (as root when auth is on); returns stdout. */
  etcdctl(args: readonly string[]): Promise<string>;
  /** Kills every member and removes the data directories. */
  close(): Promise<void>;
}

interface MemberState {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  child: ChildProcess | undefined;
  /** SIGSTOP sent and no SIGCONT since. */
  frozen: boolean;
  exited: Promise<void> | undefined;
  started: boolean;
}

/**
 * Starts a `size`-member etcd cluster (v3.4 as Debian ships it) on 127.0.0.1 with free ports, fast heartbeats, and
 * waits until every member is healthy. Throws a clear error when `etcd` is not on PATH.
 */
export async function startEtcdCluster(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const size = options.size ?? 3;
  const root = await mkdtemp(join(tmpdir(), 'switchyard-etcd-'));
  const scheme = options.tls === undefined ? 'http' : 'https';
  const members: MemberState[] = [];
  for (let i = 0; i < size; i++) {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    members.push({
      name: `etcd-${i + 1}`,
      clientUrl: `${scheme}://127.0.0.1:${clientPort}`,
      peerUrl: `http://127.0.0.1:${peerPort}`,
      dataDir: join(root, `etcd-${i + 1}`),
      child: undefined,
      exited: undefined,
      started: false,
      frozen: false,
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const rootPassword = options.auth === undefined ? undefined : `root-${Math.random().toString(36).slice(2)}`;

  const tlsArgs = (): string[] => {
    const tls = options.tls;
    if (tls === undefined) return [];
    return [
      `--cert-file=${tls.certFile}`,
      `--key-file=${tls.keyFile}`,
      ...(tls.clientCert === true ? ['--client-cert-auth', `--trusted-ca-file=${tls.caFile}`] : []),
    ];
  };
  const spawnMember = (member: MemberState): void => {
    const child = spawn(
      'etcd',
      [
        `--name=${member.name}`,
        `--data-dir=${member.dataDir}`,
        `--listen-client-urls=${member.clientUrl}`,
        `--advertise-client-urls=${member.clientUrl}`,
        `--listen-peer-urls=${member.peerUrl}`,
        `--initial-advertise-peer-urls=${member.peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-state=${member.started ? 'existing' : 'new'}`,
        '--initial-cluster-token=switchyard-test',
        '--heartbeat-interval=100',
        '--election-timeout=1000',
        '--log-level=error',
        '--logger=zap',
        ...tlsArgs(),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') stderr = 'etcd is not on PATH: install it (Debian: apt-get install etcd-server)';
    });
    member.child = child;
    member.started = true;
    member.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        if (signal === null && code !== 0 && stderr !== '') process.stderr.write(`${member.name}: ${stderr}\n`);
        resolve();
      }),
    );
  };

  const running = (): MemberState[] => members.filter((m) => m.child !== undefined);
  const authArgs = (): string[] => (rootPassword === undefined || !authEnabled ? [] : [`--user=root:${rootPassword}`]);
  const tlsClientArgs = (): string[] => {
    const tls = options.tls;
    if (tls === undefined) return [];
    return [`--cacert=${tls.caFile}`, `--cert=${tls.certFile}`, `--key=${tls.keyFile}`];
  };
  let authEnabled = false;
  const etcdctl = async (args: readonly string[], endpoints = running().map((m) => m.clientUrl)): Promise<string> => {
    const { stdout } = await run(
      'etcdctl',
      [
        `--endpoints=${endpoints.join(',')}`,
        '--dial-timeout=2s',
        '--command-timeout=5s',
        ...authArgs(),
        ...tlsClientArgs(),
        ...args,
      ],
      { env: { ...process.env, ETCDCTL_API: '3' } },
    );
    return stdout;
  };
  const healthy = (member: MemberState): Promise<boolean> =>
    etcdctl(['endpoint', 'health'], [member.clientUrl]).then(
      () => true,
      () => false,
    );
  const waitHealthy = (targets: readonly MemberState[]): Promise<unknown> =>
    waitFor(
      async () => (await Promise.all(targets.map(healthy))).every(Boolean),
      30_000,
      `etcd members ${targets.map((m) => m.name).join(', ')} healthy`,
      100,
    );
  const statuses = async (): Promise<{ member: MemberState; id: string; leader: string; revision: number }[]> => {
    const out = await etcdctl(['endpoint', 'status', '-w', 'json']);
    // Member ids are uint64: quote them before JSON.parse rounds them.
    const quoted = out.replace(/"(cluster_id|member_id|leader|raft_term)":(\d+)/g, '"$1":"$2"');
    const list = JSON.parse(quoted) as {
      Endpoint: string;
      Status: { header: { member_id: string; revision: number }; leader: string };
    }[];
    return list.map((entry) => ({
      member: members.find((m) => m.clientUrl === entry.Endpoint)!,
      id: entry.Status.header.member_id,
      leader: entry.Status.leader,
      revision: entry.Status.header.revision,
    }));
  };

  for (const member of members) spawnMember(member);
  const cleanup = async (): Promise<void> => {
    for (const member of members) if (member.child !== undefined) member.child.kill('SIGKILL');
    await Promise.all(members.map((m) => m.exited ?? Promise.resolve()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    await waitHealthy(members);
    if (options.auth !== undefined) {
      const { user, password, prefix } = options.auth;
      await etcdctl(['user', 'add', `root:${rootPassword}`]);
      await etcdctl(['user', 'add', `${user}:${password}`]);
      await etcdctl(['role', 'add', 'switchyard']);
      await etcdctl(['role', 'grant-permission', 'switchyard', '--prefix=true', 'readwrite', prefix]);
      await etcdctl(['user', 'grant-role', user, 'switchyard']);
      await etcdctl(['auth', 'enable']);
      authEnabled = true;
    }
  } catch (error) {
    await cleanup();
    throw error;
  }

  const view = (m: MemberState): EtcdMember => ({
    name: m.name,
    clientUrl: m.clientUrl,
    peerUrl: m.peerUrl,
    dataDir: m.dataDir,
    get running() {
      return m.child !== undefined;
    },
    get pid() {
      return m.child?.pid;
    },
  });
  const views = members.map(view);
  const stateOf = (member: EtcdMember): MemberState => members.find((m) => m.name === member.name)!;
  const kill = async (member: EtcdMember, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const state = stateOf(member);
    if (state.child === undefined) return;
    state.child.kill(signal);
    await state.exited;
    state.child = undefined;
  };
  const revision = async (): Promise<number> => Math.max(...(await statuses()).map((s) => s.revision));

  return {
    endpoints: members.map((m) => m.clientUrl),
    members: views,
    rootPassword,
    async leader() {
      return waitFor(
        async () => {
          const list = await statuses();
          const found = list.find((s) => s.id === s.leader && s.leader !== '0');
          return found === undefined ? undefined : views[members.indexOf(found.member)];
        },
        15_000,
        'an etcd leader',
        100,
      );
    },
    kill,
    async start(member) {
      const state = stateOf(member);
      if (state.child !== undefined) return;
      spawnMember(state);
      await waitHealthy([state]);
    },
    async stopAll(signal = 'SIGKILL') {
      await Promise.all(views.map((m) => kill(m, signal)));
    },
    async startAll() {
      const stopped = members.filter((m) => m.child === undefined);
      for (const member of stopped) spawnMember(member);
      await waitHealthy(members);
    },
    freezeAll() {
      for (const member of members) {
        if (member.child === undefined) continue;
        member.child.kill('SIGSTOP');
        member.frozen = true;
      }
      return Promise.resolve();
    },
    async thawAll() {
      const frozen = members.filter((m) => m.frozen && m.child !== undefined);
      for (const member of frozen) {
        member.child!.kill('SIGCONT');
        member.frozen = false;
      }
      await waitHealthy(frozen);
    },
    revision,
    async compact(at) {
      const target = at ?? (await revision());
      await etcdctl(['compact', String(target)]);
      return target;
    },
    etcdctl: (args) => etcdctl(args),
    close: cleanup,
  };
}
