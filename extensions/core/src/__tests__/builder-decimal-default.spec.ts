/**
 * The Pipeline Editor's parameters form and a `decimal` parameter: the
 * default typed as `10.10` must reach the file as the text `10.10`, not the
 * YAML number 10.1 (a float, which the server refuses for a decimal, asking
 * for the quoted form a user of the form never sees).
 */
import * as fs from 'fs';
import * as path from 'path';

import { asDeclared } from '../builder/components/SchemaForm';
import { fromText, toText } from '../builder/components/fields';
import { IJsonSchema, PipelineSchema } from '../builder/schema';

const ROOT = path.resolve(__dirname, '../../../..');
const SCHEMA = new PipelineSchema(
  JSON.parse(
    fs.readFileSync(path.join(ROOT, 'pipelines/pipeline.schema.json'), 'utf8')
  ) as IJsonSchema
);

/**
 * The `default` field of a pipeline parameter, as the form shows it for a
 * parameter declared as `declared`.
 */
function defaultField(declared: { [key: string]: string }) {
  const parameters = SCHEMA.fields(SCHEMA.raw).find(
    field => field.key === 'parameters'
  );
  expect(parameters?.type).toBe('records');
  const record = SCHEMA.valueSchema(parameters!.schema);
  const field = SCHEMA.fields(record).find(f => f.key === 'default');
  expect(field).toBeDefined();
  return asDeclared(field!, declared);
}

describe('a decimal parameter default in the Pipeline Editor', () => {
  it('keeps the digits typed, written as text', () => {
    const field = defaultField({ type: 'decimal' });
    const read = fromText(field.type, '10.10', false);
    expect(read).toBe('10.10');
    expect(toText(field.type, read as string)).toBe('10.10');
  });

  it('leaves other types as YAML scalars', () => {
    const field = defaultField({ type: 'number' });
    expect(fromText(field.type, '10.10', false)).toBe(10.1);
    expect(fromText(field.type, 'true', false)).toBe(true);
  });
});
