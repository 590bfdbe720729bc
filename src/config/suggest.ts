import type { z } from 'zod';

/**
 * "Did you mean …?" for configuration problems: the candidate nearest to a misspelt word, by edit distance
 * (insertions, deletions, substitutions and swaps of two neighbours), ignoring case. Only a close one is offered: at
 * most one edit per three letters (at least one), so `healtCheck` suggests `healthCheck` and `colour` suggests nothing.
 */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Optimal string alignment distance (Damerau-Levenshtein without repeated edits of one substring). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = value;
    }
  }
  return rows[a.length]![b.length]!;
}

/** The schema's internals zod 4 keeps on every type (`_zod.def`), as far as walking a path needs them. */
interface SchemaDef {
  readonly type: string;
  readonly shape?: Record<string, z.ZodType>;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly element?: z.ZodType;
  readonly valueType?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly left?: z.ZodType;
  readonly right?: z.ZodType;
  readonly getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType): SchemaDef => (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;

/**
 * The keys a schema allows in the object at `path` of the data (list indexes and record keys included), gathered
 * over every branch of a union: the candidates an unknown key is compared with. Empty when the path leads nowhere.
 */
export function keysAt(schema: z.ZodType, path: readonly (string | number)[]): Set<string> {
  const keys = new Set<string>();
  const walk = (node: z.ZodType, depth: number): void => {
    const def = defOf(node);
    switch (def.type) {
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'readonly':
      case 'catch':
      case 'nonoptional':
        if (def.innerType !== undefined) walk(def.innerType, depth);
        return;
      case 'pipe':
        if (def.in !== undefined) walk(def.in, depth);
        return;
      case 'lazy':
        if (def.getter !== undefined) walk(def.getter(), depth);
        return;
      case 'union':
        for (const option of def.options ?? []) walk(option, depth);
        return;
      case 'intersection':
        if (def.left !== undefined) walk(def.left, depth);
        if (def.right !== undefined) walk(def.right, depth);
        return;
      case 'array':
        if (depth < path.length && def.element !== undefined) walk(def.element, depth + 1);
        return;
      case 'record':
        if (depth < path.length && def.valueType !== undefined) walk(def.valueType, depth + 1);
        return;
      case 'object': {
        const shape = def.shape ?? {};
        if (depth === path.length) {
          for (const key of Object.keys(shape)) keys.add(key);
          return;
        }
        const next = shape[String(path[depth])];
        if (next !== undefined) walk(next, depth + 1);
        return;
      }
      default:
        return;
    }
  };
  walk(schema, 0);
  return keys;
}
