/**
 * What the validate and deploy commands say about the server's answers.
 */
import {
  deploymentSummary,
  sortedErrors,
  specErrorsOf,
  specErrorText,
  validationSummary
} from '../pipelines/deploy';
import { ISpecError } from '../pipelines/tokens';
import { APIError, describeError } from '../request';

const MISSING: ISpecError = {
  file: 'finance/close.yaml',
  line: 7,
  column: 15,
  path: 'steps[1].notebook',
  message: "notebook 'load.ipynb' not found next to the pipeline file"
};

const UNKNOWN_KEY: ISpecError = {
  file: 'finance/close.yaml',
  line: 2,
  column: 1,
  path: 'shedule',
  message: 'unknown field; did you mean schedule?'
};

const NO_STEPS: ISpecError = {
  file: 'finance/close.yaml',
  line: null,
  column: null,
  path: '',
  message: 'a pipeline needs at least one step'
};

function answer(status: number, body: unknown): APIError {
  return new APIError(new Response('', { status }), body);
}

describe('specErrorText', () => {
  it('puts the line first, then the field, then the message', () => {
    expect(specErrorText(MISSING)).toBe(
      "line 7: steps[1].notebook: notebook 'load.ipynb' not found next to the pipeline file"
    );
  });

  it('leaves out what the server could not place', () => {
    expect(specErrorText(NO_STEPS)).toBe('a pipeline needs at least one step');
    expect(specErrorText({ ...UNKNOWN_KEY, line: null })).toBe(
      'shedule: unknown field; did you mean schedule?'
    );
  });
});

describe('sortedErrors', () => {
  it('orders problems as the file reads, whole-file ones first', () => {
    expect(sortedErrors([MISSING, UNKNOWN_KEY, NO_STEPS])).toEqual([
      NO_STEPS,
      UNKNOWN_KEY,
      MISSING
    ]);
  });
});

describe('specErrorsOf', () => {
  it("takes the problems from a refused deploy's body", () => {
    const refused = answer(400, {
      message: 'finance/close.yaml:7:15: steps[1].notebook: …',
      reason: 'Bad Request',
      errors: [MISSING, UNKNOWN_KEY]
    });
    expect(specErrorsOf(refused)).toEqual([MISSING, UNKNOWN_KEY]);
  });

  it('is null for failures that are not problems in the file', () => {
    // Outside the server's folder: a 400 whose message says it all.
    const outside = answer(400, {
      message: "path '../x.yaml' is outside the notebook folder"
    });
    expect(specErrorsOf(outside)).toBeNull();
    expect(describeError(outside)).toBe(
      "path '../x.yaml' is outside the notebook folder"
    );
    const theirs = answer(403, {
      message:
        "pipeline 'close' belongs to alice; only they or an admin may deploy it",
      errors: [MISSING]
    });
    expect(specErrorsOf(theirs)).toBeNull();
    expect(specErrorsOf(answer(400, { errors: [] }))).toBeNull();
    expect(specErrorsOf(answer(400, '<html>Bad Request</html>'))).toBeNull();
    expect(specErrorsOf(new TypeError('Failed to fetch'))).toBeNull();
  });

  it('skips entries without a message', () => {
    const odd = answer(400, { errors: [MISSING, { line: 3 }, null] });
    expect(specErrorsOf(odd)).toEqual([MISSING]);
  });
});

describe('validationSummary', () => {
  it('says valid, or how many problems', () => {
    expect(validationSummary('close.yaml', { valid: true, errors: [] })).toBe(
      'close.yaml is a valid pipeline.'
    );
    expect(
      validationSummary('close.yaml', { valid: false, errors: [MISSING] })
    ).toBe('close.yaml has 1 problem.');
    expect(
      validationSummary('close.yaml', {
        valid: false,
        errors: [MISSING, NO_STEPS]
      })
    ).toBe('close.yaml has 2 problems.');
  });
});

describe('deploymentSummary', () => {
  const deployment = {
    name: 'month_end_close',
    version: 4,
    content_hash: 'ab12',
    new_version: true
  };

  it('gives the new version', () => {
    expect(deploymentSummary(deployment)).toBe(
      'Deployed pipeline month_end_close: version 4.'
    );
  });

  it('says when nothing changed', () => {
    expect(deploymentSummary({ ...deployment, new_version: false })).toBe(
      'Pipeline month_end_close unchanged, still version 4.'
    );
  });
});
