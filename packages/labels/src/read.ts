import { DuckDBListValue } from '@duckdb/node-api';
import { LAKE, sqlString } from '@enecg/common';
import { LABELS_TABLE, withLabelSet } from './store.ts';

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

/**
 * Reads one label set from the warehouse's lake, ordered by study_id: `labelSet` (as `deriveLabels`
 * returned it), or the set of the latest derivation.
 */
export async function readLabels(warehouse: string, labelSet?: string): Promise<LabelRow[]> {
  return withLabelSet(warehouse, labelSet, async (connection, set) => {
    const reader = await connection.runAndReadAll(
      `SELECT * EXCLUDE (label_set) FROM ${LAKE}.${LABELS_TABLE} WHERE label_set = ${sqlString(set)} ORDER BY study_id`,
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
