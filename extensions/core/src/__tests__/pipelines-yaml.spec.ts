import { EditorState } from '@codemirror/state';

import {
  problemField,
  PROBLEM_CLASSES,
  setProblems
} from '../pipelines/diagnostics';
import { ISpecError } from '../pipelines/tokens';
import {
  isPipelineYaml,
  isYamlPath,
  placeProblems,
  problemText
} from '../pipelines/yaml';

const PIPELINE = `name: nightly
steps:
  - id: extract
    notebook: extract.ipynb
    retires: 3
`;

function specError(
  line: number | null,
  column: number | null,
  path: string,
  message: string
): ISpecError {
  return { file: 'p.yaml', line, column, path, message };
}

describe('isPipelineYaml', () => {
  it('recognises pipeline files by name, schema or top-level keys', () => {
    expect(isYamlPath('a/b.yml')).toBe(true);
    expect(isYamlPath('a/b.json')).toBe(false);
    expect(isPipelineYaml('close/pipeline.yaml', '')).toBe(true);
    expect(isPipelineYaml('close/month.pipeline.yml', '')).toBe(true);
    expect(
      isPipelineYaml(
        'templates/close.yaml',
        '# yaml-language-server: $schema=../pipeline.schema.json\n'
      )
    ).toBe(true);
    expect(isPipelineYaml('close.yaml', PIPELINE)).toBe(true);
  });

  it('leaves other YAML and other files alone', () => {
    // A compose file, a CI workflow (steps nested), a pipeline-like text file.
    expect(isPipelineYaml('docker-compose.yml', 'services:\n  hub: {}\n')).toBe(
      false
    );
    expect(
      isPipelineYaml(
        '.github/workflows/ci.yml',
        'name: CI\njobs:\n  test:\n    steps:\n      - run: pytest\n'
      )
    ).toBe(false);
    expect(isPipelineYaml('notes.txt', PIPELINE)).toBe(false);
    expect(isPipelineYaml('not_a_pipeline.yaml.bak', PIPELINE)).toBe(false);
  });
});

describe('placeProblems', () => {
  it('underlines from the column to the end of the line', () => {
    const [problem] = placeProblems(
      [specError(5, 5, 'steps[0]', "unknown field 'retires'")],
      PIPELINE
    );
    expect(problem).toEqual({
      line: 5,
      from: 4,
      to: 14,
      path: 'steps[0]',
      message: "unknown field 'retires'"
    });
    expect(problemText(problem)).toBe("steps[0]: unknown field 'retires'");
  });

  it('keeps lines within the text and file-wide errors apart', () => {
    const problems = placeProblems(
      [
        specError(99, 1, '', 'YAML syntax error: end of stream'),
        specError(2, 40, 'steps', 'past the end of the line'),
        specError(null, null, '', 'cannot read the file')
      ],
      PIPELINE
    );
    // The text ends with a newline: its last line is the empty line 6.
    expect(problems[0]).toMatchObject({ line: 6, from: 0, to: 0 });
    expect(problems[1]).toMatchObject({ line: 2, from: 0, to: 6 });
    expect(problems[2]).toMatchObject({ line: null });
    expect(problemText(problems[2])).toBe('cannot read the file');
  });
});

describe('problemField', () => {
  function decorations(state: EditorState) {
    const found: { from: number; to: number; spec: any }[] = [];
    state.field(problemField).between(0, state.doc.length, (from, to, d) => {
      found.push({ from, to, spec: d.spec });
    });
    return found;
  }

  it('marks the line, the value and shows the message', () => {
    let state = EditorState.create({
      doc: PIPELINE,
      extensions: [problemField]
    });
    expect(decorations(state)).toHaveLength(0);
    const problems = placeProblems(
      [specError(5, 5, 'steps[0]', "unknown field 'retires'")],
      PIPELINE
    );
    state = state.update({ effects: setProblems.of(problems) }).state;
    const found = decorations(state);
    const line5 = state.doc.line(5);
    const line = found.find(d => d.spec.class === PROBLEM_CLASSES.line);
    expect(line?.from).toBe(line5.from);
    expect(line?.spec.attributes.title).toBe(
      "steps[0]: unknown field 'retires'"
    );
    const mark = found.find(d => d.spec.class === PROBLEM_CLASSES.mark);
    expect(state.doc.sliceString(mark!.from, mark!.to)).toBe('retires: 3');
    const widget = found.find(d => d.spec.widget);
    expect(widget?.from).toBe(line5.to);

    // Typing above the problem moves it with its line.
    state = state.update({ changes: { from: 0, insert: '# nightly\n' } }).state;
    const moved = decorations(state).find(
      d => d.spec.class === PROBLEM_CLASSES.mark
    );
    expect(state.doc.sliceString(moved!.from, moved!.to)).toBe('retires: 3');

    // A valid text clears them.
    state = state.update({ effects: setProblems.of([]) }).state;
    expect(decorations(state)).toHaveLength(0);
  });

  it('gives a line with two problems one line mark and one message', () => {
    let state = EditorState.create({
      doc: PIPELINE,
      extensions: [problemField]
    });
    const problems = placeProblems(
      [
        specError(4, 15, 'steps[0].notebook', 'notebook does not exist'),
        specError(4, 5, 'steps[0]', 'second problem')
      ],
      PIPELINE
    );
    state = state.update({ effects: setProblems.of(problems) }).state;
    const found = decorations(state);
    expect(
      found.filter(d => d.spec.class === PROBLEM_CLASSES.line)
    ).toHaveLength(1);
    expect(found.filter(d => d.spec.widget)).toHaveLength(1);
    expect(
      found.filter(d => d.spec.class === PROBLEM_CLASSES.mark)
    ).toHaveLength(2);
  });
});
