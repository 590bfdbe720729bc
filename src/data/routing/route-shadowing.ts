import type { RouteMatchSnapshot, RouteSnapshot, ValueMatchSnapshot } from '../../core/snapshot.js';
import { cidrCovers, parseCidr } from '../../core/cidr.js';
import { isUnderPrefix } from './route-policies.js';
import { wholeMatch } from './route-matchers.js';
import { orderRoutes } from './route-table.js';

/** A route no request can reach: `by`, tried earlier, matches every request it matches. */
export interface ShadowedRoute {
  readonly route: RouteSnapshot;
  readonly by: RouteSnapshot;
}

/**
 * The routes of one listener that can never be chosen, because a route tried before them (`orderRoutes`) matches
 * everything they match. Conservative: a route is reported only when that is certain (two different regular
 * expressions are never assumed to cover one another).
 */
export function shadowedRoutes(routes: readonly RouteSnapshot[]): ShadowedRoute[] {
  const ordered = orderRoutes(routes);
  const found: ShadowedRoute[] = [];
  for (let j = 1; j < ordered.length; j++) {
    const later = ordered[j]!;
    const earlier = ordered.slice(0, j).find((candidate) => covers(candidate.match, later.match));
    if (earlier !== undefined) found.push({ route: later, by: earlier });
  }
  return found;
}

/** True when every request that meets `b` also meets `a`. */
export function covers(a: RouteMatchSnapshot, b: RouteMatchSnapshot): boolean {
  return (
    hostCovers(a.host, b.host) &&
    pathCovers(a, b) &&
    (a.methods === undefined || (b.methods !== undefined && b.methods.every((m) => a.methods!.includes(m)))) &&
    valuesCover(a.headers, b.headers) &&
    valuesCover(a.query, b.query) &&
    cidrsCover(a.clientCidrs, b.clientCidrs)
  );
}

function hostCovers(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined) return true;
  if (b === undefined) return false;
  if (!a.startsWith('*.')) return a === b;
  const suffix = a.slice(1);
  // `*.example.com` covers `x.example.com`, `*.example.com` and `*.x.example.com`, not `example.com`.
  return b.startsWith('*.') ? b.slice(1).endsWith(suffix) : b.endsWith(suffix) && b.length > suffix.length;
}

function pathCovers(a: RouteMatchSnapshot, b: RouteMatchSnapshot): boolean {
  const pa = a.path;
  const pb = b.path;
  if (pa === undefined || (pa.kind === 'prefix' && pa.value === '/')) return true;
  if (pb === undefined || (pb.kind === 'prefix' && pb.value === '/')) return false;
  // A case-insensitive `b` also matches spellings a case-sensitive `a` refuses.
  if (pb.ignoreCase && !pa.ignoreCase) return false;
  const fold = (text: string): string => (pa.ignoreCase ? text.toLowerCase() : text);
  if (pa.kind === 'regex') {
    if (pb.kind === 'regex') return pa.value === pb.value && pa.ignoreCase === pb.ignoreCase;
    return pb.kind === 'exact' && wholeMatch(pa.value, pa.ignoreCase).test(pb.value);
  }
  if (pb.kind === 'regex') return false;
  if (pa.kind === 'exact') return pb.kind === 'exact' && fold(pa.value) === fold(pb.value);
  return isUnderPrefix(fold(pb.value), fold(pa.value));
}

/** Every condition of `a` is implied by a condition of `b` on the same name. */
function valuesCover(
  a: readonly ValueMatchSnapshot[] | undefined,
  b: readonly ValueMatchSnapshot[] | undefined,
): boolean {
  return (a ?? []).every((condition) =>
    (b ?? []).some((other) => other.name === condition.name && implies(other, condition)),
  );
}

function implies(b: ValueMatchSnapshot, a: ValueMatchSnapshot): boolean {
  switch (a.kind) {
    case 'present':
      return b.kind !== 'absent';
    case 'absent':
      return b.kind === 'absent';
    case 'exact':
      return b.kind === 'exact' && b.value === a.value;
    case 'regex':
      return (
        (b.kind === 'regex' && b.value === a.value) ||
        (b.kind === 'exact' && wholeMatch(a.value ?? '', false).test(b.value ?? ''))
      );
  }
}

function cidrsCover(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined) return true;
  if (b === undefined) return false;
  const outer = a.map(parseCidr);
  return b.every((text) => {
    const inner = parseCidr(text);
    return inner !== undefined && outer.some((block) => block !== undefined && cidrCovers(block, inner));
  });
}
