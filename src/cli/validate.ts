import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, type Node } from 'yaml';
import { formatProblem, loadConfigFile, type ConfigProblem } from '../config/load-file.js';
import type { SwitchyardConfig } from '../config/schema.js';
import { routesOf } from '../control/snapshot.js';
import type { RouteSnapshot } from '../core/snapshot.js';
import { shadowedRoutes } from '../data/routing/route-shadowing.js';
import { exitCodes } from './run-until-stopped.js';

/**
 * `switchyard validate -c FILE`: prints `ok`, or every problem as `file:line:col path: message`; starts nothing.
 * A valid file may still get warnings on stderr, in the same form (`… path: warning: message`): routes no request can
 * reach because a route tried before them matches everything they match.
 */
export async function validate(file: string): Promise<number> {
  const loaded = await loadConfigFile(file);
  if (loaded.ok) {
    for (const warning of await routeWarnings(file, loaded.config)) process.stderr.write(`${formatProblem(warning)}\n`);
    process.stdout.write('ok\n');
    return exitCodes.ok;
  }
  for (const problem of loaded.problems) process.stderr.write(`${formatProblem(problem)}\n`);
  return exitCodes.failure;
}

/** One warning per unreachable route and listener it is unreachable on, at the route's position in the file. */
export async function routeWarnings(file: string, config: SwitchyardConfig): Promise<ConfigProblem[]> {
  const routes = routesOf(config);
  const keyOf = (route: RouteSnapshot): (string | number)[] => {
    const index = routes.indexOf(route);
    if (index < config.routes.length) return ['routes', index];
    // A listener's own `service` became a fallback route named `<listener>.default`.
    const listener = config.listeners.findIndex((l) => route.name === `${l.name}.default`);
    return ['listeners', listener, 'service'];
  };
  const label = (route: RouteSnapshot): string => {
    const key = keyOf(route);
    return key[0] === 'routes' && route.name !== `routes.${key[1]}`
      ? `route "${route.name}" (${key.join('.')})`
      : key.join('.');
  };
  const warnings: { key: (string | number)[]; message: string }[] = [];
  for (const listener of config.listeners) {
    const own = routes.filter((route) => route.listeners?.includes(listener.name) ?? true);
    for (const { route, by } of shadowedRoutes(own)) {
      const what = keyOf(route)[0] === 'routes' ? 'never reached' : 'never used';
      warnings.push({
        key: keyOf(route),
        message: `warning: ${what} on listener ${listener.name}: ${label(by)} is tried first and matches every request it matches`,
      });
    }
  }
  if (warnings.length === 0) return [];
  const position = await positions(file);
  return warnings
    .map(({ key, message }) => ({ file, ...position(key), path: key.join('.'), message }))
    .sort((a, b) => a.line - b.line || a.col - b.col);
}

/** Line and column of a key path in the file (the nearest existing node; 1:1 when the file cannot be read again). */
async function positions(file: string): Promise<(key: (string | number)[]) => { line: number; col: number }> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  return (key) => {
    for (let depth = key.length; depth > 0; depth--) {
      const node = doc.getIn(key.slice(0, depth), true) as Node | undefined;
      if (node?.range !== undefined && node.range !== null) return lineCounter.linePos(node.range[0]);
    }
    return { line: 1, col: 1 };
  };
}
