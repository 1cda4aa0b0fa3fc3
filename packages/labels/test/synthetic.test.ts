import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryRows, sqlString, withDuckDB } from '@enecg/common';
import { generateSynthetic } from '@enecg/synth';
import { beforeAll, describe, expect, it } from 'vitest';
import { deriveLabels, type LabelRow, type LabelSummary, readLabels } from '../src/index.ts';

interface Truth {
  subjectId: number;
  reportLabel: number;
  rrInterval: number | null;
  age: number;
  gender: number;
  potassium: number | null;
  flag: number | null;
  potassiumClass: number | null;
}

/** ground_truth.csv, read with DuckDB's own CSV reader (not through the label rules). */
async function readTruth(file: string): Promise<Map<number, Truth>> {
  const rows = await withDuckDB((connection) =>
    queryRows(connection, `SELECT * FROM read_csv(${sqlString(file)}, header = true)`),
  );
  const number = (value: unknown) => (value === null ? null : Number(value));
  return new Map(
    rows.map((row) => [
      Number(row.study_id),
      {
        subjectId: Number(row.subject_id),
        reportLabel: Number(row.report_label),
        rrInterval: number(row.rr_interval),
        age: Number(row.age),
        gender: Number(row.gender),
        potassium: number(row.potassium),
        flag: number(row.flag),
        potassiumClass: number(row.potassium_class),
      },
    ]),
  );
}

async function synthesize(layout: 'v1' | 'demo', subjects: number, seed: number) {
  const root = await mkdtemp(join(tmpdir(), `enecg-labels-synth-${layout}-`));
  const outDir = join(root, 'mimic');
  await generateSynthetic({ subjects, outDir, seed, layout });
  const summary = await deriveLabels({
    source: outDir,
    hosp: join(outDir, 'hosp'),
    warehouse: join(root, 'wh'),
  });
  return {
    summary,
    rows: await readLabels(join(root, 'wh')),
    truth: await readTruth(join(outDir, 'ground_truth.csv')),
  };
}

describe('synthetic MIMIC-IV-ECG v1.0 layout: every label equals the generator ground truth', () => {
  let summary: LabelSummary;
  let rows: LabelRow[];
  let truth: Map<number, Truth>;

  beforeAll(async () => {
    ({ summary, rows, truth } = await synthesize('v1', 200, 11));
  }, 120_000);

  it('labels every study of the ground truth once', () => {
    expect(rows.map((row) => row.studyId).sort()).toEqual([...truth.keys()].sort());
  });

  it('recovers each task exactly, missing where the truth is missing', () => {
    const mismatches: string[] = [];
    for (const row of rows) {
      const expected = truth.get(row.studyId)!;
      const actual = {
        subjectId: row.subjectId,
        reportLabel: row.reportLabel,
        rrInterval: row.rrInterval,
        age: row.age,
        gender: row.gender,
        potassium: row.potassium,
        flag: row.flag,
        potassiumClass: row.potassiumClass,
      };
      for (const key of Object.keys(expected) as Array<keyof Truth>) {
        if (actual[key] !== expected[key]) {
          mismatches.push(`study ${row.studyId} ${key}: got ${actual[key]}, truth ${expected[key]}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('covers every class and both potassium outcomes, so the comparison means something', () => {
    const { tasks } = summary.statistics;
    expect(Object.keys(tasks.report_label.classes).length).toBeGreaterThanOrEqual(12);
    expect(tasks.flag.classes['1']).toBeGreaterThan(0);
    expect(Object.keys(tasks.potassium_class.classes)).toEqual(['0', '1', '2']);
    expect(tasks.flag.missing).toBeGreaterThan(0);
    expect(tasks.rr_interval.missing).toBeGreaterThan(0);
  });
});

describe('synthetic MIMIC-IV-ECG demo layout (record_list only)', () => {
  it('recovers age, gender and the potassium labels; leaves report and RR missing', async () => {
    const { rows, truth, summary } = await synthesize('demo', 40, 5);
    expect(summary.sources.machine_measurements).toBeNull();
    expect(rows).toHaveLength(truth.size);
    for (const row of rows) {
      const expected = truth.get(row.studyId)!;
      expect([row.age, row.gender, row.potassium, row.flag, row.potassiumClass]).toEqual([
        expected.age,
        expected.gender,
        expected.potassium,
        expected.flag,
        expected.potassiumClass,
      ]);
      expect([row.reportLabel, row.rrInterval]).toEqual([null, null]);
    }
  }, 120_000);
});
