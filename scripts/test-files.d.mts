/** The repository root, as an absolute path. */
export const root: string;
/** Every `*.test.ts` under `dir` (relative to the repository root), sorted. */
export function testFiles(dir: string): string[];
/** The files of one suite: `unit`, `integration` or `all`. */
export function suiteFiles(suite: 'unit' | 'integration' | 'all'): string[];
