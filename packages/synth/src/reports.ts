import {
  CLASS_STATEMENTS,
  DATA_QUALITY_CLASS,
  OTHER_CLASS,
  OTHER_RHYTHMS,
  ST_ELEVATION_CLASS,
} from './classes.ts';
import type { EcgFindings, EcgMeasurements, EcgPlan, StTerritory } from './physiology.ts';
import type { Rng } from './random.ts';

/** machine_measurements.csv has report_0 .. report_17. */
export const REPORT_COLUMNS = 18;

const INJURY_STATEMENTS: Record<StTerritory, string> = {
  anterior: 'Anterior ST elevation, consider acute injury',
  inferior: 'Inferior ST elevation, consider acute injury',
  lateral: 'Lateral ST elevation, consider acute injury',
};

/** Classes whose rhythm alone makes a report borderline rather than abnormal. */
const BORDERLINE_RHYTHMS = new Set([1, 2, 4, 7, 13]);

/** Statements a cart adds now and then that this generator does not model in the signal. */
const INCIDENTAL_STATEMENTS = [
  'Possible right atrial abnormality',
  'Poor R wave progression - probable normal variant',
  'Nonspecific ST abnormality',
  'Septal infarct - age undetermined',
  'Incomplete right bundle branch block',
];

/**
 * The cart's statements for one ECG, in order. The rhythm statement comes first; the ST elevation
 * and data quality statements follow the findings (their rhythm is sinus). A rule recovers the class
 * exactly: the data quality warning wins, then the ST elevation statement, then the first statement
 * that equals a class statement of CLASS_STATEMENTS; anything else is class 14.
 */
export function reportStatements(
  rng: Rng,
  plan: EcgPlan,
  findings: EcgFindings,
  measurements: EcgMeasurements,
): string[] {
  const cls = plan.arrhythmiaClass;
  const rhythm =
    cls === OTHER_CLASS
      ? OTHER_RHYTHMS[plan.otherRhythm ?? 'junctional']
      : cls === ST_ELEVATION_CLASS || cls === DATA_QUALITY_CLASS
        ? CLASS_STATEMENTS[0]!
        : CLASS_STATEMENTS[cls]!;
  const statements = [rhythm];
  const findingsStatements: string[] = [];
  if (!findings.paced) {
    if (measurements.qrsAxisDeg < -30 && measurements.qrsAxisDeg > -90)
      findingsStatements.push('Left axis deviation');
    else if (measurements.qrsAxisDeg > 100 && measurements.qrsAxisDeg <= 180)
      findingsStatements.push('Right axis deviation');
    if (findings.lowVoltageLimb) findingsStatements.push('Low QRS voltages in limb leads');
    if (findings.lowVoltagePrecordial) findingsStatements.push('Low QRS voltages in precordial leads');
    if (findings.highVoltage) findingsStatements.push('Left ventricular hypertrophy');
    if (findings.stTerritory) findingsStatements.push(INJURY_STATEMENTS[findings.stTerritory]);
    else if (findings.flatT) findingsStatements.push('Nonspecific T wave abnormality');
    if (findings.qtcMs > (plan.traits.female ? 470 : 460)) findingsStatements.push('Prolonged QT interval');
    for (const incidental of INCIDENTAL_STATEMENTS)
      if (rng.chance(0.025)) findingsStatements.push(incidental);
  }
  statements.push(...findingsStatements);
  if (cls === ST_ELEVATION_CLASS) statements.push(CLASS_STATEMENTS[ST_ELEVATION_CLASS]!);
  if (cls === DATA_QUALITY_CLASS) statements.push(CLASS_STATEMENTS[DATA_QUALITY_CLASS]!);

  const plainSinus = cls === 0 && findingsStatements.length === 0;
  if (plainSinus) statements.push('Normal ECG');
  else if (BORDERLINE_RHYTHMS.has(cls) && findingsStatements.length === 0)
    statements.push(rng.chance(0.5) ? 'Otherwise normal ECG' : 'Borderline ECG');
  else if ((cls === 0 || BORDERLINE_RHYTHMS.has(cls)) && !findings.highVoltage && !findings.stTerritory)
    statements.push('Borderline ECG');
  else statements.push('Abnormal ECG');
  return statements;
}

/** Spreads statements over the report columns, leaving an empty cell between two now and then. */
export function layoutReport(rng: Rng, statements: readonly string[]): string[] {
  const cells: string[] = [];
  for (let i = 0; i < statements.length; i++) {
    const remaining = statements.length - i;
    if (i > 0 && cells.length + remaining < REPORT_COLUMNS && rng.chance(0.15)) cells.push('');
    cells.push(statements[i]!);
  }
  while (cells.length < REPORT_COLUMNS) cells.push('');
  return cells.slice(0, REPORT_COLUMNS);
}
