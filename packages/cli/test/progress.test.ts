import { describe, expect, it } from 'vitest';
import {
  createLiveLines,
  createProgress,
  formatDuration,
  formatProgressLine,
  withProgress,
} from '../src/progress.ts';

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
    expect(h.writes[2]).toBe('\n');
    expect(h.writes.join('')).not.toContain('\n\r');
  });

  it('draws the final line once: finish only ends it (the doubled last line of ingest and features)', () => {
    const h = harness(true);
    const progress = createProgress({ label: 'ingest', unit: 'records', stream: h.stream, now: h.now });
    h.advance(1000);
    progress.update(2, 2);
    progress.finish();
    expect(h.writes.join('').match(/2\/2 records/g)).toHaveLength(1);
    expect(h.writes.at(-1)).toBe('\n');
  });

  it('draws an update it skipped when it finishes', () => {
    const h = harness(true);
    const progress = createProgress({ label: 'train', unit: 'epochs', stream: h.stream, now: h.now });
    h.advance(1000);
    progress.update(1, 10);
    h.advance(10);
    progress.update(2, 10); // too soon: drawn by finish
    progress.finish();
    expect(h.writes.at(-1)).toMatch(/^\rtrain 2\/10 epochs /);
    expect(h.writes.at(-1)?.endsWith('\x1b[K\n')).toBe(true);
  });

  it('cuts lines to the terminal width, since a wrapped line cannot be redrawn in place', () => {
    const h = harness(true);
    const stream = { ...h.stream, columns: 30 };
    const progress = createProgress({ label: 'features dlinear', unit: 'records', stream, now: h.now });
    h.advance(1000);
    progress.update(40, 120, '40 computed, 0 cached, 0 quarantined');
    const drawn = h.writes[0]!.replace('\r', '').replace('\x1b[K', '');
    expect(drawn).toHaveLength(29);
    expect(drawn.endsWith('…')).toBe(true);
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

describe('createLiveLines', () => {
  it('redraws its block in place on a terminal, with log lines above it', () => {
    const h = harness(true);
    const live = createLiveLines({ stream: h.stream, now: h.now });
    live.render([
      { key: '1', text: 'ingest shard 0: 10/60 records' },
      { key: '2', text: 'ingest shard 1: 12/60 records' },
    ]);
    live.log('enecg: labels done');
    live.render([{ key: '3', text: 'features dlinear: 5/120 records' }]);
    live.finish();
    const screen = h.writes.join('');
    // Each redraw moves up over the block it drew and erases it.
    expect(screen.split('\x1b[2A\r\x1b[J')).toHaveLength(3);
    expect(screen).toContain('enecg: labels done\x1b[K\n');
    expect(screen.endsWith('\x1b[1A\r\x1b[J')).toBe(true);
  });

  it('writes plain lines elsewhere: on change, at most every 10 s per line', () => {
    const h = harness(false);
    const live = createLiveLines({ stream: h.stream, now: h.now });
    live.render([{ key: '1', text: 'train epoch 1/20' }]);
    h.advance(2000);
    live.render([{ key: '1', text: 'train epoch 2/20' }]); // too soon
    live.render([{ key: '2', text: 'evaluate 0/700 replicates' }]);
    h.advance(10_000);
    live.render([{ key: '1', text: 'train epoch 2/20' }]);
    live.render([{ key: '1', text: 'train epoch 2/20' }]); // unchanged
    live.log('enecg: done');
    live.finish();
    expect(h.writes).toEqual([
      'train epoch 1/20\n',
      'evaluate 0/700 replicates\n',
      'train epoch 2/20\n',
      'enecg: done\n',
    ]);
  });
});
