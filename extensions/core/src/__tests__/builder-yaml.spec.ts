import { applyEdits, YamlText } from '../builder/yamlEdit';
import {
  addSteps,
  connect,
  copySteps,
  disconnect,
  pasteSteps,
  readCopiedSteps,
  removeSteps,
  renameStep
} from '../builder/ops';
import { Value } from '../builder/yamlRender';
import { PIPELINE_ORDER, stepKeyOrder } from '../builder/spec';

const ORDER = (path: (string | number)[]): string[] | undefined =>
  path.length === 0
    ? PIPELINE_ORDER
    : path.length === 2 && path[0] === 'steps'
      ? stepKeyOrder(['notebook'])
      : undefined;

function edit(
  text: string,
  change: (source: YamlText) => ReturnType<YamlText['set']>
): string {
  return applyEdits(text, change(new YamlText(text, ORDER)));
}

const FILE = `# A pipeline with comments.
name: demo   # the name
description: >-
  Two steps, folded
  over two lines.

parameters:
  month: {type: string, default: '2024-01'}

steps:
  - id: extract
    notebook: extract.ipynb
    timeout: 30m   # long enough

  # load waits for extract
  - {id: load, notebook: load.ipynb, depends_on: [extract]}
`;

describe('YamlText.set', () => {
  it('changes a scalar and nothing else', () => {
    const out = edit(FILE, s => s.set(['steps', 0, 'timeout'], '45m'));
    expect(out).toBe(FILE.replace('timeout: 30m', 'timeout: 45m'));
  });

  it('keeps the quoting a scalar had', () => {
    const out = edit(FILE, s =>
      s.set(['parameters', 'month', 'default'], '2025-02')
    );
    expect(out).toBe(FILE.replace("'2024-01'", "'2025-02'"));
  });

  it('quotes what would not read back as the same string', () => {
    const out = edit(FILE, s => s.set(['steps', 0, 'timeout'], 'a: b'));
    expect(out).toContain('timeout: "a: b"   # long enough');
    expect((new YamlText(out).value as any).steps[0].timeout).toBe('a: b');
  });

  it('gives no edit for an unchanged value, however deep', () => {
    const source = new YamlText(FILE, ORDER);
    expect(source.set([], source.value)).toEqual([]);
    expect(source.set(['steps'], (source.value as any).steps)).toEqual([]);
  });

  it('rewrites a folded scalar folded', () => {
    const out = edit(FILE, s => s.set(['description'], 'One line now.'));
    expect(out).toContain('description: >-\n  One line now.\n\nparameters:');
  });

  it('adds a key in the order of the templates', () => {
    const out = edit(FILE, s =>
      s.set(['schedule'], { cron: '0 6 * * *', timezone: 'UTC' })
    );
    expect(out).toContain(
      "default: '2024-01'}\n\nschedule:\n  cron: 0 6 * * *\n  timezone: UTC\n\nsteps:"
    );
    expect(new YamlText(out).value).toMatchObject({
      schedule: { cron: '0 6 * * *' }
    });
  });

  it('adds a key to a flow mapping inside it', () => {
    const out = edit(FILE, s => s.set(['steps', 1, 'timeout'], '5m'));
    expect(out).toContain(
      '- {id: load, notebook: load.ipynb, depends_on: [extract], timeout: 5m}'
    );
  });

  it('adds a key to a step before the keys that come after it', () => {
    const out = edit(FILE, s => s.set(['steps', 0, 'depends_on'], ['x']));
    expect(out).toContain(
      '  - id: extract\n    notebook: extract.ipynb\n    depends_on: [x]\n    timeout: 30m'
    );
  });

  it('creates the mappings on the way', () => {
    const out = edit(FILE, s => s.set(['steps', 0, 'retries', 'attempts'], 3));
    expect(out).toContain(
      '    notebook: extract.ipynb\n    retries:\n      attempts: 3\n    timeout: 30m'
    );
  });

  it('removes a key with its line, comments elsewhere kept', () => {
    const out = edit(FILE, s => s.set(['steps', 0, 'timeout'], undefined));
    expect(out).toBe(FILE.replace('    timeout: 30m   # long enough\n', ''));
  });

  it('removes the last key of a mapping as {}', () => {
    const out = edit(FILE, s => s.remove(['parameters', 'month']));
    expect(out).toContain('parameters: {}\n\nsteps:');
  });

  it('changes a nested mapping key by key', () => {
    const out = edit(FILE, s =>
      s.set(['parameters', 'month'], { type: 'string', default: '2024-03' })
    );
    expect(out).toContain("month: {type: string, default: '2024-03'}");
  });

  it('fills an empty value', () => {
    const text = 'name: x\nparameters:\nsteps: []\n';
    const out = edit(text, s =>
      s.set(['parameters', 'a'], { type: 'integer' })
    );
    expect(new YamlText(out).value).toEqual({
      name: 'x',
      parameters: { a: { type: 'integer' } },
      steps: []
    });
  });

  it('writes a multi-line string as a literal block', () => {
    const out = edit(FILE, s => s.set(['steps', 0, 'timeout'], 'a\nb'));
    expect(out).toContain(
      '    timeout: |-   # long enough\n      a\n      b\n'
    );
    expect((new YamlText(out).value as any).steps[0].timeout).toBe('a\nb');
  });
});

describe('step operations', () => {
  it('adds a step as a block item after the last one', () => {
    const out = edit(FILE, s =>
      addSteps(s, [
        { id: 'report', notebook: 'report.ipynb', depends_on: ['load'] }
      ])
    );
    expect(out).toBe(
      FILE +
        '\n  - id: report\n    notebook: report.ipynb\n    depends_on: [load]\n'
    );
  });

  it('adds the first steps to an empty list', () => {
    const text = 'name: new\nsteps: []\n';
    const out = edit(text, s =>
      addSteps(s, [
        { id: 'a', notebook: 'a.ipynb' },
        { id: 'b', notebook: 'b.ipynb' }
      ])
    );
    expect(out).toBe(
      'name: new\nsteps:\n  - id: a\n    notebook: a.ipynb\n  - id: b\n    notebook: b.ipynb\n'
    );
  });

  it('appends several steps in order', () => {
    const text = 'name: new\nsteps:\n  - id: a\n    notebook: a.ipynb\n';
    const out = edit(text, s =>
      addSteps(s, [
        { id: 'b', notebook: 'b.ipynb' },
        { id: 'c', notebook: 'c.ipynb' }
      ])
    );
    expect(out).toBe(
      text +
        '  - id: b\n    notebook: b.ipynb\n  - id: c\n    notebook: c.ipynb\n'
    );
  });

  it('removes a step and the dependencies on it', () => {
    const out = edit(FILE, s => removeSteps(s, ['extract']));
    expect(out).toBe(
      FILE.replace(
        '  - id: extract\n    notebook: extract.ipynb\n    timeout: 30m   # long enough\n\n',
        ''
      ).replace(', depends_on: [extract]', '')
    );
  });

  it('removes the last step with the blank line before it', () => {
    const out = edit(FILE, s => removeSteps(s, ['load']));
    expect(out).toBe(
      FILE.replace(
        '\n  # load waits for extract\n  - {id: load, notebook: load.ipynb, depends_on: [extract]}\n',
        ''
      )
    );
  });

  it('connects and disconnects steps', () => {
    const text =
      'name: x\nsteps:\n  - id: a\n    notebook: a.ipynb\n  - id: b\n    notebook: b.ipynb\n';
    const linked = edit(text, s => connect(s, 'a', 'b'));
    expect(linked).toBe(text + '    depends_on: [a]\n');
    // A cycle is refused.
    expect(new YamlText(linked).value).toBeTruthy();
    expect(connect(new YamlText(linked, ORDER), 'b', 'a')).toEqual([]);
    expect(edit(linked, s => disconnect(s, 'a', 'b'))).toBe(text);
  });

  it('renames a step and the references to it', () => {
    const out = edit(FILE, s => renameStep(s, 'extract', 'pull'));
    expect(out).toBe(
      FILE.replace('id: extract', 'id: pull').replace('[extract]', '[pull]')
    );
  });

  it('copies and pastes steps with fresh ids', () => {
    const source = new YamlText(FILE, ORDER);
    const copied = readCopiedSteps(copySteps(source, ['extract', 'load']))!;
    const { edits, ids } = pasteSteps(source, copied);
    expect(ids).toEqual(['extract_2', 'load_2']);
    const out = applyEdits(FILE, edits);
    const steps = (new YamlText(out).value as { steps: Value[] }).steps;
    expect(steps.slice(2)).toEqual([
      { id: 'extract_2', notebook: 'extract.ipynb', timeout: '30m' },
      { id: 'load_2', notebook: 'load.ipynb', depends_on: ['extract_2'] }
    ]);
    expect(out.startsWith(FILE)).toBe(true);
  });
});
