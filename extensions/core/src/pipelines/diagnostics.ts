/**
 * Validation problems drawn in a CodeMirror 6 editor: the line tinted, the
 * faulty value underlined, and the message at the end of the line. Built on
 * `@codemirror/state` and `@codemirror/view`, which JupyterLab shares as
 * singletons (no `@codemirror/lint`, which it does not share).
 */
import {
  Extension,
  Range,
  StateEffect,
  StateField,
  Text
} from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  WidgetType
} from '@codemirror/view';

import { IProblem, problemText } from './yaml';

/**
 * Replace the problems shown (an empty list clears them).
 */
export const setProblems = StateEffect.define<IProblem[]>();

/**
 * CSS classes of the decorations.
 */
export const PROBLEM_CLASSES = {
  line: 'jp-WorkbenchPipelineYaml-errorLine',
  mark: 'jp-WorkbenchPipelineYaml-errorMark',
  message: 'jp-WorkbenchPipelineYaml-errorMessage'
};

class MessageWidget extends WidgetType {
  constructor(readonly text: string) {
    super();
  }

  eq(other: MessageWidget): boolean {
    return other.text === this.text;
  }

  toDOM(): HTMLElement {
    const span = document.createElement('span');
    span.className = PROBLEM_CLASSES.message;
    span.textContent = this.text;
    span.setAttribute('aria-hidden', 'true'); // the list above says it too
    return span;
  }

  ignoreEvent(): boolean {
    return false;
  }
}

/**
 * The decorations of `problems` in `doc`; one line decoration and message
 * per line, however many problems it has.
 */
export function problemDecorations(
  doc: Text,
  problems: IProblem[]
): DecorationSet {
  const byLine = new Map<number, IProblem[]>();
  for (const problem of problems) {
    if (problem.line !== null && problem.line <= doc.lines) {
      byLine.set(problem.line, [...(byLine.get(problem.line) ?? []), problem]);
    }
  }
  const ranges: Range<Decoration>[] = [];
  for (const [number, here] of byLine) {
    const line = doc.line(number);
    const text = here.map(problemText).join(' · ');
    ranges.push(
      Decoration.line({
        class: PROBLEM_CLASSES.line,
        attributes: { title: text, 'data-problem': text }
      }).range(line.from)
    );
    for (const problem of here) {
      const from = line.from + Math.min(problem.from, line.length);
      const to = line.from + Math.min(problem.to, line.length);
      if (from < to) {
        ranges.push(
          Decoration.mark({
            class: PROBLEM_CLASSES.mark,
            attributes: { title: problemText(problem) }
          }).range(from, to)
        );
      }
    }
    ranges.push(
      Decoration.widget({ widget: new MessageWidget(text), side: 1 }).range(
        line.to
      )
    );
  }
  return Decoration.set(ranges, true);
}

/**
 * The problems shown, moved along with the text as it is edited until the
 * next check replaces them.
 */
export const problemField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(decorations, transaction) {
    decorations = decorations.map(transaction.changes);
    for (const effect of transaction.effects) {
      if (effect.is(setProblems)) {
        decorations = problemDecorations(transaction.state.doc, effect.value);
      }
    }
    return decorations;
  },
  provide: field => EditorView.decorations.from(field)
});

/**
 * The extension to add to an editor before dispatching `setProblems`.
 */
export const problemsExtension: Extension = problemField;
