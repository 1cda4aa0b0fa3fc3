import { describe, expect, it } from 'vitest';
import { createProgress, formatDuration, formatProgressLine, withProgress } from '../src/progress.ts';

/** A stream that records what is written, and a clock the test moves by hand. */
function harness(isTTY: boolean) {
  const writes: string[] = [];
  let time = 1_000_000;
  return {
    writes,
    stream: { isTTY, write: (text: string) => writes.push(text) },
    now: () => time,
    advance(ms: number) {
      time += ms;
    },
  };
}

describe('formatProgressLine', () => {
  it('shows counts, percentage, rate and ETA', () => {
    expect(
      formatProgressLine({
        label: 'ingest',
        unit: 'records',
        done: 40,
        total: 120,
        detail: undefined,
        elapsedMs: 4000,
      }),
    ).toBe('ingest 40/120 records (33%), 10 records/s, ETA 8s');
  });

  it('shows counts and rate only when the total is unknown, plus the detail', () => {
    expect(
      formatProgressLine({
        label: 'features',
        unit: 'records',
        done: 3,
        total: undefined,
        detail: '2 cached',
        elapsedMs: 2000,
      }),
    ).toBe('features 3 records, 1.5 records/s, 2 cached');
  });

  it('says how long the whole took once done', () => {
    expect(
      formatProgressLine({ label: 'x', unit: 'r', done: 5, total: 5, detail: undefined, elapsedMs: 65_000 }),
    ).toBe('x 5/5 r (100%), 0.1 r/s, done in 1m05s');
  });
});

describe('formatDuration', () => {
  it('reads as seconds, minutes or hours', () => {
    expect(formatDuration(7.4)).toBe('7s');
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatDuration(3725)).toBe('1h02m');
  });
});

describe('createProgress on a terminal', () => {
  it('redraws one line in place, at most every 100 ms, and ends it on finish', () => {
    const h = harness(true);
    const progress = createProgress({ label: 'ingest', unit: 'records', stream: h.stream, now: h.now });
    h.advance(1000);
    progress.update(10, 100);
    h.advance(50);
    progress.update(11, 100); // too soon: not drawn
    h.advance(100);
    progress.update(20, 100);
    progress.finish();
    expect(h.writes).toHaveLength(3);
    expect(h.writes[0]).toBe('\ringest 10/100 records (10%), 10 records/s, ETA 9s\x1b[K');
    expect(h.writes[1]).toMatch(/^\ringest 20\/100 records \(20%\)/);
    expect(h.writes[2]?.endsWith('\x1b[K\n')).toBe(true);
    expect(h.writes.join('')).not.toContain('\n\r');
  });

  it('always draws the final count', () => {
    const h = harness(true);
    const progress = createProgress({ label: 'ingest', unit: 'records', stream: h.stream, now: h.now });
    h.advance(1000);
    progress.update(1, 2);
    progress.update(2, 2);
    expect(h.writes).toHaveLength(2);
    expect(h.writes[1]).toContain('2/2 records (100%)');
  });
});

describe('createProgress without a terminal', () => {
  it('writes a plain line every 10 % and none in between', () => {
    const h = harness(false);
    const progress = createProgress({ label: 'ingest', unit: 'records', stream: h.stream, now: h.now });
    for (let done = 1; done <= 100; done++) {
      h.advance(10);
      progress.update(done, 100);
    }
    progress.finish();
    expect(h.writes).toHaveLength(10);
    expect(h.writes.every((line) => line.endsWith('\n') && !line.includes('\r'))).toBe(true);
    expect(h.writes[0]).toContain('10/100 records (10%)');
    expect(h.writes[9]).toContain('100/100 records (100%)');
  });

  it('writes a line every 5 s when progress is slow or the total unknown', () => {
    const h = harness(false);
    const progress = createProgress({ label: 'features', unit: 'records', stream: h.stream, now: h.now });
    for (let done = 1; done <= 12; done++) {
      h.advance(1000);
      progress.update(done);
    }
    expect(h.writes.map((line) => line.split(',')[0])).toEqual(['features 5 records', 'features 10 records']);
    progress.finish();
    expect(h.writes[2]).toMatch(/^features 12 records/);
  });

  it('writes nothing for a command that reported no progress', () => {
    const h = harness(false);
    createProgress({ label: 'ingest', unit: 'records', stream: h.stream, now: h.now }).finish();
    expect(h.writes).toEqual([]);
  });
});

describe('withProgress', () => {
  it('ends the progress line when the work fails', async () => {
    const h = harness(true);
    const progress = createProgress({ label: 'ingest', unit: 'records', stream: h.stream, now: h.now });
    h.advance(1000);
    await expect(
      withProgress(progress, async () => {
        progress.update(3, 10);
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(h.writes.at(-1)?.endsWith('\n')).toBe(true);
  });
});
