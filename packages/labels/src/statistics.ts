import type { DuckDBConnection } from '@duckdb/node-api';
import { queryRows } from '@enecg/common';

export interface Missingness {
  defined: number;
  missing: number;
  /** missing / all rows, rounded to 4 decimals. */
  missingFraction: number;
}

export interface RegressionStatistics extends Missingness {
  mean: number | null;
  min: number | null;
  max: number | null;
}

export interface ClassStatistics extends Missingness {
  /** Rows per class, keyed by the class number. */
  classes: Record<string, number>;
}

export interface SplitCount {
  subjects: number;
  studies: number;
}

export interface LabelStatistics {
  studies: number;
  subjects: number;
  tasks: {
    rr_interval: RegressionStatistics;
    age: RegressionStatistics;
    gender: ClassStatistics;
    flag: ClassStatistics;
    potassium_class: ClassStatistics;
    report_label: ClassStatistics;
    /** Studies carrying each class in the multi-label variant. */
    report_labels: ClassStatistics;
  };
  /** Studies whose report label came from the free-text note (no machine statement). */
  reportFromNotes: number;
  splits: Record<'train' | 'val' | 'test', SplitCount>;
  folds: SplitCount[];
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/** Class balance and missingness of the `labels` table of a derivation session. */
export async function labelStatistics(
  connection: DuckDBConnection,
  foldCount: number,
): Promise<LabelStatistics> {
  const [totals] = await queryRows(
    connection,
    `SELECT count(*) AS studies, count(DISTINCT subject_id) AS subjects,
       count(*) FILTER (WHERE report_source = 'note') AS from_notes FROM labels`,
  );
  const studies = Number(totals!.studies);
  const missingness = (defined: number): Missingness => ({
    defined,
    missing: studies - defined,
    missingFraction: studies === 0 ? 0 : round((studies - defined) / studies, 4),
  });

  const regression = async (column: string): Promise<RegressionStatistics> => {
    const [row] = await queryRows(
      connection,
      `SELECT count(${column}) AS defined, avg(${column}) AS mean, min(${column}) AS min, max(${column}) AS max
       FROM labels`,
    );
    const number = (value: unknown) => (value === null ? null : round(Number(value), 3));
    return {
      ...missingness(Number(row!.defined)),
      mean: number(row!.mean),
      min: number(row!.min),
      max: number(row!.max),
    };
  };
  const classes = async (expression: string, from = 'labels'): Promise<Record<string, number>> => {
    const rows = await queryRows(
      connection,
      `SELECT ${expression} AS class, count(*) AS n FROM ${from} WHERE ${expression} IS NOT NULL GROUP BY 1 ORDER BY 1`,
    );
    return Object.fromEntries(rows.map((row) => [String(row.class), Number(row.n)]));
  };
  const classification = async (column: string): Promise<ClassStatistics> => {
    const counts = await classes(column);
    const defined = Object.values(counts).reduce((sum, n) => sum + n, 0);
    return { ...missingness(defined), classes: counts };
  };

  const [multiDefined] = await queryRows(connection, 'SELECT count(report_labels) AS n FROM labels');
  const splitRows = await queryRows(
    connection,
    `SELECT split, count(DISTINCT subject_id) AS subjects, count(*) AS studies FROM labels GROUP BY split`,
  );
  const foldRows = await queryRows(
    connection,
    `SELECT fold, count(DISTINCT subject_id) AS subjects, count(*) AS studies FROM labels GROUP BY fold`,
  );
  const splits = {
    train: { subjects: 0, studies: 0 },
    val: { subjects: 0, studies: 0 },
    test: { subjects: 0, studies: 0 },
  };
  for (const row of splitRows) {
    splits[row.split as keyof typeof splits] = {
      subjects: Number(row.subjects),
      studies: Number(row.studies),
    };
  }

  return {
    studies,
    subjects: Number(totals!.subjects),
    tasks: {
      rr_interval: await regression('rr_interval'),
      age: await regression('age'),
      gender: await classification('gender'),
      flag: await classification('flag'),
      potassium_class: await classification('potassium_class'),
      report_label: await classification('report_label'),
      report_labels: {
        ...missingness(Number(multiDefined!.n)),
        classes: await classes('report_class', '(SELECT unnest(report_labels) AS report_class FROM labels)'),
      },
    },
    reportFromNotes: Number(totals!.from_notes),
    splits,
    folds: Array.from({ length: foldCount }, (_, fold) => {
      const row = foldRows.find((candidate) => Number(candidate.fold) === fold);
      return { subjects: Number(row?.subjects ?? 0), studies: Number(row?.studies ?? 0) };
    }),
  };
}
