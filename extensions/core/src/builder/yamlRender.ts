/**
 * YAML text for values the pipeline editor writes: scalars in the style the
 * file already used for them, and new keys, items and collections in the
 * style of the shipped templates (block mappings, short lists of scalars as
 * `[a, b]`). Only what is edited is rendered; the rest of a file is never
 * re-serialised.
 */
import { parse } from 'yaml';

/**
 * A JSON-like value of a pipeline spec.
 */
export type Value =
  null | boolean | number | string | Value[] | { [key: string]: Value };

/**
 * How the YAML file wrote a scalar (`Scalar.Type` of the `yaml` package).
 */
export type ScalarStyle =
  'PLAIN' | 'QUOTE_DOUBLE' | 'QUOTE_SINGLE' | 'BLOCK_LITERAL' | 'BLOCK_FOLDED';

/**
 * Longest line a flow list or a folded scalar is given before it goes on
 * more lines.
 */
const LINE_WIDTH = 88;

/**
 * Whether a value is a mapping (not a list, not null).
 */
export function isObject(value: unknown): value is { [key: string]: Value } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether a value is written as a scalar.
 */
export function isScalarValue(value: unknown): value is string | number | null {
  return (
    value === null || ['string', 'number', 'boolean'].includes(typeof value)
  );
}

/**
 * Spaces of an indentation.
 */
export function pad(indent: number): string {
  return ' '.repeat(Math.max(indent, 0));
}

const plainCache = new Map<string, boolean>();

/**
 * Whether `text` reads back as the same string when written without quotes,
 * in a block (`key: text`) or a flow (`[text]`) context. Asked of the YAML
 * parser itself rather than guessed from characters.
 */
export function plainSafe(text: string, flow: boolean): boolean {
  if (text === '' || text.trim() !== text || /[\n\r\t]/.test(text)) {
    return false;
  }
  const key = `${flow ? 'f' : 'b'}${text}`;
  let safe = plainCache.get(key);
  if (safe === undefined) {
    try {
      const read = parse(flow ? `[${text}]` : `k: ${text}`, {
        logLevel: 'silent'
      });
      safe = flow
        ? Array.isArray(read) && read.length === 1 && read[0] === text
        : isObject(read) && read.k === text;
    } catch {
      safe = false;
    }
    if (plainCache.size > 5000) {
      plainCache.clear();
    }
    plainCache.set(key, safe);
  }
  return safe;
}

/**
 * A key as written before its colon.
 */
export function renderKey(key: string): string {
  return plainSafe(key, true) ? key : JSON.stringify(key);
}

/**
 * Where a scalar goes: inside a flow collection or not, the column of the key
 * or dash it belongs to, and the style the file used for it before.
 */
export interface IScalarContext {
  flow: boolean;
  indent: number;
  style?: ScalarStyle;
}

/**
 * A scalar as YAML text, without a line break at its end. Strings keep the
 * style they had (double or single quotes, folded or literal block) where it
 * can hold them; plain strings stay plain when they read back the same.
 */
export function renderScalar(value: Value, context: IScalarContext): string {
  if (value === null || value === undefined) {
    return 'null';
  }
  if (typeof value === 'boolean') {
    return value ? 'true' : 'false';
  }
  if (typeof value === 'number') {
    return Number.isFinite(value)
      ? String(value)
      : JSON.stringify(String(value));
  }
  if (typeof value !== 'string') {
    return renderFlow(value);
  }
  const { flow, style } = context;
  const multiline = value.includes('\n');
  if (!flow && (style === 'BLOCK_FOLDED' || style === 'BLOCK_LITERAL')) {
    if (
      style === 'BLOCK_FOLDED' &&
      !/\n|^ |\s$/.test(value.replace(/\n$/, ''))
    ) {
      return foldedBlock(value, context.indent + 2);
    }
    return literalBlock(value, context.indent + 2);
  }
  if (!flow && multiline) {
    return literalBlock(value, context.indent + 2);
  }
  if (style === 'QUOTE_SINGLE' && !multiline) {
    return `'${value.replace(/'/g, "''")}'`;
  }
  if (style !== 'QUOTE_DOUBLE' && plainSafe(value, flow)) {
    return value;
  }
  return JSON.stringify(value);
}

function chomping(value: string): [string, string] {
  if (!value.endsWith('\n')) {
    return ['-', value];
  }
  const body = value.replace(/\n+$/, '');
  return [value.length - body.length > 1 ? '+' : '', value.slice(0, -1)];
}

function literalBlock(value: string, indent: number): string {
  const [chomp, body] = chomping(value);
  const indicator = /^\s/.test(body) ? '2' : '';
  const lines = body
    .split('\n')
    .map(line => (line ? pad(indent) + line : ''))
    .join('\n');
  return `|${indicator}${chomp}\n${lines}`;
}

function foldedBlock(value: string, indent: number): string {
  const [chomp, body] = chomping(value);
  const width = Math.max(LINE_WIDTH - indent, 20);
  const lines: string[] = [];
  let line = '';
  for (const word of body.split(' ')) {
    if (line && line.length + 1 + word.length > width && word) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return `>${chomp}\n${lines.map(l => pad(indent) + l).join('\n')}`;
}

/**
 * A value in flow style: `[a, b]`, `{k: v}` or a scalar.
 */
export function renderFlow(value: Value): string {
  if (Array.isArray(value)) {
    return `[${value.map(renderFlow).join(', ')}]`;
  }
  if (isObject(value)) {
    const pairs = Object.entries(value).map(
      ([k, v]) => `${renderKey(k)}: ${renderFlow(v)}`
    );
    return `{${pairs.join(', ')}}`;
  }
  return renderScalar(value, { flow: true, indent: 0 });
}

/**
 * What follows `key:` for a value of a block mapping whose keys are at
 * column `indent`: ` scalar`, ` [a, b]`, ` {}`, or a line break and the
 * lines of a block collection. Never ends with a line break.
 */
export function renderBlockValue(value: Value, indent: number): string {
  if (Array.isArray(value)) {
    if (value.length === 0) {
      return ' []';
    }
    const flow = renderFlow(value);
    if (value.every(isScalarValue) && indent + flow.length < LINE_WIDTH - 10) {
      return ` ${flow}`;
    }
    return `\n${value.map(v => renderSeqItem(v, indent + 2)).join('\n')}`;
  }
  if (isObject(value)) {
    if (Object.keys(value).length === 0) {
      return ' {}';
    }
    return `\n${renderMapBody(value, indent + 2)}`;
  }
  return ` ${renderScalar(value, { flow: false, indent })}`;
}

/**
 * The lines of a block mapping at column `indent`, without a final line
 * break.
 */
export function renderMapBody(
  value: { [key: string]: Value },
  indent: number
): string {
  return Object.entries(value)
    .map(([k, v]) => renderPair(k, v, indent))
    .join('\n');
}

/**
 * One `key: value` of a block mapping at column `indent` (its lines, without
 * a final line break).
 */
export function renderPair(key: string, value: Value, indent: number): string {
  return `${pad(indent)}${renderKey(key)}:${renderBlockValue(value, indent)}`;
}

/**
 * One `- item` of a block list whose dashes are at column `indent`, without
 * a final line break.
 */
export function renderSeqItem(value: Value, indent: number): string {
  if (isObject(value) && Object.keys(value).length > 0) {
    const body = renderMapBody(value, indent + 2);
    return `${pad(indent)}- ${body.slice(indent + 2)}`;
  }
  if (Array.isArray(value) && value.length > 0) {
    return `${pad(indent)}- ${renderFlow(value)}`;
  }
  return `${pad(indent)}-${renderBlockValue(value, indent)}`;
}
