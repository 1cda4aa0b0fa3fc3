import { ARRHYTHMIA_CLASS_NAMES } from './arrhythmia.ts';

/**
 * How people read each task's values: the unit of a regression target, the names of a classification
 * task's class codes (the codes are fixed by the labels package's contract, docs/architecture.md).
 */
export const TASK_DISPLAY: Readonly<
  Record<string, { title: string; unit?: string; classes?: readonly string[] }>
> = {
  rr_interval: { title: 'RR interval', unit: 'ms' },
  age: { title: 'age', unit: 'years' },
  gender: { title: 'sex', classes: ['male', 'female'] },
  flag: { title: 'potassium', classes: ['normal', 'abnormal'] },
  report_label: { title: 'rhythm', classes: ARRHYTHMIA_CLASS_NAMES },
};
