/** The five tasks of the method, by their label column names. */
export const TASKS = ['rr_interval', 'age', 'gender', 'flag', 'report_label'] as const;
export type TaskKey = (typeof TASKS)[number];
export type TaskKind = 'regression' | 'binary' | 'multiclass';

/** A metric's point estimate with its bootstrap 95% interval. */
export interface MetricValue {
  value: number;
  lo: number;
  hi: number;
}

/** e.g. { mae, mse } for regression; { accuracy, precision, recall, f1, auroc } (macro) for classification. */
export type MetricSet = Record<string, MetricValue>;

/** The ensemble against the trivial baseline on the task's headline metric, on the same replicates. */
export interface BaselineComparison {
  /** `mae` for regression (lower is better), `auroc` for classification (higher is better). */
  metric: string;
  /** Ensemble minus baseline, with its paired 95% interval. */
  difference: MetricValue;
  /** `better` or `worse` when the interval excludes 0, else `inconclusive`. */
  verdict: 'better' | 'worse' | 'inconclusive';
}

/** The ensemble against its best single expert's own head on the task (chosen by the headline metric). */
export interface BestExpertComparison extends BaselineComparison {
  /** The expert whose head alone scores best on the headline metric (point estimate on this split). */
  expert: string;
}

export interface TaskEvaluation {
  kind: TaskKind;
  /** Test records with a label for this task. */
  n: number;
  ensemble: MetricSet;
  /** Each expert's own head alone, evaluated the same way. */
  experts: Record<string, MetricSet>;
  /** Mean (regression) or majority class (classification) of the training split. */
  baseline: MetricSet;
  versusBaseline: BaselineComparison;
  /**
   * Ensemble minus its best single expert, paired over the same replicates: does the mixture add
   * anything over the one head a user could deploy instead? Absent in evaluations written before it.
   */
  versusBestExpert?: BestExpertComparison;
  /** Ensemble confusion matrix, rows = true class, columns = predicted (classification only). */
  confusion?: number[][];
  /** A deterministic sample of (true, predicted) pairs for scatter plots (regression only). */
  scatter?: Array<{ y: number; yhat: number }>;
  /** Mean gate weight per expert over the test split. */
  gateWeightMean: Record<string, number>;
  /** Mean gate weight per expert for each true class (classification) or label quartile (regression). */
  gateWeightsByGroup: Record<string, Record<string, number>>;
}

/** What `evaluate` writes to `models/<modelId>/evaluation.json` and what reports read. */
export interface EvaluationReport {
  modelId: string;
  runId: string;
  split: 'test' | 'val';
  experts: string[];
  tasks: Partial<Record<TaskKey, TaskEvaluation>>;
  trainingCurve: Array<{ epoch: number; trainLoss: number; valLoss: number }>;
  trainableParameters: number;
  totalParameters: number;
  /**
   * Experts whose features came from randomly initialised weights because no checkpoint was given:
   * their features are not pretrained, so metrics near the baseline are expected.
   */
  randomInitExperts: string[];
  /** Experts that need no weights (classical measurements): neither pretrained nor random. */
  weightlessExperts?: string[];
  /** The epoch whose weights the model keeps (lowest validation loss), on `trainingCurve`'s numbering. */
  keptEpoch?: number;
  /** Training configuration preset: `faithful` (the reference's setup) or `default` (ours). */
  preset?: 'faithful' | 'default';
}
