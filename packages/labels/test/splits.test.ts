import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { deriveLabels, type LabelRow, type LabelSummary, readLabels } from '../src/index.ts';
import { ecg, patient, writeMiniMimic } from './mini-mimic.ts';

const SUBJECTS = 3000;

/** Subjects 10000000.. with 1 to 3 ECGs each (deterministic), none of them labelled otherwise. */
function cohort(subjects: number) {
  const recordList: string[][] = [];
  const patients: string[][] = [];
  let studyId = 40000000;
  for (let s = 0; s < subjects; s++) {
    const subjectId = 10000000 + s * 7;
    patients.push(patient(subjectId, s % 2 ? 'F' : 'M', 50, 2150));
    for (let k = 0; k <= s % 3; k++) recordList.push(ecg(subjectId, studyId++, `2150-01-0${k + 1} 10:00:00`));
  }
  return { recordList, patients };
}

function subjectAssignments(rows: LabelRow[], key: 'split' | 'fold'): Map<number, Set<string | number>> {
  const bySubject = new Map<number, Set<string | number>>();
  for (const row of rows) {
    const seen = bySubject.get(row.subjectId) ?? new Set();
    seen.add(row[key]);
    bySubject.set(row.subjectId, seen);
  }
  return bySubject;
}

describe('subject-level splits and folds', () => {
  let paths: Awaited<ReturnType<typeof writeMiniMimic>>;
  let summary: LabelSummary;
  let rows: LabelRow[];

  beforeAll(async () => {
    paths = await writeMiniMimic(cohort(SUBJECTS));
    summary = await deriveLabels(paths);
    rows = await readLabels(paths.warehouse);
  });

  it('puts every ECG of a subject in one split and one fold', () => {
    expect(rows.length).toBe(6000);
    for (const key of ['split', 'fold'] as const) {
      const bySubject = subjectAssignments(rows, key);
      expect(bySubject.size).toBe(SUBJECTS);
      expect([...bySubject.values()].every((values) => values.size === 1)).toBe(true);
    }
  });

  it('splits subjects about 70/20/10 and folds them about evenly', () => {
    const { splits, folds } = summary.statistics;
    expect(splits.train.subjects + splits.val.subjects + splits.test.subjects).toBe(SUBJECTS);
    // Binomial standard deviation for 3000 subjects is under 0.9 %: 3 % is a generous bound.
    expect(Math.abs(splits.train.subjects / SUBJECTS - 0.7)).toBeLessThan(0.03);
    expect(Math.abs(splits.val.subjects / SUBJECTS - 0.2)).toBeLessThan(0.03);
    expect(Math.abs(splits.test.subjects / SUBJECTS - 0.1)).toBeLessThan(0.03);
    expect(folds).toHaveLength(3);
    for (const fold of folds) expect(Math.abs(fold.subjects / SUBJECTS - 1 / 3)).toBeLessThan(0.03);
  });

  it('gives byte-identical label files for the same seed and data', async () => {
    const first = await readFile(summary.output.path);
    const again = await deriveLabels(paths);
    expect(again.output.sha256).toBe(summary.output.sha256);
    expect(Buffer.compare(await readFile(again.output.path), first)).toBe(0);
  });

  it('reassigns subjects under another seed', async () => {
    await deriveLabels({ ...paths, config: { split: { seed: 'another' } } });
    const reseeded = await readLabels(paths.warehouse);
    // Two independent 70/20/10 draws agree for 0.49 + 0.04 + 0.01 of the subjects.
    const moved = reseeded.filter((row, i) => row.split !== rows[i]!.split).length / rows.length;
    expect(moved).toBeGreaterThan(0.35);
    expect(moved).toBeLessThan(0.57);
  });

  it('honours configured fractions and fold count', async () => {
    const other = await deriveLabels({
      ...paths,
      config: { split: { fractions: { train: 0.5, val: 0.25, test: 0.25 }, folds: 5 } },
    });
    const otherRows = await readLabels(paths.warehouse);
    expect(other.statistics.folds).toHaveLength(5);
    expect(new Set(otherRows.map((row) => row.fold))).toEqual(new Set([0, 1, 2, 3, 4]));
    expect(Math.abs(other.statistics.splits.test.subjects / SUBJECTS - 0.25)).toBeLessThan(0.03);
    for (const key of ['split', 'fold'] as const) {
      expect([...subjectAssignments(otherRows, key).values()].every((values) => values.size === 1)).toBe(
        true,
      );
    }
  });

  it('keeps every subject in its split and fold when new subjects arrive', async () => {
    const grown = await writeMiniMimic(cohort(SUBJECTS + 500));
    await deriveLabels(grown);
    const before = new Map(rows.map((row) => [row.studyId, [row.split, row.fold]]));
    const after = (await readLabels(grown.warehouse)).filter((row) => before.has(row.studyId));
    expect(after).toHaveLength(rows.length);
    for (const row of after) expect([row.split, row.fold]).toEqual(before.get(row.studyId));
  });
});
