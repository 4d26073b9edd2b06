import { describe, expect, it } from 'vitest';
import { createUrlSigner } from './url-signer.js';

describe('url signer', () => {
  const signer = createUrlSigner('k');
  const path = '/files/results/abc.mp4';
  const parse = (url: string) => new URL(url, 'http://x').searchParams;

  it('signs until at least the asked time, rounded up to a whole minute', () => {
    const at = Date.UTC(2026, 10, 27, 12, 0, 30, 500);
    const q = parse(signer.sign(path, at));
    expect(Number(q.get('expires'))).toBe(Date.UTC(2026, 10, 27, 12, 1, 0) / 1000);
    expect(signer.verify(path, q.get('expires')!, q.get('sig')!, at)).toBe('ok');
    expect(signer.verify(path, q.get('expires')!, q.get('sig')!, at + 30_000)).toBe('expired');
  });

  it('gives the same URL within a minute and a new one in the next', () => {
    const at = Date.UTC(2026, 10, 27, 12, 0, 1);
    expect(signer.sign(path, at)).toBe(signer.sign(path, at + 58_000));
    const next = signer.sign(path, at + 60_000);
    expect(next).not.toBe(signer.sign(path, at));
    expect(signer.verify(path, parse(next).get('expires')!, parse(next).get('sig')!, at)).toBe('ok');
  });

  it('refuses another path, expiry or key', () => {
    const q = parse(signer.sign(path, 1_000_000));
    expect(signer.verify('/files/results/other.mp4', q.get('expires')!, q.get('sig')!, 0)).toBe('invalid');
    expect(signer.verify(path, String(Number(q.get('expires')) + 60), q.get('sig')!, 0)).toBe('invalid');
    expect(createUrlSigner('other').verify(path, q.get('expires')!, q.get('sig')!, 0)).toBe('invalid');
  });

  it('keeps a path that is being read while many other paths are signed', () => {
    const many = createUrlSigner('k');
    const at = Date.UTC(2026, 10, 27, 12, 0, 1);
    const url = many.sign(path, at);
    // 50,000 other paths, 2.5× the bound, with this one read again every 1,000 of them: the
    // least recently signed go first, so it is never the one pushed out.
    for (let i = 0; i < 50_000; i++) {
      many.sign(`/files/results/${i}.mp4`, at);
      if (i % 1000 === 999) {
        expect(many.remembers(path), `after ${i + 1} other paths`).toBe(true);
        expect(many.sign(path, at)).toBe(url);
      }
    }
    // Idle paths did go: the bound holds.
    expect(many.remembers('/files/results/0.mp4')).toBe(false);
  });
});
