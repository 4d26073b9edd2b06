import { describe, expect, it } from 'vitest';
import { operationName, parseOperation } from './operation.js';
import { downloadPath } from './result.js';

describe('Gemini operation answers', () => {
  it('reads running, video, filtered and error operations', () => {
    expect(parseOperation({ name: 'models/m/operations/1' })).toEqual({ kind: 'running' });
    expect(parseOperation({ name: 'models/m/operations/1', done: false })).toEqual({ kind: 'running' });
    const uri = 'https://generativelanguage.googleapis.com/v1beta/files/abc:download?alt=media';
    expect(parseOperation({ done: true, response: { generateVideoResponse: { generatedSamples: [{ video: { uri } }] } } })).toEqual({ kind: 'video', uri });
    expect(
      parseOperation({ done: true, response: { generateVideoResponse: { raiMediaFilteredCount: 1, raiMediaFilteredReasons: ['child safety'] } } }),
    ).toEqual({ kind: 'filtered', reasons: ['child safety'] });
    expect(parseOperation({ done: true, error: { code: 3, message: 'bad' } })).toEqual({ kind: 'error', code: 3, message: 'bad' });
    expect(parseOperation({ done: true, response: {} })).toMatchObject({ kind: 'error', code: null });
  });

  it('accepts only plain operation names', () => {
    expect(operationName({ name: 'models/veo-3.1-generate-preview/operations/x1y2' })).toBe('models/veo-3.1-generate-preview/operations/x1y2');
    expect(operationName({ name: '../../secrets' })).toBeNull();
    expect(operationName({ name: 'models/m/operations/1?x=y' })).toBeNull();
    expect(operationName({})).toBeNull();
  });

  it('moves a download URI onto the configured base, keeping path and query', () => {
    expect(downloadPath('https://generativelanguage.googleapis.com/v1beta/files/abc:download?alt=media')).toBe('/v1beta/files/abc:download?alt=media');
    expect(downloadPath('not a url')).toBeNull();
  });
});
