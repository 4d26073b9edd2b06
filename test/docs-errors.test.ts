import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FAIL_CODES } from '../src/domain/task-state.js';
import { STATUS_MESSAGES } from '../src/http/api-error.js';

/** The error reference and the code must not drift apart (docs/architecture.md, conventions). */
const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

describe('docs/errors.md', () => {
  it.each([...FAIL_CODES])('documents fail code %s', (code) => {
    expect(doc).toMatch(new RegExp(`\\| \`${code}\` \\|`));
  });

  it.each(Object.entries(STATUS_MESSAGES).filter(([s]) => Number(s) >= 400))('documents HTTP %s', (status, message) => {
    expect(doc).toContain(`| ${status} | \`${message}\` |`);
  });
});
