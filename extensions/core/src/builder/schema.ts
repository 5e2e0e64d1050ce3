/**
 * The pipeline JSON Schema as the server publishes it
 * (`GET pipelines/schema.json`): the step kinds it knows, the fields of each,
 * and how each field is edited. Kinds added to the server's spec show up
 * here without a change to the editor.
 */
import { DEFAULT_KIND, PIPELINE_ORDER, stepKeyOrder } from './spec';
import { Path } from './yamlEdit';
import { isObject, Value } from './yamlRender';

/**
 * The parts of JSON Schema (draft 2020-12, as pydantic writes it) read here.
 */
export interface IJsonSchema {
  $ref?: string;
  $defs?: { [name: string]: IJsonSchema };
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maxLength?: number;
  properties?: { [key: string]: IJsonSchema };
  patternProperties?: { [pattern: string]: IJsonSchema };
  additionalProperties?: boolean | IJsonSchema;
  required?: string[];
  items?: IJsonSchema;
  anyOf?: IJsonSchema[];
  oneOf?: IJsonSchema[];
}

/**
 * A step kind of the palette.
 */
export interface IStepKind {
  kind: string;
  title: string;
  description: string;
  /**
   * The kind's own schema (its `$ref` resolved).
   */
  schema: IJsonSchema;
}

/**
 * How a field is edited.
 */
export type FieldType =
  | 'text'
  | 'longtext'
  | 'scalar'
  | 'duration'
  | 'number'
  | 'integer'
  | 'boolean'
  | 'enum'
  | 'list'
  | 'group'
  | 'map'
  | 'records'
  | 'yaml';

/**
 * A field of a form: its key, how it is edited and what the schema says of
 * it.
 */
export interface IField {
  key: string;
  type: FieldType;
  title: string;
  description: string;
  required: boolean;
  /**
   * The field's schema, `null` alternatives and `$ref`s taken away.
   */
  schema: IJsonSchema;
  /**
   * Choices of an `enum` field.
   */
  choices: string[];
  /**
   * The default the server applies when the field is absent.
   */
  default: unknown;
}

const DURATION = /\[smhd\]/;

/**
 * The published schema, with its `$ref`s followed on demand.
 */
export class PipelineSchema {
  constructor(readonly raw: IJsonSchema) {}

  /**
   * `schema` with its `$ref` followed and a `null` alternative of `anyOf`
   * dropped (an optional value is simply left out of the file).
   */
  resolve(schema: IJsonSchema | undefined): IJsonSchema {
    let current = schema ?? {};
    for (let hops = 0; hops < 10; hops++) {
      if (current.$ref) {
        const name = current.$ref.replace(/^#\/\$defs\//, '');
        current = { ...this.raw.$defs?.[name], ...omit(current, '$ref') };
        continue;
      }
      const options = current.anyOf?.filter(o => o.type !== 'null');
      if (options && options.length === 1 && current.anyOf!.length > 1) {
        current = { ...options[0], ...omit(current, 'anyOf') };
        continue;
      }
      break;
    }
    return current;
  }

  /**
   * Every step kind, in the schema's order (notebook first).
   */
  get stepKinds(): IStepKind[] {
    const items = this.resolve(this.raw.properties?.steps).items ?? {};
    const options = items.oneOf ?? items.anyOf ?? [items];
    return options.map(option => {
      const schema = this.resolve(option);
      const kind = schema.properties?.kind;
      const name = String(kind?.const ?? kind?.default ?? DEFAULT_KIND);
      return {
        kind: name,
        title: name,
        description: (schema.description ?? '').split('\n')[0],
        schema
      };
    });
  }

  /**
   * The schema of one step kind (the first kind for an unknown one).
   */
  stepSchema(kind: string): IJsonSchema {
    const kinds = this.stepKinds;
    return (kinds.find(k => k.kind === kind) ?? kinds[0])?.schema ?? {};
  }

  /**
   * The fields of an object schema, in the schema's order.
   */
  fields(schema: IJsonSchema, skip: string[] = []): IField[] {
    const object = this.resolve(schema);
    const required = new Set(object.required ?? []);
    return Object.entries(object.properties ?? {})
      .filter(([key]) => !skip.includes(key))
      .map(([key, field]) => this.field(key, field, required.has(key)));
  }

  /**
   * One field: how it is edited, from the shape of its schema.
   */
  field(key: string, raw: IJsonSchema, required = false): IField {
    const schema = this.resolve(raw);
    return {
      key,
      type: this._type(key, schema),
      // A `$ref`'s title names its model (RetrySpec): the key reads better.
      title:
        raw.title ??
        (schema.title && !this.raw.$defs?.[schema.title]
          ? schema.title
          : humanize(key)),
      description: schema.description ?? raw.description ?? '',
      required,
      schema,
      choices: (schema.enum ?? []).map(String),
      default: raw.default ?? schema.default
    };
  }

  private _type(key: string, schema: IJsonSchema): FieldType {
    const options = schema.anyOf?.map(o => this.resolve(o)) ?? [];
    if (
      options.length > 0 &&
      options.some(o => o.type === 'string' && DURATION.test(o.pattern ?? ''))
    ) {
      return 'duration';
    }
    if (options.length > 0) {
      return 'yaml';
    }
    if (schema.enum) {
      return 'enum';
    }
    switch (schema.type) {
      case 'string':
        return key === 'sql' ||
          key === 'description' ||
          (schema.maxLength ?? 0) > 2000
          ? 'longtext'
          : 'text';
      case 'integer':
        return 'integer';
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'array': {
        const items = this.resolve(schema.items);
        return items.type === 'string' && !items.anyOf ? 'list' : 'yaml';
      }
      case 'object': {
        if (schema.properties) {
          return 'group';
        }
        const values = Object.values(schema.patternProperties ?? {})[0];
        if (values === undefined) {
          return 'yaml';
        }
        return this.resolve(values).properties ? 'records' : 'map';
      }
    }
    // No type: any value (a parameter's default), typed as a YAML scalar.
    return schema.type === undefined ? 'scalar' : 'yaml';
  }

  /**
   * The schema of the values of a `map` or `records` field.
   */
  valueSchema(schema: IJsonSchema): IJsonSchema {
    return this.resolve(Object.values(schema.patternProperties ?? {})[0]);
  }

  /**
   * The order new keys are written in at `path` of `spec`.
   */
  keyOrder(path: Path, spec: Value): string[] | undefined {
    if (path.length === 0) {
      return PIPELINE_ORDER;
    }
    if (path.length === 2 && path[0] === 'steps') {
      const steps =
        isObject(spec) && Array.isArray(spec.steps) ? spec.steps : [];
      const step = steps[path[1] as number];
      const kind =
        isObject(step) && typeof step.kind === 'string'
          ? step.kind
          : DEFAULT_KIND;
      return stepKeyOrder(Object.keys(this.stepSchema(kind).properties ?? {}));
    }
    let schema = this.resolve(this.raw);
    for (const key of path) {
      if (typeof key === 'number') {
        schema = this.resolve(schema.items);
      } else if (schema.properties?.[key]) {
        schema = this.resolve(schema.properties[key]);
      } else {
        schema = this.valueSchema(schema);
      }
    }
    return schema.properties ? Object.keys(schema.properties) : undefined;
  }

  /**
   * A new step of `kind`: its id, its kind (unless the default) and every
   * required field, empty for the user to fill in.
   */
  newStep(
    kind: string,
    id: string,
    given: { [key: string]: Value } = {}
  ): {
    [key: string]: Value;
  } {
    const schema = this.stepSchema(kind);
    const step: { [key: string]: Value } = { id };
    if (kind !== DEFAULT_KIND) {
      step.kind = kind;
    }
    for (const key of schema.required ?? []) {
      if (key in step) {
        continue;
      }
      if (key in given) {
        step[key] = given[key];
        continue;
      }
      const field = this.resolve(schema.properties?.[key]);
      step[key] =
        field.type === 'array' ? [] : field.type === 'object' ? {} : '';
    }
    return { ...step, ...given };
  }
}

/**
 * The schema a server without `GET pipelines/schema.json` implies: notebook
 * steps only.
 */
export const FALLBACK_SCHEMA: IJsonSchema = {
  type: 'object',
  required: ['name', 'steps'],
  properties: {
    name: { type: 'string' },
    description: { type: 'string' },
    steps: {
      type: 'array',
      items: {
        type: 'object',
        description: 'One notebook run with papermill.',
        required: ['id', 'notebook'],
        properties: {
          id: { type: 'string' },
          depends_on: { type: 'array', items: { type: 'string' } },
          kind: { const: 'notebook', default: 'notebook', type: 'string' },
          notebook: { type: 'string' }
        }
      }
    }
  }
};

/**
 * `on_sla_miss` as `On sla miss`.
 */
function humanize(key: string): string {
  const words = key.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function omit(schema: IJsonSchema, key: keyof IJsonSchema): IJsonSchema {
  const copy = { ...schema };
  delete copy[key];
  return copy;
}
