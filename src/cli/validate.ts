import { formatProblem, loadConfigFile } from '../config/load-file.js';
import { exitCodes } from './run-until-stopped.js';

/** `switchyard validate -c FILE`: prints `ok`, or every problem as `file:line:col path: message`; starts nothing. */
export async function validate(file: string): Promise<number> {
  const loaded = await loadConfigFile(file);
  if (loaded.ok) {
    process.stdout.write('ok\n');
    return exitCodes.ok;
  }
  for (const problem of loaded.problems) process.stderr.write(`${formatProblem(problem)}\n`);
  return exitCodes.failure;
}
