import { sqlString } from '@enecg/common';
import type { Catalog } from './catalog.ts';

/** Label columns by kind, as in the labels row contract. */
export const CLASS_LABELS = ['gender', 'flag', 'potassium_class', 'report_label'] as const;
export const NUMERIC_LABELS = ['rr_interval', 'age'] as const;

export interface LabelStatistic {
  label: string;
  labelled: number;
  missing: number;
  /** Regression labels only. */
  mean?: number;
  sd?: number;
  /** Classification labels only. */
  classes?: number;
}

export interface DataStatistics {
  /** Views whose files could not be read, with DuckDB's reason. */
  unavailable: Array<{ view: string; reason: string }>;
  records: number | null;
  quarantined: number | null;
  quarantineReasons: Array<{ reason: string; count: number }>;
  labelVersion: string | null;
  splits: Array<{ split: string; studies: number; subjects: number }>;
  labels: LabelStatistic[];
  classCounts: Record<string, Array<{ category: string; group: string; count: number }>>;
  histograms: Record<string, Array<{ start: number; end: number; count: number }>>;
}

const HISTOGRAM_BINS = 30;

async function columnsOf(catalog: Catalog, view: string): Promise<Set<string>> {
  if (!catalog.views.includes(view)) return new Set();
  const rows = await catalog.query(
    `SELECT column_name FROM duckdb_columns() WHERE table_name = ${sqlString(view)} ORDER BY column_index`,
  );
  return new Set(rows.map((row) => String(row.column_name)));
}

/**
 * Record, quarantine and label statistics from the catalog views. Counts and bins are computed in DuckDB,
 * so the report never holds per-record data.
 */
export async function dataStatistics(catalog: Catalog, labelVersion: string | null): Promise<DataStatistics> {
  const stats: DataStatistics = {
    unavailable: catalog.unavailable,
    records: null,
    quarantined: null,
    quarantineReasons: [],
    labelVersion,
    splits: [],
    labels: [],
    classCounts: {},
    histograms: {},
  };
  if (catalog.views.includes('records')) {
    stats.records = Number((await catalog.query('SELECT count(*) AS n FROM records'))[0]!.n);
  }
  const quarantineColumns = await columnsOf(catalog, 'quarantine');
  if (quarantineColumns.size > 0) {
    stats.quarantined = Number((await catalog.query('SELECT count(*) AS n FROM quarantine'))[0]!.n);
    if (quarantineColumns.has('reason')) {
      const rows = await catalog.query(
        'SELECT reason, count(*) AS n FROM quarantine GROUP BY reason ORDER BY n DESC, reason LIMIT 20',
      );
      stats.quarantineReasons = rows.map((row) => ({ reason: String(row.reason), count: Number(row.n) }));
    }
  }
  const labelColumns = await columnsOf(catalog, 'labels');
  if (labelColumns.size === 0) return stats;
  const where =
    labelVersion !== null && labelColumns.has('label_version')
      ? `WHERE label_version = ${sqlString(labelVersion)}`
      : '';
  if (labelColumns.has('split')) {
    const subjects = labelColumns.has('subject_id') ? 'count(DISTINCT subject_id)' : 'NULL';
    const rows = await catalog.query(
      `SELECT split, count(*) AS studies, ${subjects} AS subjects FROM labels ${where} GROUP BY split ORDER BY split`,
    );
    stats.splits = rows.map((row) => ({
      split: String(row.split),
      studies: Number(row.studies),
      subjects: Number(row.subjects),
    }));
  }
  const group = labelColumns.has('split') ? 'split' : "'all'";
  for (const label of CLASS_LABELS) {
    if (!labelColumns.has(label)) continue;
    const [summary] = await catalog.query(
      `SELECT count(${label}) AS labelled, count(*) - count(${label}) AS missing,
              count(DISTINCT ${label}) AS classes FROM labels ${where}`,
    );
    stats.labels.push({
      label,
      labelled: Number(summary!.labelled),
      missing: Number(summary!.missing),
      classes: Number(summary!.classes),
    });
    const rows = await catalog.query(
      `SELECT ${label} AS code, ${group} AS grp, count(*) AS n FROM labels ${where}
        ${where ? 'AND' : 'WHERE'} ${label} IS NOT NULL GROUP BY ALL ORDER BY code, grp`,
    );
    stats.classCounts[label] = rows.map((row) => ({
      category: String(row.code),
      group: String(row.grp),
      count: Number(row.n),
    }));
  }
  for (const label of NUMERIC_LABELS) {
    if (!labelColumns.has(label)) continue;
    const [summary] = await catalog.query(
      `SELECT count(${label}) AS labelled, count(*) - count(${label}) AS missing,
              avg(${label}) AS mean, stddev_samp(${label}) AS sd FROM labels ${where}`,
    );
    stats.labels.push({
      label,
      labelled: Number(summary!.labelled),
      missing: Number(summary!.missing),
      mean: Number(summary!.mean),
      sd: Number(summary!.sd),
    });
    const rows = await catalog.query(
      `WITH v AS (SELECT CAST(${label} AS DOUBLE) AS x FROM labels ${where} ${where ? 'AND' : 'WHERE'} ${label} IS NOT NULL),
            r AS (SELECT min(x) AS lo, greatest(max(x) - min(x), 1e-9) / ${HISTOGRAM_BINS} AS width FROM v)
       SELECT least(floor((x - lo) / width), ${HISTOGRAM_BINS - 1}) AS bin, any_value(lo) AS lo,
              any_value(width) AS width, count(*) AS n
         FROM v, r GROUP BY bin ORDER BY bin`,
    );
    stats.histograms[label] = rows.map((row) => {
      const start = Number(row.lo) + Number(row.bin) * Number(row.width);
      return { start, end: start + Number(row.width), count: Number(row.n) };
    });
  }
  return stats;
}
