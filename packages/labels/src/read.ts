import { access } from 'node:fs/promises';
import { DuckDBListValue } from '@duckdb/node-api';
import { InputError, sqlString, withDuckDB } from '@enecg/common';
import { labelsFile } from './derive.ts';

export type Split = 'train' | 'val' | 'test';

/** One row of the label table (see docs/architecture.md, "Shared row contracts"). */
export interface LabelRow {
  studyId: number;
  subjectId: number;
  /** Milliseconds; null when the cart did not measure it or the value was implausible. */
  rrInterval: number | null;
  /** Years at the ECG, capped at 91. */
  age: number | null;
  /** 0 male, 1 female. */
  gender: 0 | 1 | null;
  /** 1 when the potassium result nearest the ECG was flagged abnormal; null without a result. */
  flag: 0 | 1 | null;
  /** 0 hypokalaemia, 1 normal, 2 hyperkalaemia (against the result's reference range). */
  potassiumClass: 0 | 1 | 2 | null;
  /** The potassium value (mmol/L) the two potassium labels came from. */
  potassium: number | null;
  /** 0..14, see ARRHYTHMIA_CLASS_NAMES (@enecg/common); null for an ECG without report statements. */
  reportLabel: number | null;
  /** Every class the report's statements match (ascending); null without statements. */
  reportLabels: number[] | null;
  reportSource: 'machine' | 'note' | null;
  split: Split;
  fold: number;
  labelVersion: string;
}

const nullableNumber = (value: unknown) => (value === null ? null : Number(value));

/** Reads the warehouse's label table, ordered by study_id. */
export async function readLabels(warehouse: string): Promise<LabelRow[]> {
  const path = labelsFile(warehouse);
  try {
    await access(path);
  } catch {
    throw new InputError('no label table in this warehouse: run `enecg labels` first', { file: path });
  }
  return withDuckDB(async (connection) => {
    const reader = await connection.runAndReadAll(
      `SELECT * FROM read_parquet(${sqlString(path)}) ORDER BY study_id`,
    );
    return reader.getRowObjects().map(
      (row): LabelRow => ({
        studyId: Number(row.study_id),
        subjectId: Number(row.subject_id),
        rrInterval: nullableNumber(row.rr_interval),
        age: nullableNumber(row.age),
        gender: nullableNumber(row.gender) as LabelRow['gender'],
        flag: nullableNumber(row.flag) as LabelRow['flag'],
        potassiumClass: nullableNumber(row.potassium_class) as LabelRow['potassiumClass'],
        potassium: nullableNumber(row.potassium),
        reportLabel: nullableNumber(row.report_label),
        reportLabels:
          row.report_labels instanceof DuckDBListValue ? row.report_labels.items.map(Number) : null,
        reportSource: row.report_source as LabelRow['reportSource'],
        split: row.split as Split,
        fold: Number(row.fold),
        labelVersion: String(row.label_version),
      }),
    );
  });
}
