import { describe, expect, it } from 'vitest';
import { createProgress, formatDetail } from './progress.js';

describe('CLI progress line', () => {
  it('shows the known parts only: percent, queue position, estimate', () => {
    expect(formatDetail({})).toBe('');
    expect(formatDetail({ queuePosition: 3, etaSeconds: 65 })).toBe('queue 3  eta 1:05');
    expect(formatDetail({ progress: 42, etaSeconds: 9 })).toBe('42%  eta 0:09');
  });

  it('piped: one line per state, queue move or ten percent', () => {
    let text = '';
    const p = createProgress({ write: (c: string) => (text += c) }, { label: 'veo-3-1 x', tty: false, color: false, now: () => 0 });
    p.update('pending', { queuePosition: 2 });
    p.update('pending', { queuePosition: 2 });
    p.update('pending', { queuePosition: 1, etaSeconds: 20 });
    p.update('processing', { progress: 3 });
    p.update('processing', { progress: 7 });
    p.update('processing', { progress: 12, etaSeconds: 8 });
    p.update('success', { progress: 100 });
    p.stop();
    expect(text.split('\n').filter(Boolean)).toEqual([
      '[0:00] pending queue 2',
      '[0:00] pending queue 1  eta 0:20',
      '[0:00] processing 3%',
      '[0:00] processing 12%  eta 0:08',
      '[0:00] success 100%',
    ]);
  });

  it('on a terminal the redrawn line carries the detail', () => {
    let text = '';
    const p = createProgress({ write: (c: string) => (text += c), isTTY: true }, { label: 'veo-3-1 x', tty: true, color: false, now: () => 0, tickMs: 60_000 });
    p.update('processing', { progress: 55, etaSeconds: 4 });
    p.stop();
    expect(text).toContain('processing 55%  eta 0:04  elapsed 0:00');
  });
});
