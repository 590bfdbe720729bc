import { exitCodes } from './run-until-stopped.js';

export interface ReloadCliOptions {
  /** Admin API base URL, such as http://127.0.0.1:9901. */
  readonly admin: string;
  readonly token?: string;
  /** Also replace the worker processes, one at a time (`POST /api/reload?workers=1`). */
  readonly workers?: boolean;
}

/**
 * `switchyard reload`: asks a running balancer to re-read its configuration file (`POST /api/reload`), and with
 * `--workers` to roll its workers too. Prints the answer as JSON; exit 0 when it was applied, 1 otherwise (an invalid
 * file lists its problems on stderr, and the running configuration stays).
 */
export async function reloadCommand(options: ReloadCliOptions): Promise<number> {
  const url = new URL('/api/reload', options.admin);
  if (options.workers === true) url.searchParams.set('workers', '1');
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
      // A roll waits for each new worker to start: give it time.
      signal: AbortSignal.timeout(options.workers === true ? 300_000 : 60_000),
    });
  } catch (error) {
    process.stderr.write(`switchyard reload: cannot reach ${options.admin}: ${(error as Error).message}\n`);
    return exitCodes.failure;
  }
  const text = await response.text();
  if (response.ok) {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    return exitCodes.ok;
  }
  let problems: readonly string[] = [];
  let detail = text;
  try {
    const problem = JSON.parse(text) as { title?: string; detail?: string; problems?: string[] };
    problems = problem.problems ?? [];
    detail = [problem.title, problem.detail].filter((s) => s !== undefined).join(': ');
  } catch {
    // not a problem document
  }
  process.stderr.write(`switchyard reload: ${response.status} ${detail}\n`);
  for (const problem of problems) process.stderr.write(`${problem}\n`);
  return exitCodes.failure;
}
