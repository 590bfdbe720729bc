import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('../fixtures/instance.mjs', import.meta.url));

/** An instance running as its own process (so it can be killed with -9 or frozen with -STOP). */
export interface InstanceProcess {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  kill(signal: NodeJS.Signals): void;
  /** Kills it for good (SIGCONT first, in case it was stopped). */
  stop(): Promise<void>;
}

export async function startInstanceProcess(name: string): Promise<InstanceProcess> {
  const child = spawn(process.execPath, [fixture, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`instance ${name} exited with ${code}`)));
  });
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    child,
    kill: (signal) => void child.kill(signal),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
}
