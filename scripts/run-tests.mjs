// npm test / test:unit / test:integration: runs node's test runner over the files of one suite (scripts/test-files.mjs).
// Extra arguments after the suite name narrow it to files whose path contains one of them.
import { spawn } from 'node:child_process';
import { root, suiteFiles } from './test-files.mjs';

const [suite = 'all', ...filters] = process.argv.slice(2);
let files = suiteFiles(suite);
if (filters.length > 0) files = files.filter((file) => filters.some((f) => file.includes(f)));
if (files.length === 0) {
  console.error(`no test file in suite ${suite} matches ${filters.join(' ')}`);
  process.exit(1);
}
const args = ['--import', 'tsx', '--test', '--test-force-exit', '--test-timeout=180000', ...files];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
