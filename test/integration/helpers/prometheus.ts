/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: it refuses anything a
 * Prometheus server would refuse, and more that a careless exporter could get wrong (a sample without `# TYPE`, a
 * family split in two, a duplicate series, a histogram whose buckets are not cumulative or whose `+Inf` bucket differs
 * from `_count`). Tests read values through it instead of matching substrings.
 * Format: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name (`x_bucket`, `x_sum` … for histograms). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string | undefined;
  readonly samples: Sample[];
}

export class ExpositionError extends Error {
  constructor(line: number, message: string, text?: string) {
    super(`line ${line}: ${message}${text === undefined ? '' : `: ${JSON.stringify(text)}`}`);
  }
}

/** A parsed exposition, with lookups by name and labels. */
export class Exposition {
  readonly families: ReadonlyMap<string, Family>;

  constructor(families: ReadonlyMap<string, Family>) {
    this.families = families;
  }

  /** Every sample called `name` (a family name, or `x_bucket` / `x_sum` / `x_count`). */
  samples(name: string): Sample[] {
    const family = this.families.get(name) ?? this.families.get(name.replace(/_(bucket|sum|count)$/, ''));
    return (family?.samples ?? []).filter((s) => s.name === name);
  }

  /** The value of the series with exactly these labels; undefined when there is none. */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
    const wanted = labelKey(labels);
    return this.samples(name).find((s) => labelKey(s.labels) === wanted)?.value;
  }

  /** The sum over the series whose labels include `match` (0 when none does). */
  sum(name: string, match: Readonly<Record<string, string>> = {}): number {
    return this.samples(name)
      .filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v))
      .reduce((total, s) => total + s.value, 0);
  }

  /** Every label value of every sample, with where it was seen. */
  *labelValues(): Generator<{ sample: string; label: string; value: string }> {
    for (const family of this.families.values()) {
      for (const s of family.samples) {
        for (const [label, value] of Object.entries(s.labels)) yield { sample: s.name, label, value };
      }
    }
  }
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const types = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** Parses and validates an exposition; throws `ExpositionError` (with the line number) on the first problem. */
export function parseExposition(text: string): Exposition {
  if (text.length > 0 && !text.endsWith('\n')) throw new ExpositionError(0, 'the last line must end with \\n');
  const lines = text.split('\n');
  lines.pop();
  const families = new Map<string, Family>();
  const helps = new Map<string, string>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  const enter = (family: string, line: number): void => {
    if (family === current) return;
    if (closed.has(family)) throw new ExpositionError(line, `metric family ${family} appears in two places`);
    if (current !== undefined) closed.add(current);
    current = family;
  };
  for (const [index, line] of lines.entries()) {
    const n = index + 1;
    if (line === '') continue;
    if (line.startsWith('#')) {
      const match = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (match === null) continue; // an ordinary comment
      const [, keyword, name = '', rest = ''] = match;
      if (!metricName.test(name)) throw new ExpositionError(n, 'invalid metric name', name);
      enter(name, n);
      if (keyword === 'HELP') {
        if (helps.has(name)) throw new ExpositionError(n, `second HELP for ${name}`);
        helps.set(name, unescape(rest, n, false));
        const family = families.get(name);
        if (family !== undefined) families.set(name, { ...family, help: helps.get(name) });
        continue;
      }
      if (!types.has(rest as MetricType)) throw new ExpositionError(n, 'unknown metric type', rest);
      if (families.has(name)) throw new ExpositionError(n, `TYPE for ${name} after its samples or a second TYPE`);
      families.set(name, { name, type: rest as MetricType, help: helps.get(name), samples: [] });
      continue;
    }
    const sample = parseSample(line, n);
    const family = familyOf(sample.name, families);
    if (family === undefined) throw new ExpositionError(n, `sample ${sample.name} has no TYPE line before it`);
    enter(family.name, n);
    const key = `${sample.name}${labelKey(sample.labels)}`;
    if (series.has(key)) throw new ExpositionError(n, 'duplicate series', key);
    series.add(key);
    checkSample(family, sample, n);
    family.samples.push(sample);
  }
  for (const family of families.values()) {
    if (family.help === undefined) throw new ExpositionError(0, `no HELP for ${family.name}`);
    if (family.type === 'histogram') checkHistogram(family);
    if (family.type === 'summary') checkSummary(family);
  }
  return new Exposition(families);
}

/** `name{a="1",b="2"} value [timestamp]`, with whitespace allowed around label tokens. */
function parseSample(line: string, n: number): Sample {
  let i = 0;
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (nameMatch === null) throw new ExpositionError(n, 'a sample must start with a metric name', line);
  const name = nameMatch[0];
  i = name.length;
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  const skipBlanks = (): void => {
    while (line[i] === ' ' || line[i] === '\t') i++;
  };
  if (line[i] === '{') {
    i++;
    for (;;) {
      skipBlanks();
      if (line[i] === '}') {
        i++;
        break;
      }
      const labelMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (labelMatch === null) throw new ExpositionError(n, 'invalid label name', line.slice(i));
      const label = labelMatch[0];
      if (label.startsWith('__')) throw new ExpositionError(n, 'label names starting with __ are reserved', label);
      if (label in labels) throw new ExpositionError(n, 'duplicate label', label);
      i += label.length;
      skipBlanks();
      if (line[i] !== '=') throw new ExpositionError(n, 'expected = after a label name', line.slice(i));
      i++;
      skipBlanks();
      if (line[i] !== '"') throw new ExpositionError(n, 'a label value must be quoted', line.slice(i));
      i++;
      let raw = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new ExpositionError(n, 'unterminated label value', line);
        if (c === '"') break;
        if (c === '\\') {
          raw += c + (line[i + 1] ?? '');
          i += 2;
          continue;
        }
        raw += c;
        i++;
      }
      i++;
      labels[label] = unescape(raw, n, true);
      skipBlanks();
      if (line[i] === ',') {
        i++;
        continue;
      }
      if (line[i] !== '}') throw new ExpositionError(n, 'expected , or } after a label', line.slice(i));
    }
  }
  const rest = line.slice(i);
  const parts = /^[ \t]+(\S+)(?:[ \t]+(\S+))?[ \t]*$/.exec(rest);
  if (parts === null) throw new ExpositionError(n, 'expected a value (and an optional timestamp)', rest);
  const value = parseValue(parts[1]!, n);
  if (parts[2] !== undefined && !/^-?\d+$/.test(parts[2])) throw new ExpositionError(n, 'invalid timestamp', parts[2]);
  for (const label of Object.keys(labels)) {
    if (!labelName.test(label)) throw new ExpositionError(n, 'invalid label name', label);
  }
  return { name, labels: { ...labels }, value };
}

/** Go's `strconv.ParseFloat` as Prometheus uses it: decimal or exponent notation, `±Inf`, `NaN` (any case). */
function parseValue(text: string, n: number): number {
  if (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return Number(text);
  if (/^[+-]?inf(inity)?$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return NaN;
  throw new ExpositionError(n, 'invalid value', text);
}

/** Label values may escape `\\`, `\"` and `\n`; HELP text `\\` and `\n`. Any other escape is malformed. */
function unescape(raw: string, n: number, quoted: boolean): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '\\') {
      if (c === '\n') throw new ExpositionError(n, 'raw newline');
      out += c;
      continue;
    }
    const next = raw[++i];
    if (next === '\\') out += '\\';
    else if (next === 'n') out += '\n';
    else if (next === '"' && quoted) out += '"';
    else throw new ExpositionError(n, 'invalid escape sequence', `\\${next ?? ''}`);
  }
  return out;
}

function familyOf(name: string, families: ReadonlyMap<string, Family>): Family | undefined {
  const exact = families.get(name);
  if (exact !== undefined) return exact;
  const suffix = /_(bucket|sum|count)$/.exec(name);
  if (suffix === null) return undefined;
  const base = families.get(name.slice(0, -suffix[0].length));
  if (base === undefined) return undefined;
  if (base.type === 'histogram') return base;
  if (base.type === 'summary' && suffix[1] !== 'bucket') return base;
  return undefined;
}

function checkSample(family: Family, sample: Sample, n: number): void {
  switch (family.type) {
    case 'counter':
      if (sample.name !== family.name) throw new ExpositionError(n, `counter sample named ${sample.name}`);
      if (!(sample.value >= 0)) throw new ExpositionError(n, 'a counter must be a non-negative number', sample.name);
      return;
    case 'histogram': {
      if (sample.name === family.name) throw new ExpositionError(n, 'a histogram has only _bucket, _sum and _count');
      const isBucket = sample.name.endsWith('_bucket');
      if (isBucket !== 'le' in sample.labels) throw new ExpositionError(n, 'le belongs on _bucket samples only');
      if (isBucket) parseValue(sample.labels['le']!, n);
      if (!sample.name.endsWith('_sum') && !(sample.value >= 0 && Number.isInteger(sample.value)))
        throw new ExpositionError(n, 'bucket and count values must be non-negative integers', sample.name);
      return;
    }
    case 'summary':
      if (sample.name === family.name && !('quantile' in sample.labels))
        throw new ExpositionError(n, 'a summary quantile needs a quantile label');
      return;
    default:
      return;
  }
}

/** Per series (labels without `le`): increasing bounds, cumulative counts, `+Inf` present and equal to `_count`. */
function checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = labelKey(rest);
    let group = groups.get(key);
    if (group === undefined) {
      group = { buckets: [] };
      groups.set(key, group);
    }
    if (sample.name.endsWith('_bucket')) group.buckets.push([parseValue(le!, 0), sample.value]);
    else if (sample.name.endsWith('_sum')) group.sum = sample.value;
    else group.count = sample.value;
  }
  for (const [key, group] of groups) {
    const where = `${family.name}${key}`;
    if (group.sum === undefined || group.count === undefined)
      throw new ExpositionError(0, 'a histogram series needs _sum and _count', where);
    const sorted = [...group.buckets].sort((a, b) => a[0] - b[0]);
    if (sorted.some(([bound], i) => i > 0 && bound === sorted[i - 1]![0]))
      throw new ExpositionError(0, 'duplicate le', where);
    if (sorted.some(([, count], i) => i > 0 && count < sorted[i - 1]![1]))
      throw new ExpositionError(0, 'buckets are not cumulative', where);
    const last = sorted.at(-1);
    if (last === undefined || last[0] !== Infinity) throw new ExpositionError(0, 'no le="+Inf" bucket', where);
    if (last[1] !== group.count) throw new ExpositionError(0, 'the +Inf bucket differs from _count', where);
  }
}

function checkSummary(family: Family): void {
  const counts = new Set<string>();
  const sums = new Set<string>();
  for (const sample of family.samples) {
    const { quantile: _quantile, ...rest } = sample.labels;
    if (sample.name.endsWith('_count')) counts.add(labelKey(rest));
    if (sample.name.endsWith('_sum')) sums.add(labelKey(rest));
  }
  for (const key of counts) if (!sums.has(key)) throw new ExpositionError(0, 'a summary needs _sum', family.name + key);
}

/** A canonical text for a label set (sorted by name), for comparisons. */
function labelKey(labels: Readonly<Record<string, string>>): string {
  const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
}
