import { describe, expect, it } from 'vitest';
import { paletteAt } from './palettes.js';
import { cameraMoveFor, moodsFor, sceneLook, tempoFor } from './scene.js';

describe('prompt steering', () => {
  it('maps mood words to moods, strongest first', () => {
    expect(moodsFor('A golden SUNSET over the desert')).toEqual(['warm']);
    expect(moodsFor('night city, neon lights, dark streets at night')).toEqual(['night', 'neon']);
    expect(moodsFor('ocean waves in a forest')).toEqual(['ocean', 'forest']);
    expect(moodsFor('a cup of tea')).toEqual([]);
  });

  it('maps pace words to a tempo', () => {
    expect(tempoFor('a fast car chase')).toBe('fast');
    expect(tempoFor('calm, slow morning')).toBe('slow');
    expect(tempoFor('calmer pacing')).toBe('slow');
    expect(tempoFor('a red ball')).toBe('normal');
  });

  it('finds the camera move the prompt asks for (earliest phrase wins)', () => {
    expect(cameraMoveFor('slowly push in on the door')).toBe('push-in');
    expect(cameraMoveFor('Zoom in, then pan left')).toBe('push-in');
    expect(cameraMoveFor('pull back to a wide establishing view')).toBe('pull-back');
    expect(cameraMoveFor('wide establishing shot')).toBe('pull-back');
    expect(cameraMoveFor('pan to the left across the bay')).toBe('pan-left');
    expect(cameraMoveFor('the camera pans right')).toBe('pan-right');
    expect(cameraMoveFor('tilt up to the sky')).toBe('tilt-up');
    expect(cameraMoveFor('tilt down to the street')).toBe('tilt-down');
    expect(cameraMoveFor('smooth camera move')).toBe('drift');
  });

  it('is deterministic in (prompt, seed) and varies with either', () => {
    const a = sceneLook('a sunset', 42);
    expect(sceneLook('a sunset', 42)).toEqual(a);
    expect(sceneLook('a sunset', 43)).not.toEqual(a);
    expect(sceneLook('a sunrise', 42)).not.toEqual(a);
  });

  it('makes sunset warm and night dark', () => {
    const sunset = sceneLook('sunset', 1);
    const night = sceneLook('night', 1);
    const mid = (p: typeof sunset) => paletteAt(p.palette, 0.5);
    const [sr, , sb] = mid(sunset);
    expect(sr).toBeGreaterThan(sb);
    const luma = (rgb: readonly number[]) => 0.2126 * (rgb[0] ?? 0) + 0.7152 * (rgb[1] ?? 0) + 0.0722 * (rgb[2] ?? 0);
    expect(luma(mid(night)) * night.brightness).toBeLessThan((luma(mid(sunset)) * sunset.brightness) / 2);
  });

  it('moves faster for a chase than for a calm scene', () => {
    expect(sceneLook('a fast chase', 5).speed).toBeGreaterThan(2 * sceneLook('a calm lake', 5).speed);
  });
});
