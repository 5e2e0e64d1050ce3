/**
 * Edits of a YAML text that change one value and leave every other byte as
 * it was: the `yaml` package's Document gives each node's place in the text,
 * and an edit replaces, inserts or removes only the text of what changed.
 * Comments, key order, quoting, flow or block style and blank lines of the
 * rest of the file stay as written; unchanged values give no edit at all.
 */
import {
  Document,
  isMap,
  isScalar,
  isSeq,
  Node,
  Pair,
  parseDocument,
  Scalar,
  YAMLMap,
  YAMLSeq
} from 'yaml';

import {
  isObject,
  isScalarValue,
  renderBlockValue,
  renderFlow,
  renderMapBody,
  renderPair,
  renderScalar,
  renderSeqItem,
  ScalarStyle,
  Value
} from './yamlRender';

/**
 * Replace `from`..`to` (offsets in the text) with `insert`.
 */
export interface ITextEdit {
  from: number;
  to: number;
  insert: string;
}

/**
 * Keys and list indices from the top of the document to a value.
 */
export type Path = (string | number)[];

/**
 * The text after the edits (which must not overlap), applied from the end.
 */
export function applyEdits(text: string, edits: ITextEdit[]): string {
  let out = text;
  for (const edit of [...edits].sort((a, b) => b.from - a.from)) {
    out = out.slice(0, edit.from) + edit.insert + out.slice(edit.to);
  }
  return out;
}

/**
 * Edits sorted by place, overlapping removals joined into one (deleting two
 * neighbouring list items can claim the same blank line).
 */
export function mergeEdits(edits: ITextEdit[]): ITextEdit[] {
  const sorted = [...edits].sort((a, b) => a.from - b.from || a.to - b.to);
  const merged: ITextEdit[] = [];
  for (const edit of sorted) {
    const last = merged[merged.length - 1];
    if (last && edit.from < last.to) {
      last.to = Math.max(last.to, edit.to);
      last.insert += edit.insert;
    } else if (last && edit.from === last.to && edit.from === edit.to) {
      last.insert += edit.insert; // two insertions at one place, in order
    } else {
      merged.push({ ...edit });
    }
  }
  return merged;
}

/**
 * Preferred order of keys that the editor adds, per kind of mapping: a new
 * key goes before the first existing key that comes after it here, so a file
 * written by hand keeps its order and a new one reads like the templates.
 */
export type KeyOrder = (path: Path) => string[] | undefined;

/**
 * Where a node sits: its collection, its pair or index there, and whether it
 * is inside a flow collection.
 */
interface ILocated {
  node: Node | null;
  parent: YAMLMap | YAMLSeq;
  pair: Pair<Node, Node | null> | null;
  index: number;
  flow: boolean;
}

/**
 * A parsed YAML text and the edits that change it value by value.
 */
export class YamlText {
  /**
   * Parse `text` (never throws: syntax errors are in `errors`).
   */
  constructor(
    readonly text: string,
    private readonly _order: KeyOrder = () => undefined
  ) {
    this.doc = parseDocument(text, { logLevel: 'silent', uniqueKeys: false });
  }

  /**
   * The parsed document, with the text range of every node.
   */
  readonly doc: Document.Parsed;

  /**
   * Syntax errors: `line` counts from 1.
   */
  get errors(): { line: number; message: string }[] {
    return this.doc.errors.map(error => ({
      line: (error.linePos?.[0]?.line as number | undefined) ?? 1,
      message: error.message.split('\n')[0]
    }));
  }

  /**
   * The document as plain data (null for an empty or broken one).
   */
  get value(): Value {
    if (this._value === undefined) {
      this._value =
        this.doc.errors.length > 0 ? null : (this.doc.toJS() as Value);
    }
    return this._value ?? null;
  }

  /**
   * The node at `path`, or null when there is none.
   */
  node(path: Path): Node | null {
    const node = this.doc.getIn(path, true);
    return node && typeof node === 'object' ? (node as Node) : null;
  }

  /**
   * Edits that make the value at `path` equal to `value`, creating the
   * mappings on the way; `undefined` removes it.
   */
  set(path: Path, value: Value | undefined): ITextEdit[] {
    if (value === undefined) {
      return this.remove(path);
    }
    const root = this.doc.contents as Node | null;
    if (path.length === 0) {
      return root ? this._reconcile(root, value, null) : this._fill(value);
    }
    if (!root || !(isMap(root) || isSeq(root))) {
      return this._fill(nest(path, value));
    }
    let collection: YAMLMap | YAMLSeq = root;
    for (let depth = 0; depth < path.length; depth++) {
      const key = path[depth];
      const found = this._child(collection, key);
      if (!found) {
        const rest = nest(path.slice(depth + 1), value);
        if (isSeq(collection)) {
          return collection.items.length === key
            ? this._appendItem(collection, rest)
            : [];
        }
        return this._insertPair(
          collection,
          String(key),
          rest,
          path.slice(0, depth)
        );
      }
      if (depth === path.length - 1) {
        return this._reconcile(found.node, value, found, path);
      }
      if (found.node && (isMap(found.node) || isSeq(found.node))) {
        collection = found.node;
      } else {
        return this._replace(found, nest(path.slice(depth + 1), value));
      }
    }
    return [];
  }

  /**
   * Edits that add `value` at the end of the list at `path` (made when
   * missing).
   */
  append(path: Path, value: Value): ITextEdit[] {
    const node = this.node(path);
    if (node && isSeq(node)) {
      return this._appendItem(node, value);
    }
    return this.set(path, [value]);
  }

  /**
   * Edits that remove the value at `path` with its key or dash; an emptied
   * mapping or list becomes `{}` or `[]` rather than null.
   */
  remove(path: Path): ITextEdit[] {
    if (path.length === 0) {
      return [];
    }
    const parent = this.node(path.slice(0, -1));
    if (!parent || !(isMap(parent) || isSeq(parent))) {
      return [];
    }
    const found = this._child(parent, path[path.length - 1]);
    if (!found) {
      return [];
    }
    if (parent.items.length === 1 && path.length > 1) {
      const grand = this._locate(path.slice(0, -1));
      return grand ? this._replace(grand, isSeq(parent) ? [] : {}) : [];
    }
    return isSeq(parent)
      ? this._removeItem(parent, found.index)
      : this._removePair(parent, found.index);
  }

  // -- Finding things ------------------------------------------------------

  private _locate(path: Path): ILocated | null {
    const parent = path.length > 0 ? this.node(path.slice(0, -1)) : null;
    if (!parent || !(isMap(parent) || isSeq(parent))) {
      return null;
    }
    return this._child(parent, path[path.length - 1]);
  }

  private _child(
    collection: YAMLMap | YAMLSeq,
    key: string | number
  ): ILocated | null {
    const flow = this._inFlow(collection);
    if (isSeq(collection)) {
      if (
        typeof key !== 'number' ||
        key < 0 ||
        key >= collection.items.length
      ) {
        return null;
      }
      const node = collection.items[key] as Node | null;
      return { node, parent: collection, pair: null, index: key, flow };
    }
    const index = collection.items.findIndex(
      pair => isScalar(pair.key) && String(pair.key.value) === String(key)
    );
    if (index < 0) {
      return null;
    }
    const pair = collection.items[index] as Pair<Node, Node | null>;
    return { node: pair.value, parent: collection, pair, index, flow };
  }

  private _inFlow(node: Node): boolean {
    return (isMap(node) || isSeq(node)) && !!node.flow;
  }

  // -- Columns and lines ---------------------------------------------------

  private _lineStart(pos: number): number {
    return this.text.lastIndexOf('\n', pos - 1) + 1;
  }

  private _column(pos: number): number {
    return pos - this._lineStart(pos);
  }

  /**
   * Whether only spaces stand between the start of `pos`'s line and `pos`.
   */
  private _startsLine(pos: number): boolean {
    return this.text.slice(this._lineStart(pos), pos).trim() === '';
  }

  /**
   * `pos`, moved past the rest of its line when that holds only spaces or a
   * comment (and past its line break).
   */
  private _toLineEnd(pos: number): number {
    if (pos > 0 && this.text[pos - 1] === '\n') {
      return pos;
    }
    const end = this.text.indexOf('\n', pos);
    const stop = end < 0 ? this.text.length : end;
    const rest = this.text.slice(pos, stop).trim();
    if (rest === '' || rest.startsWith('#')) {
      return end < 0 ? stop : end + 1;
    }
    return pos;
  }

  private _dash(item: Node): number {
    return this.text.lastIndexOf('-', item.range![0] - 1);
  }

  private _mapIndent(map: YAMLMap): number {
    const first = map.items[0]?.key as Node | undefined;
    return first?.range ? this._column(first.range[0]) : 0;
  }

  private _seqIndent(seq: YAMLSeq): number {
    const first = seq.items[0] as Node | undefined;
    return first?.range ? this._column(this._dash(first)) : 0;
  }

  /**
   * The column of the key or dash that owns a located value.
   */
  private _ownerIndent(at: ILocated): number {
    return isSeq(at.parent)
      ? this._seqIndent(at.parent)
      : this._mapIndent(at.parent);
  }

  private _pairEnd(pair: Pair<Node, Node | null>): number {
    const end = (pair.value?.range ?? pair.key.range)![2];
    return this._toLineEnd(end);
  }

  // -- Edits ---------------------------------------------------------------

  private _fill(value: Value): ITextEdit[] {
    const body = isObject(value)
      ? renderMapBody(value, 0)
      : renderBlockValue(value, 0).replace(/^\s+/, '');
    const tail = this.text.length > 0 && !this.text.endsWith('\n') ? '\n' : '';
    return [
      {
        from: this.text.length,
        to: this.text.length,
        insert: `${tail}${body}\n`
      }
    ];
  }

  private _reconcile(
    node: Node | null,
    value: Value,
    at: ILocated | null,
    path: Path = []
  ): ITextEdit[] {
    if (node && isScalar(node) && isScalarValue(value) && !isEmpty(node)) {
      if (node.value === value) {
        return [];
      }
      return this._replaceScalar(node, value, at);
    }
    if (node && isMap(node) && isObject(value)) {
      return this._reconcileMap(node, value, path);
    }
    if (node && isSeq(node) && Array.isArray(value)) {
      return this._reconcileSeq(node, value, at, path);
    }
    if (!at) {
      return [
        { from: 0, to: this.text.length, insert: this._fill(value)[0].insert }
      ];
    }
    if (
      equalValues(node ? (node.toJSON() as Value) : null, value) &&
      !isEmpty(node)
    ) {
      return [];
    }
    return this._replace(at, value);
  }

  private _replaceScalar(
    node: Scalar,
    value: Value,
    at: ILocated | null
  ): ITextEdit[] {
    const [from, to] = node.range!;
    const style = node.type as ScalarStyle | undefined;
    const flow = at?.flow ?? false;
    const indent = at ? this._ownerIndent(at) : 0;
    let insert = renderScalar(value, { flow, indent, style });
    const old = this.text.slice(from, to);
    if (old.endsWith('\n')) {
      insert += '\n'; // a block scalar's text ends with its line break
    } else if (insert.includes('\n')) {
      // Now a block scalar: a comment after the old value goes on its header.
      const lineEnd = this.text.indexOf('\n', to);
      const stop = lineEnd < 0 ? this.text.length : lineEnd;
      const rest = this.text.slice(to, stop);
      if (rest.trim().startsWith('#')) {
        const br = insert.indexOf('\n');
        insert = insert.slice(0, br) + rest + insert.slice(br);
        return [{ from, to: stop, insert }];
      }
    }
    return [{ from, to, insert }];
  }

  private _reconcileMap(
    map: YAMLMap,
    value: { [key: string]: Value },
    path: Path
  ): ITextEdit[] {
    const edits: ITextEdit[] = [];
    const seen = new Set<string>();
    const pairs = map.items as Pair<Node, Node | null>[];
    pairs.forEach((pair, index) => {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      seen.add(key);
      if (!(key in value)) {
        edits.push(...this._removePair(map, index));
        return;
      }
      const at: ILocated = {
        node: pair.value,
        parent: map,
        pair,
        index,
        flow: !!map.flow
      };
      edits.push(
        ...this._reconcile(pair.value, value[key], at, [...path, key])
      );
    });
    for (const [key, child] of Object.entries(value)) {
      if (!seen.has(key)) {
        edits.push(...this._insertPair(map, key, child, path));
      }
    }
    return mergeEdits(edits);
  }

  private _reconcileSeq(
    seq: YAMLSeq,
    value: Value[],
    at: ILocated | null,
    path: Path
  ): ITextEdit[] {
    const old = seq.toJSON() as Value[];
    if (equalValues(old, value)) {
      return [];
    }
    const items = seq.items as (Node | null)[];
    const ids = (list: Value[]): (string | null)[] =>
      list.map(v => (isObject(v) && typeof v.id === 'string' ? v.id : null));
    const oldIds = ids(old);
    const newIds = ids(value);
    const byId =
      oldIds.every(Boolean) && newIds.every(Boolean) && old.length > 0;
    if (
      !byId &&
      (old.every(isScalarValue) || value.length === 0 || old.length === 0)
    ) {
      return at ? this._replace(at, value) : [];
    }
    const edits: ITextEdit[] = [];
    if (byId) {
      const kept = new Map(oldIds.map((id, i) => [id, i]));
      oldIds.forEach((id, i) => {
        if (!newIds.includes(id)) {
          edits.push(...this._removeItem(seq, i));
        }
      });
      value.forEach((item, i) => {
        const index = kept.get(newIds[i]);
        if (index === undefined) {
          edits.push(...this._appendItem(seq, item));
        } else {
          const located = {
            node: items[index],
            parent: seq,
            pair: null,
            index,
            flow: !!seq.flow
          };
          edits.push(
            ...this._reconcile(items[index], item, located, [...path, index])
          );
        }
      });
      return mergeEdits(edits);
    }
    const common = Math.min(old.length, value.length);
    for (let i = 0; i < common; i++) {
      const located = {
        node: items[i],
        parent: seq,
        pair: null,
        index: i,
        flow: !!seq.flow
      };
      edits.push(...this._reconcile(items[i], value[i], located, [...path, i]));
    }
    for (let i = old.length - 1; i >= common; i--) {
      edits.push(...this._removeItem(seq, i));
    }
    for (let i = common; i < value.length; i++) {
      edits.push(...this._appendItem(seq, value[i]));
    }
    return mergeEdits(edits);
  }

  /**
   * Replace a located value (any kind) with `value`, in the style of its
   * place: flow inside a flow collection, block otherwise.
   */
  private _replace(at: ILocated, value: Value): ITextEdit[] {
    if (at.flow) {
      const [from, to] = at.node?.range ?? [0, 0];
      if (!at.node) {
        return [];
      }
      return [{ from, to, insert: renderFlow(value) }];
    }
    const indent = this._ownerIndent(at);
    let from: number;
    if (at.pair) {
      const keyEnd = at.pair.key.range![1];
      from = this.text.indexOf(':', keyEnd) + 1;
    } else {
      from = this._dash(at.node!) + 1;
    }
    let to = at.node?.range ? at.node.range[1] : from;
    to = Math.max(to, from);
    while (to > from && this.text[to - 1] === '\n') {
      to--;
    }
    let insert: string;
    if (at.pair) {
      insert = renderBlockValue(value, indent);
    } else {
      insert = renderSeqItem(value, indent).slice(indent + 1);
    }
    return [{ from, to, insert }];
  }

  private _insertPair(
    map: YAMLMap,
    key: string,
    value: Value,
    path: Path
  ): ITextEdit[] {
    const pairs = map.items as Pair<Node, Node | null>[];
    if (map.flow) {
      if (pairs.length === 0) {
        const located = this._locate(path);
        if (located && !located.flow) {
          return this._replace(located, { [key]: value });
        }
        const open = map.range![0] + 1;
        return [
          { from: open, to: open, insert: `${key}: ${renderFlow(value)}` }
        ];
      }
      const last = pairs[pairs.length - 1];
      const end = (last.value?.range ?? last.key.range)![1];
      return [{ from: end, to: end, insert: `, ${key}: ${renderFlow(value)}` }];
    }
    if (pairs.length === 0) {
      const located = this._locate(path);
      return located
        ? this._replace(located, { [key]: value })
        : this._fill({ [key]: value });
    }
    const indent = this._mapIndent(map);
    const lines = renderPair(key, value, indent);
    const order = this._order(path) ?? [];
    const rank = order.indexOf(key);
    let before = -1;
    if (rank >= 0) {
      before = pairs.findIndex(pair => {
        const other = order.indexOf(String((pair.key as Scalar).value));
        return other > rank;
      });
      // Nothing goes before a list item's first key, which holds the dash.
      if (before === 0 && !this._startsLine(pairs[0].key.range![0])) {
        before = 1;
      }
    }
    if (before >= pairs.length) {
      before = -1;
    }
    if (before >= 0) {
      const next = pairs[before];
      let at = this._lineStart(next.key.range![0]);
      // Comments right above a key belong to it: insert above them.
      while (at > 0) {
        const previous = this._lineStart(at - 1);
        if (!this.text.slice(previous, at).trim().startsWith('#')) {
          break;
        }
        at = previous;
      }
      const blank = at >= 2 && this.text.slice(at - 2, at) === '\n\n';
      return [{ from: at, to: at, insert: `${lines}\n${blank ? '\n' : ''}` }];
    }
    const last = pairs[pairs.length - 1];
    const end = this._pairEnd(last);
    const needsBreak = end > 0 && this.text[end - 1] !== '\n';
    const spaced =
      pairs.length > 1 && this._blankBefore(pairs[pairs.length - 1].key);
    const prefix = (needsBreak ? '\n' : '') + (spaced ? '\n' : '');
    return [
      {
        from: end,
        to: end,
        insert: `${prefix}${lines}${needsBreak ? '' : '\n'}`
      }
    ];
  }

  private _blankBefore(node: Node): boolean {
    let at = this._lineStart(node.range![0]);
    while (at > 0) {
      const previous = this._lineStart(at - 1);
      const line = this.text.slice(previous, at).trim();
      if (line === '') {
        return true;
      }
      if (!line.startsWith('#')) {
        return false;
      }
      at = previous;
    }
    return false;
  }

  private _removePair(map: YAMLMap, index: number): ITextEdit[] {
    const pairs = map.items as Pair<Node, Node | null>[];
    const pair = pairs[index];
    const keyStart = pair.key.range![0];
    if (map.flow) {
      const end = (pair.value?.range ?? pair.key.range)![1];
      if (index > 0) {
        const previous = pairs[index - 1];
        const from = (previous.value?.range ?? previous.key.range)![1];
        return [{ from, to: end, insert: '' }];
      }
      const next = pairs[index + 1];
      return [
        { from: keyStart, to: next ? next.key.range![0] : end, insert: '' }
      ];
    }
    const end = this._pairEnd(pair);
    if (this._startsLine(keyStart)) {
      return [{ from: this._lineStart(keyStart), to: end, insert: '' }];
    }
    // The first key of a list item: the next key moves up beside the dash.
    const next = pairs[index + 1];
    return [{ from: keyStart, to: next.key.range![0], insert: '' }];
  }

  private _removeItem(seq: YAMLSeq, index: number): ITextEdit[] {
    const items = seq.items as (Node | null)[];
    const item = items[index];
    if (!item?.range) {
      return [];
    }
    if (seq.flow) {
      const [start, end] = item.range;
      if (index > 0) {
        return [{ from: items[index - 1]!.range![1], to: end, insert: '' }];
      }
      const next = items[index + 1];
      return [
        { from: start, to: next?.range ? next.range[0] : end, insert: '' }
      ];
    }
    const dash = this._dash(item);
    let from = this._startsLine(dash) ? this._lineStart(dash) : dash;
    // Comments right above an item are about it: they go with it.
    while (from > 0 && from === this._lineStart(from)) {
      const previous = this._lineStart(from - 1);
      if (!this.text.slice(previous, from).trim().startsWith('#')) {
        break;
      }
      from = previous;
    }
    let to = this._toLineEnd(item.range[2]);
    if (index === items.length - 1) {
      // Last item: the blank lines that set it apart from the one before go.
      while (
        from > 1 &&
        this.text[from - 1] === '\n' &&
        this.text[from - 2] === '\n'
      ) {
        from--;
      }
    } else {
      // The blank lines after it go; comments (about the next item) stay.
      for (;;) {
        const end = this.text.indexOf('\n', to);
        if (end < 0 || this.text.slice(to, end).trim() !== '') {
          break;
        }
        to = end + 1;
      }
    }
    return [{ from, to, insert: '' }];
  }

  private _appendItem(seq: YAMLSeq, value: Value): ITextEdit[] {
    const items = seq.items as (Node | null)[];
    if (seq.flow) {
      if (items.length === 0) {
        if (isObject(value)) {
          const path = this._pathOf(seq);
          const located = path ? this._locate(path) : null;
          if (located && !located.flow) {
            return this._replace(located, [value]);
          }
        }
        const open = seq.range![0] + 1;
        return [{ from: open, to: open, insert: renderFlow(value) }];
      }
      const end = items[items.length - 1]!.range![1];
      return [{ from: end, to: end, insert: `, ${renderFlow(value)}` }];
    }
    const indent = this._seqIndent(seq);
    const last = items[items.length - 1]!;
    const end = this._toLineEnd(last.range![2]);
    const needsBreak = this.text[end - 1] !== '\n';
    const spaced =
      items.length > 1 && this._blankBefore(items[items.length - 1]!)
        ? '\n'
        : '';
    const text = renderSeqItem(value, indent);
    return [
      {
        from: end,
        to: end,
        insert: `${needsBreak ? '\n' : ''}${spaced}${text}${needsBreak ? '' : '\n'}`
      }
    ];
  }

  private _pathOf(target: Node): Path | null {
    const search = (node: Node | null, path: Path): Path | null => {
      if (node === target) {
        return path;
      }
      if (node && isMap(node)) {
        for (const pair of node.items as Pair<Node, Node | null>[]) {
          const found = search(pair.value, [
            ...path,
            String((pair.key as Scalar).value)
          ]);
          if (found) {
            return found;
          }
        }
      } else if (node && isSeq(node)) {
        for (let i = 0; i < node.items.length; i++) {
          const found = search(node.items[i] as Node, [...path, i]);
          if (found) {
            return found;
          }
        }
      }
      return null;
    };
    return search(this.doc.contents as Node, []);
  }

  private _value: Value | undefined;
}

/**
 * `value` wrapped in mappings and lists along `path` (`['a', 0]` and 1 give
 * `{a: [1]}`).
 */
function nest(path: Path, value: Value): Value {
  return path.reduceRight<Value>(
    (inner, key) => (typeof key === 'number' ? [inner] : { [key]: inner }),
    value
  );
}

function isEmpty(node: Node | null): boolean {
  return (
    !node ||
    (isScalar(node) && node.value === null && node.range![0] === node.range![1])
  );
}

/**
 * Deep equality of plain data.
 */
export function equalValues(a: unknown, b: unknown): boolean {
  if (a === b) {
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => equalValues(v, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every(k => k in b && equalValues(a[k], b[k]))
    );
  }
  return false;
}
