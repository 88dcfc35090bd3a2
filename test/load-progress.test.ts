import { describe, expect, it } from 'vitest';
import { createProgress } from '../src/loaders/load-progress.js';

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; out: string[] } {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream };
}

describe('load progress', () => {
  it('draws a bar with rows, rows/s and an ETA on a TTY, and clears it when done', () => {
    const { stream, out } = fakeStream(true);
    const p = createProgress(stream);
    p.start('player_features', 1000);
    p.update(250);
    expect(out[0]).toMatch(/^\r\[######-{18}\] player_features: 250\/1,000 rows, [\d,]+ rows\/s ETA \d+ s/);
    p.done();
    expect(out.at(-1)).toMatch(/^\r +\r$/);
  });

  it('writes periodic log lines when not on a TTY', () => {
    const { stream, out } = fakeStream(false);
    const p = createProgress(stream, 0);
    p.start('player_segments', 10);
    p.update(1);
    p.update(5);
    p.done();
    expect(out.length).toBeGreaterThanOrEqual(1);
    expect(out.at(-1)).toMatch(/^\d{4}-\d\d-\d\dT.* player_segments: 5\/10 rows, [\d,]+ rows\/s/);
    expect(out.every((l) => !l.includes('\r'))).toBe(true);
  });
});
