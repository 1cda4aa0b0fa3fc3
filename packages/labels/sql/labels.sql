-- EnECG label rules
-- label_version: 1.0.0
--
-- Run by @enecg/labels (deriveLabels) in one DuckDB session, directly over the raw MIMIC CSV / CSV.GZ
-- files. This text is stored verbatim, with its sha256, in the lineage event of every run; changing
-- any rule means a new label_version here and in LABEL_VERSION (src/rules.ts).
--
-- Inputs are session variables set by the stage (paths and the validated LabelConfig):
--   record_list_path, machine_measurements_path, waveform_note_links_path, notes_path,
--   patients_path, labevents_path,
--   rr_missing_sentinel, rr_min_ms, rr_max_ms, age_cap,
--   potassium_itemids, potassium_window_hours, potassium_default_lower, potassium_default_upper,
--   split_seed, split_train, split_val, fold_count, label_version.
-- An optional source that is absent is read as a header-only CSV, so this text is the same either way.
--
-- Typed columns are parsed strictly: a value that does not parse is recorded in the rejects_* tables
-- (file, line, column) and the stage refuses the input, naming them.

-- Sources ---------------------------------------------------------------------------------------------

CREATE TEMP TABLE src_record_list AS
SELECT subject_id, study_id, ecg_time
FROM read_csv(getvariable('record_list_path'), header = true, delim = ',', quote = '"', escape = '"',
  auto_type_candidates = ['VARCHAR'],
  types = {'subject_id': 'BIGINT', 'study_id': 'BIGINT', 'ecg_time': 'TIMESTAMP'},
  store_rejects = true, rejects_table = 'rejects_record_list', rejects_scan = 'scans_record_list');

CREATE TEMP TABLE src_machine_measurements AS
SELECT subject_id, study_id, ecg_time, rr_interval, COLUMNS('^report_[0-9]+$')
FROM read_csv(getvariable('machine_measurements_path'), header = true, delim = ',', quote = '"',
  escape = '"', auto_type_candidates = ['VARCHAR'],
  types = {'subject_id': 'BIGINT', 'study_id': 'BIGINT', 'ecg_time': 'TIMESTAMP', 'rr_interval': 'DOUBLE'},
  store_rejects = true, rejects_table = 'rejects_machine_measurements',
  rejects_scan = 'scans_machine_measurements');

CREATE TEMP TABLE src_waveform_note_links AS
SELECT study_id, note_id
FROM read_csv(getvariable('waveform_note_links_path'), header = true, delim = ',', quote = '"',
  escape = '"', auto_type_candidates = ['VARCHAR'],
  types = {'subject_id': 'BIGINT', 'study_id': 'BIGINT', 'note_id': 'VARCHAR'},
  store_rejects = true, rejects_table = 'rejects_waveform_note_links',
  rejects_scan = 'scans_waveform_note_links');

CREATE TEMP TABLE src_notes AS
SELECT note_id, text
FROM read_csv(getvariable('notes_path'), header = true, delim = ',', quote = '"', escape = '"',
  auto_type_candidates = ['VARCHAR'], types = {'note_id': 'VARCHAR', 'text': 'VARCHAR'},
  store_rejects = true, rejects_table = 'rejects_notes', rejects_scan = 'scans_notes');

CREATE TEMP TABLE src_patients AS
SELECT subject_id, gender, anchor_age, anchor_year
FROM read_csv(getvariable('patients_path'), header = true, delim = ',', quote = '"', escape = '"',
  auto_type_candidates = ['VARCHAR'],
  types = {'subject_id': 'BIGINT', 'gender': 'VARCHAR', 'anchor_age': 'INTEGER', 'anchor_year': 'INTEGER'},
  store_rejects = true, rejects_table = 'rejects_patients', rejects_scan = 'scans_patients');

-- Potassium results: the configured itemids only (MIMIC: 50971 chemistry, 50822 blood gas).
-- `value` can be a de-identification mask such as '___' while `valuenum` holds the number: valuenum
-- is used when present, else `value` when it parses as a number. A result is usable when it has a
-- number or is flagged abnormal; one with neither says nothing about either label and is skipped.
CREATE TEMP TABLE src_potassium AS
SELECT subject_id, itemid, charttime,
  coalesce(valuenum, TRY_CAST(trim(value) AS DOUBLE)) AS potassium,
  coalesce(ref_range_lower, getvariable('potassium_default_lower')) AS reference_lower,
  coalesce(ref_range_upper, getvariable('potassium_default_upper')) AS reference_upper,
  coalesce(lower(trim(flag)) = 'abnormal', false) AS flagged_abnormal
FROM read_csv(getvariable('labevents_path'), header = true, delim = ',', quote = '"', escape = '"',
  auto_type_candidates = ['VARCHAR'],
  types = {'subject_id': 'BIGINT', 'itemid': 'BIGINT', 'charttime': 'TIMESTAMP', 'value': 'VARCHAR',
    'valuenum': 'DOUBLE', 'ref_range_lower': 'DOUBLE', 'ref_range_upper': 'DOUBLE', 'flag': 'VARCHAR'},
  store_rejects = true, rejects_table = 'rejects_labevents', rejects_scan = 'scans_labevents')
WHERE list_contains(getvariable('potassium_itemids'), itemid)
  AND charttime IS NOT NULL
  AND (coalesce(valuenum, TRY_CAST(trim(value) AS DOUBLE)) IS NOT NULL
    OR coalesce(lower(trim(flag)) = 'abnormal', false));

-- One row per ECG: record_list is the catalogue of ECGs; machine_measurements adds the report and
-- the machine's RR interval. ecg_time comes from record_list, else from machine_measurements.
CREATE TEMP TABLE ecgs AS
SELECT r.study_id, r.subject_id, coalesce(r.ecg_time, m.ecg_time) AS ecg_time, m.rr_interval
FROM src_record_list r
LEFT JOIN src_machine_measurements m ON m.study_id = r.study_id;

-- Report statements -------------------------------------------------------------------------------------

-- Normalisation: lower case, runs of white space -> one space, leading/trailing '*', '-', '.', ':' and
-- spaces removed ("*** Consider acute ST elevation MI ***" -> "consider acute st elevation mi").
CREATE TEMP MACRO normalize_statement(statement) AS
  nullif(trim(regexp_replace(lower(statement), '\s+', ' ', 'g'), ' *-.:'), '');

-- The 15 classes of the EnECG paper. A statement belongs to a class when the WHOLE normalised
-- statement matches the pattern; anything else ("borderline ECG", "left axis deviation", ...) belongs
-- to no class. report_label is the matched class with the smallest precedence:
--   1-2  statements about the whole interpretation (acute STEMI alert, data-quality warning)
--   3-13 rhythms, the more specific before the more general (AF with RVR before AF, sinus rhythm with
--        a conduction delay or ectopy before sinus arrhythmia/brady/tachy before plain sinus rhythm)
-- A report with statements of which none matches is 14 (other); a report without any statement has
-- no label (NULL). report_labels lists every matched class (ascending), or [14].
CREATE TEMP TABLE report_class_rules AS
SELECT * FROM (VALUES
  (10, 1, 'consider acute ST elevation MI ***', 'consider acute st elevation mi'),
  (11, 2, 'warning: data quality may affect interpretation',
    'warning: data quality may affect interpretation'),
  (9, 3, 'ventricular pacing', 'ventricular pac(ing|ed rhythm)'),
  (6, 4, 'atrial fibrillation with rapid ventricular response',
    'atrial fibrillation with rapid ventricular response'),
  (3, 5, 'atrial fibrillation', 'atrial fibrillation'),
  (13, 6, 'possible ectopic atrial rhythm', 'possible ectopic atrial rhythm'),
  (5, 7, 'sinus rhythm with 1st degree A-V block', 'sinus rhythm with (1st|first) degree a-?v block'),
  (4, 8, 'sinus rhythm with borderline 1st degree A-V block',
    'sinus rhythm with borderline (1st|first) degree a-?v block'),
  (12, 9, 'sinus rhythm with PVC(s)', 'sinus rhythm with pvc(\(s\)|s)?'),
  (8, 10, 'sinus rhythm with PAC(s)', 'sinus rhythm with pac(\(s\)|s)?'),
  (7, 11, 'sinus arrhythmia', 'sinus arrhythmia'),
  (2, 12, 'sinus tachycardia', 'sinus tachycardia'),
  (1, 13, 'sinus bradycardia', 'sinus bradycardia'),
  (0, 14, 'sinus rhythm', '(normal )?sinus rhythm')
) AS rules(report_class, precedence, description, pattern);

-- Statements: every report_N cell of machine_measurements (cells can be empty between filled ones) and,
-- when a note table is given, each line (or ';'-separated part) of the notes linked to the ECG.
CREATE TEMP TABLE report_statements AS
SELECT study_id, 'machine' AS source, raw_statement AS statement
FROM (UNPIVOT (SELECT study_id, COLUMNS('^report_[0-9]+$') FROM src_machine_measurements)
  ON COLUMNS('^report_[0-9]+$') INTO NAME report_column VALUE raw_statement)
UNION ALL
SELECT l.study_id, 'note' AS source, unnest(regexp_split_to_array(n.text, '[\r\n;]+')) AS statement
FROM src_waveform_note_links l JOIN src_notes n ON n.note_id = l.note_id;

-- Each distinct statement is normalised and matched once, however many ECGs carry it.
CREATE TEMP TABLE statement_classes AS
SELECT s.statement, s.normalised, r.report_class, r.precedence
FROM (SELECT statement, normalize_statement(statement) AS normalised
  FROM (SELECT DISTINCT statement FROM report_statements)) s
LEFT JOIN report_class_rules r ON regexp_full_match(s.normalised, r.pattern);

CREATE TEMP TABLE report_labels_by_source AS
SELECT s.study_id,
  s.source AS report_source,
  coalesce(arg_min(c.report_class, c.precedence), 14) AS report_label,
  coalesce(nullif(list_sort(list_distinct(list(c.report_class))), []), [14]) AS report_labels
FROM report_statements s
JOIN statement_classes c ON c.statement = s.statement
-- A statement that normalises to nothing (blank, '***') is no statement at all.
WHERE c.normalised IS NOT NULL
GROUP BY s.study_id, s.source;

-- The machine report decides; a linked note labels only an ECG whose machine report has no statement.
CREATE TEMP TABLE report_labels AS
SELECT * FROM report_labels_by_source WHERE report_source = 'machine'
UNION ALL
SELECT * FROM report_labels_by_source n
WHERE n.report_source = 'note'
  AND NOT EXISTS (SELECT 1 FROM report_labels_by_source m WHERE m.report_source = 'machine' AND m.study_id = n.study_id);

-- Potassium nearest to the ECG -----------------------------------------------------------------------

-- The result of the same subject whose charttime is nearest to ecg_time, within +- potassium_window_hours
-- (inclusive). Ties: the earlier result, then the itemid listed first in potassium_itemids, then the
-- lower value. flag: 1 when that result is flagged 'abnormal', else 0. potassium_class: 0 (hypo) below
-- the result's ref_range_lower, 2 (hyper) above ref_range_upper, else 1; the configured default range
-- stands in for a missing reference bound; NULL when the result has no number.
CREATE TEMP TABLE potassium_labels AS
SELECT e.study_id, k.potassium,
  CASE WHEN k.flagged_abnormal THEN 1 ELSE 0 END AS flag,
  CASE
    WHEN k.potassium IS NULL THEN NULL
    WHEN k.potassium < k.reference_lower THEN 0
    WHEN k.potassium > k.reference_upper THEN 2
    ELSE 1
  END AS potassium_class
FROM ecgs e
JOIN src_potassium k
  ON k.subject_id = e.subject_id
  AND k.charttime BETWEEN e.ecg_time - to_seconds(CAST(getvariable('potassium_window_hours') * 3600 AS BIGINT))
    AND e.ecg_time + to_seconds(CAST(getvariable('potassium_window_hours') * 3600 AS BIGINT))
QUALIFY row_number() OVER (
  PARTITION BY e.study_id
  ORDER BY abs(epoch(k.charttime) - epoch(e.ecg_time)), k.charttime,
    list_position(getvariable('potassium_itemids'), k.itemid), k.potassium
) = 1;

-- Subject-level splits ----------------------------------------------------------------------------------

-- A subject's position in [0, 1): the first 32 bits of md5('<purpose>:<seed>:<subject_id>') / 2^32.
-- It depends on nothing but the seed and the subject, so a subject never changes split or fold when
-- other subjects are added (nightly runs), and every ECG of a subject shares its split and fold.
CREATE TEMP MACRO subject_position(purpose, subject_id) AS
  CAST(('0x' || left(md5(purpose || ':' || getvariable('split_seed') || ':' || CAST(subject_id AS VARCHAR)), 8))
    AS UBIGINT) / 4294967296.0;

CREATE TEMP TABLE subject_splits AS
SELECT subject_id,
  CASE
    WHEN subject_position('split', subject_id) < getvariable('split_train') THEN 'train'
    WHEN subject_position('split', subject_id) < getvariable('split_train') + getvariable('split_val') THEN 'val'
    ELSE 'test'
  END AS split,
  CAST(floor(subject_position('fold', subject_id) * getvariable('fold_count')) AS INTEGER) AS fold
FROM (SELECT DISTINCT subject_id FROM ecgs);

-- The label table -----------------------------------------------------------------------------------------

-- rr_interval: the sentinel (29999) and values outside [rr_min_ms, rr_max_ms] are missing.
-- age: anchor_age + (year(ecg_time) - anchor_year), capped at age_cap (MIMIC reports every age above
-- 89 as 91). gender: 0 for M, 1 for F, else missing.
CREATE TEMP TABLE labels AS
SELECT
  e.study_id,
  e.subject_id,
  CASE
    WHEN e.rr_interval = getvariable('rr_missing_sentinel') THEN NULL
    WHEN e.rr_interval < getvariable('rr_min_ms') OR e.rr_interval > getvariable('rr_max_ms') THEN NULL
    ELSE e.rr_interval
  END AS rr_interval,
  -- (least() would skip a NULL age and return the cap)
  CAST(CASE
    WHEN p.anchor_age + (year(e.ecg_time) - p.anchor_year) > getvariable('age_cap') THEN getvariable('age_cap')
    ELSE p.anchor_age + (year(e.ecg_time) - p.anchor_year)
  END AS INTEGER) AS age,
  CAST(CASE upper(trim(p.gender)) WHEN 'M' THEN 0 WHEN 'F' THEN 1 END AS INTEGER) AS gender,
  CAST(k.flag AS INTEGER) AS flag,
  CAST(k.potassium_class AS INTEGER) AS potassium_class,
  k.potassium,
  CAST(r.report_label AS INTEGER) AS report_label,
  CAST(r.report_labels AS INTEGER[]) AS report_labels,
  r.report_source,
  s.split,
  s.fold,
  getvariable('label_version') AS label_version
FROM ecgs e
LEFT JOIN src_patients p ON p.subject_id = e.subject_id
LEFT JOIN potassium_labels k ON k.study_id = e.study_id
LEFT JOIN report_labels r ON r.study_id = e.study_id
JOIN subject_splits s ON s.subject_id = e.subject_id
ORDER BY e.study_id;
