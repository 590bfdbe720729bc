import { readFile } from 'node:fs/promises';
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type Node,
  type Scalar,
} from 'yaml';
import type { z } from 'zod';
import { configSchema, type SwitchyardConfig } from './schema.js';
import { plannedKeyAt } from './planned.js';
import { keysAt, nearest } from './suggest.js';

/** One problem found in a configuration file, with the position it points at (1-based). */
export interface ConfigProblem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Dotted path of the key, such as `services.api.endpoints.1.url`. */
  readonly path: string;
  readonly message: string;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: SwitchyardConfig }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/** `file:line:col path: message`, the form editors and CI annotate. */
export function formatProblem(problem: ConfigProblem): string {
  return `${problem.file}:${problem.line}:${problem.col} ${problem.path}: ${problem.message}`;
}

/** Reads, substitutes, parses and validates a configuration file; every problem is returned at once. */
export async function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    return { ok: false, problems: [{ file, line: 1, col: 1, path: '(file)', message: reason }] };
  }
  return parseConfigText(text, file, env);
}

/**
 * Parses YAML text into a validated configuration. `${VAR}` and `${VAR:-default}` are substituted inside string
 * values after parsing (so positions stay exact and a variable cannot inject YAML structure); a plain scalar that
 * becomes a number or boolean after substitution takes that type. `$${` is a literal `${`.
 */
export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): ConfigResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  const at = (offset: number, path: string, message: string): void => {
    const { line, col } = lineCounter.linePos(offset);
    problems.push({ file, line, col, path, message });
  };
  for (const error of doc.errors) at(error.pos[0], '(yaml)', error.message.split('\n')[0] ?? error.message);
  if (problems.length > 0) return { ok: false, problems };

  const unresolved = new Set<string>();
  substituteEnvironment(doc, env, (node, path, message) => {
    unresolved.add(path);
    at(node.range?.[0] ?? 0, path, message);
  });
  const result = configSchema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    // A value whose variable is unset already has its problem; its schema complaint would only repeat it.
    const issues = result.error.issues.filter(
      (issue) => !unresolved.has(formatPath(issue.path as (string | number)[])),
    );
    for (const issue of issues) reportIssue(doc, issue, at);
  }
  if (problems.length > 0) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    return { ok: false, problems };
  }
  if (!result.success) throw new Error('unreachable: a failed parse reports problems');
  return { ok: true, config: result.data };
}

const variablePattern = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function substituteEnvironment(
  doc: Document,
  env: NodeJS.ProcessEnv,
  report: (node: Node, path: string, message: string) => void,
): void {
  visit(doc, {
    Scalar(_key, node: Scalar, ancestors) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const replaced = node.value.replace(variablePattern, (whole, variable?: string, fallback?: string) => {
        if (variable === undefined) return '${';
        const value = env[variable];
        if (value !== undefined && value !== '') return value;
        if (fallback !== undefined) return fallback;
        if (value === undefined)
          report(
            node,
            pathFromAncestors(ancestors, node),
            `environment variable ${variable} is not set (write \${${variable}:-} for empty)`,
          );
        return value ?? whole;
      });
      node.value = node.type === 'PLAIN' ? typedPlainScalar(replaced) : replaced;
    },
  });
}

function typedPlainScalar(text: string): string | number | boolean {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}

type Report = (offset: number, path: string, message: string) => void;

function reportIssue(doc: Document, issue: z.core.$ZodIssue, at: Report): void {
  const path = issue.path.map((part) => (typeof part === 'symbol' ? part.toString() : part));
  if (issue.code === 'unrecognized_keys') {
    const map = doc.getIn(path, true);
    const known = keysAt(configSchema, path);
    for (const key of issue.keys) {
      const keyNode = isMap(map)
        ? map.items.find((pair) => isScalar(pair.key) && pair.key.value === key)?.key
        : undefined;
      const offset = (keyNode as Node | undefined)?.range?.[0] ?? nearestOffset(doc, path);
      const planned = plannedKeyAt([...path, key]);
      if (planned !== undefined) {
        const message = `'${key}' is not yet available (${planned.what}; docs/configuration.md#not-yet-available)`;
        at(offset, formatPath([...path, key]), message);
        continue;
      }
      const suggestion = nearest(key, known);
      const hint = suggestion === undefined ? '' : ` — did you mean '${suggestion}'?`;
      at(offset, formatPath([...path, key]), `unknown key '${key}'${hint}`);
    }
    return;
  }
  const message = issue.code === 'invalid_type' && !doc.hasIn(path) ? 'required' : issue.message;
  at(nearestOffset(doc, path), formatPath(path), message);
}

/** Offset of the deepest node that exists along the path (a missing key points at its parent map). */
function nearestOffset(doc: Document, path: readonly (string | number)[]): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    const range = (node as Node | null | undefined)?.range;
    if (range !== undefined && range !== null) return range[0];
  }
  return 0;
}

function formatPath(path: readonly (string | number)[]): string {
  return path.length === 0 ? '(root)' : path.join('.');
}

/** The dotted key path of a node from the visitor's ancestor chain (Document, maps, pairs, sequences). */
function pathFromAncestors(ancestors: readonly unknown[], node: unknown): string {
  const parts: (string | number)[] = [];
  const chain = [...ancestors, node];
  for (let i = 1; i < chain.length; i++) {
    const item = chain[i];
    const parent = chain[i - 1];
    if (isPair(item) && isScalar(item.key)) parts.push(String(item.key.value));
    else if (isSeq(parent)) parts.push(parent.items.indexOf(item));
  }
  return formatPath(parts);
}
