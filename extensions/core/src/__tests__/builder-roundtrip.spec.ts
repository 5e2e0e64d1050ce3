/**
 * Round trip of the repository's own pipeline files through the Pipeline
 * Editor's model: every pipeline YAML of `pipelines/templates/` and every
 * pipeline the Python tests write is opened as the editor opens it (a shared
 * text document, parsed, laid out) and every field of its properties panel
 * committed with the text the panel shows for it, as a user tabbing through
 * the form would; the file must keep the same bytes. The files are read from
 * the checkout, so a template or test added later is covered too.
 */
import { YFile } from '@jupyter/ydoc';
import * as fs from 'fs';
import * as path from 'path';
import * as v8 from 'v8';

import { fromText, scalarFromText, toText } from '../builder/components/fields';
import { layoutSteps } from '../builder/layout';
import { BuilderModel } from '../builder/model';
import { IJsonSchema, PipelineSchema } from '../builder/schema';
import { graphEdges, graphSteps } from '../builder/spec';
import { Path, YamlText } from '../builder/yamlEdit';
import { isObject, Value } from '../builder/yamlRender';

// dagre copies with structuredClone, which browsers have and jsdom lacks.
if (typeof globalThis.structuredClone !== 'function') {
  globalThis.structuredClone = <T>(value: T): T =>
    v8.deserialize(v8.serialize(value));
}

const ROOT = path.resolve(__dirname, '../../../..');

const SCHEMA = new PipelineSchema(
  JSON.parse(
    fs.readFileSync(path.join(ROOT, 'pipelines/pipeline.schema.json'), 'utf8')
  ) as IJsonSchema
);

/**
 * Files under `dir` (relative to the checkout) whose name matches `pattern`.
 */
function walk(dir: string, pattern: RegExp): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(path.join(ROOT, dir), {
    withFileTypes: true
  })) {
    const relative = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!['__pycache__', 'artifacts', 'node_modules'].includes(entry.name)) {
        found.push(...walk(relative, pattern));
      }
    } else if (pattern.test(entry.name)) {
      found.push(relative);
    }
  }
  return found.sort();
}

/**
 * A pipeline file: a mapping with a name and a list of steps.
 */
function isPipeline(text: string): boolean {
  return /^name:/m.test(text) && /^steps:/m.test(text);
}

/**
 * The pipelines written by the Python tests: their triple-quoted strings
 * that hold a pipeline, as the tests write them. A template (an f-string, or
 * a string with `{name}` or `{{` that `.format()` fills in) is filled in with
 * the names of its fields (`{out}/a` gives `out/a`), and left out when that
 * is not YAML (fields that are pieces of YAML); raw and byte strings and
 * strings with escapes are left out, their text not being what is written.
 */
function pipelinesInTests(): [string, string][] {
  const found: [string, string][] = [];
  for (const file of walk('tests', /\.py$/)) {
    const source = fs.readFileSync(path.join(ROOT, file), 'utf8');
    const literal = /([A-Za-z]*)"""(\\\n)?([\s\S]*?)"""/g;
    let match: RegExpExecArray | null;
    while ((match = literal.exec(source)) !== null) {
      const [, prefix, , raw] = match;
      if (!/^f?$/i.test(prefix) || raw.includes('\\') || !isPipeline(raw)) {
        continue;
      }
      const template = prefix !== '' || PLACEHOLDER.test(raw);
      const text = template ? fillIn(raw) : raw;
      if (template && new YamlText(text).errors.length > 0) {
        continue; // its fields are pieces of YAML, known when the test runs
      }
      const line = source.slice(0, match.index).split('\n').length;
      found.push([`${file}:${line}`, text]);
    }
  }
  return found;
}

// `{name}` or `{{` as `.format()` reads them (Jinja's `{{ ds }}` has a space).
const PLACEHOLDER = /\{[A-Za-z_]\w*\}|\{\{(?! )/;

/**
 * A Python template filled in with the names of its fields.
 */
function fillIn(template: string): string {
  return template.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (field, name) =>
    field === '{{'
      ? '{'
      : field === '}}'
        ? '}'
        : String(name).replace(/\W+/g, '_').replace(/^_|_$/g, '')
  );
}

const TEMPLATES: [string, string][] = walk(
  'pipelines/templates',
  /\.ya?ml$/
).map(file => [file, fs.readFileSync(path.join(ROOT, file), 'utf8')]);

const FROM_TESTS = pipelinesInTests();

/**
 * Opens `text` as the Pipeline Editor does: a shared document (the one the
 * text editor shows too), the model over it, the graph and its layout.
 */
function open(text: string): { shared: YFile; model: BuilderModel } {
  const shared = new YFile();
  shared.setSource(text);
  const model = new BuilderModel({
    shared: shared as unknown as BuilderModel.IOptions['shared'],
    keyOrder: (at, source) => SCHEMA.keyOrder(at, source.value),
    schedule: callback => callback()
  });
  const steps = graphSteps(model.source.value);
  layoutSteps(steps, graphEdges(steps));
  return { shared, model };
}

/**
 * Commit every field of the properties panel at `at` with the text it
 * shows, as the panel's inputs do when a user leaves them unchanged after
 * typing (the text read back and written to the file). The number of fields
 * committed.
 */
function commitFields(
  model: BuilderModel,
  schema: IJsonSchema,
  value: Value | undefined,
  at: Path,
  skip: string[] = []
): number {
  if (!isObject(value)) {
    return 0;
  }
  let committed = 0;
  for (const field of SCHEMA.fields(schema, skip)) {
    const current = value[field.key];
    const fieldPath = [...at, field.key];
    if (current === undefined) {
      continue;
    }
    switch (field.type) {
      case 'group':
        committed += commitFields(model, field.schema, current, fieldPath);
        break;
      case 'records': {
        const records = SCHEMA.valueSchema(field.schema);
        for (const [name, record] of Object.entries(
          isObject(current) ? current : {}
        )) {
          committed += commitFields(model, records, record, [
            ...fieldPath,
            name
          ]);
        }
        break;
      }
      case 'map': {
        const entries = Object.entries(isObject(current) ? current : {});
        model.edit(source =>
          source.set(
            fieldPath,
            entries.reduce<{ [key: string]: Value }>(
              (map, [k, v]) => ({
                ...map,
                [k]: scalarFromText(toText('scalar', v))
              }),
              {}
            )
          )
        );
        committed++;
        break;
      }
      case 'boolean':
      case 'enum':
        model.edit(source => source.set(fieldPath, current));
        committed++;
        break;
      default: {
        const read = fromText(
          field.type,
          toText(field.type, current),
          field.required
        );
        expect(read).not.toBeInstanceOf(Error);
        model.edit(source => source.set(fieldPath, read as Value));
        committed++;
      }
    }
  }
  return committed;
}

describe('every pipeline of the repository opens and saves byte-identical', () => {
  it('finds the templates and the pipelines of the tests', () => {
    expect(TEMPLATES.map(([file]) => file)).toContain(
      'pipelines/templates/month_end_close.yaml'
    );
    // The Python tests write some twenty pipelines.
    expect(FROM_TESTS.length).toBeGreaterThanOrEqual(15);
  });

  it.each([...TEMPLATES, ...FROM_TESTS])('%s', (_name, text) => {
    const { shared, model } = open(text);
    expect(model.source.errors).toEqual([]);
    const spec = model.source.value;
    let committed = commitFields(model, SCHEMA.raw, spec, [], ['steps']);
    for (const step of graphSteps(spec)) {
      committed += commitFields(
        model,
        SCHEMA.stepSchema(step.kind),
        (spec as { steps: Value[] }).steps[step.index],
        ['steps', step.index],
        ['id', 'kind', 'depends_on']
      );
    }
    expect(committed).toBeGreaterThan(0);
    expect(shared.getSource()).toBe(text);
    model.dispose();
    shared.dispose();
  });

  it('gives the same bytes back after an edit is undone', () => {
    const [, text] = TEMPLATES[0];
    const { shared, model } = open(text);
    const [first] = graphSteps(model.source.value);
    expect(
      model.edit(source => source.set(['steps', first.index, 'timeout'], '7m'))
    ).toBe(true);
    expect(shared.getSource()).not.toBe(text);
    model.undo();
    expect(shared.getSource()).toBe(text);
    model.dispose();
    shared.dispose();
  });
});
