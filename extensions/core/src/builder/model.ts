/**
 * The pipeline editor's model: the YAML text of the document (shared with
 * the text editor, so either shows the other's edits at once), parsed
 * lazily, and edits written back into it as the smallest changes of text.
 * Undo and redo are the document's own: the text editor and the canvas share
 * one history.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { ITextEdit, KeyOrder, mergeEdits, YamlText } from './yamlEdit';

/**
 * The shared text of a document (`YFile` of `@jupyter/ydoc`, as far as used).
 */
export interface ISharedText {
  getSource(): string;
  updateSource(start: number, end: number, value?: string): void;
  transact(f: () => void, undoable?: boolean): void;
  undo(): void;
  redo(): void;
  canUndo(): boolean;
  canRedo(): boolean;
  readonly undoManager: { stopCapturing(): void };
  readonly changed: ISignal<any, any>;
}

/**
 * Runs a callback soon (a frame later in the browser), coalescing requests.
 */
export type Scheduler = (callback: () => void) => void;

const nextFrame: Scheduler = callback =>
  typeof requestAnimationFrame === 'function'
    ? void requestAnimationFrame(() => callback())
    : void setTimeout(callback, 0);

/**
 * How long edits of one field keep being one step of the history, in ms.
 */
const GROUP_WINDOW = 1000;

/**
 * The YAML of one pipeline document and the edits the canvas makes to it.
 */
export class BuilderModel implements IDisposable {
  /**
   * Follow `shared`; `keyOrder` says where new keys go.
   */
  constructor(options: BuilderModel.IOptions) {
    this._shared = options.shared;
    this._keyOrder = options.keyOrder ?? (() => undefined);
    this._schedule = options.schedule ?? nextFrame;
    this._shared.changed.connect(this._onShared, this);
  }

  /**
   * The text parsed and mapped again after a change of the text (from the
   * canvas, the text editor, undo or redo), at most once a frame.
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * The current text, parsed (now, if it changed since the last parse).
   */
  get source(): YamlText {
    const text = this._shared.getSource();
    if (!this._source || this._source.text !== text) {
      this._source = new YamlText(text, path =>
        this._keyOrder(path, this._source!)
      );
      this._pending = false;
    }
    return this._source;
  }

  /**
   * Change the text by the edits `change` computes from the current parse;
   * one step of the history, or part of the previous one when `group` names
   * the same field as the last edit and came within a second. Whether
   * anything changed.
   */
  edit(change: (source: YamlText) => ITextEdit[], group?: string): boolean {
    const source = this.source;
    if (source.errors.length > 0) {
      return false;
    }
    const edits = mergeEdits(change(source));
    if (edits.length === 0) {
      return false;
    }
    const now = Date.now();
    if (
      !group ||
      group !== this._lastGroup ||
      now - this._lastEdit > GROUP_WINDOW
    ) {
      this._shared.undoManager.stopCapturing();
    }
    this._lastGroup = group ?? null;
    this._lastEdit = now;
    this._shared.transact(() => {
      // From the end, so earlier offsets stay right.
      for (const edit of [...edits].sort((a, b) => b.from - a.from)) {
        this._shared.updateSource(edit.from, edit.to, edit.insert);
      }
    });
    return true;
  }

  /**
   * Undo the last change of the text, wherever it was made.
   */
  undo(): void {
    this._shared.undoManager.stopCapturing();
    this._lastGroup = null;
    this._shared.undo();
  }

  /**
   * Redo the last undone change.
   */
  redo(): void {
    this._lastGroup = null;
    this._shared.redo();
  }

  get canUndo(): boolean {
    return this._shared.canUndo();
  }

  get canRedo(): boolean {
    return this._shared.canRedo();
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._shared.changed.disconnect(this._onShared, this);
    Signal.clearData(this);
  }

  private _onShared(): void {
    if (this._pending || this._disposed) {
      return;
    }
    this._pending = true;
    this._schedule(() => {
      if (this._disposed || !this._pending) {
        return;
      }
      this._pending = false;
      const text = this.source.text;
      if (text !== this._emittedText) {
        this._emittedText = text;
        this._changed.emit();
      }
    });
  }

  private _changed = new Signal<this, void>(this);
  private _disposed = false;
  private _emittedText: string | null = null;
  private _keyOrder: (
    path: Parameters<KeyOrder>[0],
    source: YamlText
  ) => string[] | undefined;
  private _lastEdit = 0;
  private _lastGroup: string | null = null;
  private _pending = false;
  private _schedule: Scheduler;
  private _shared: ISharedText;
  private _source: YamlText | null = null;
}

/**
 * A namespace for BuilderModel statics.
 */
export namespace BuilderModel {
  /**
   * Options of the model.
   */
  export interface IOptions {
    shared: ISharedText;
    /**
     * The order of keys at a path of the spec (see `PipelineSchema.keyOrder`).
     */
    keyOrder?: (
      path: (string | number)[],
      source: YamlText
    ) => string[] | undefined;
    /**
     * When to parse again after a change (a frame later by default).
     */
    schedule?: Scheduler;
  }
}
