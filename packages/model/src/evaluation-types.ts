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

/**
 * The metric that compares two models on a task (promotion, sweeps): MAE for regression, macro AUROC for
 * classification (threshold-free, so a shifted decision threshold cannot decide).
 */
export const PRIMARY_METRIC: Record<TaskKind, { metric: 'mae' | 'auroc'; lowerIsBetter: boolean }> = {
  regression: { metric: 'mae', lowerIsBetter: true },
  binary: { metric: 'auroc', lowerIsBetter: false },
  multiclass: { metric: 'auroc', lowerIsBetter: false },
};

/**
 * What a paired comparison with another model evaluated the same way needs: the rows, named by a hash of
 * their study ids in order, and the primary metric on each bootstrap replicate (the replicates depend only
 * on the rows' subjects and the seed, so two models on equal rows and seed share them).
 */
export interface PairedSamples {
  rowsSha256: string;
  metric: string;
  seed: number;
  /** The primary metric per replicate; null where it is undefined on that replicate. */
  replicates: Array<number | null>;
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
  paired?: PairedSamples;
  /** Mean gate weight per expert over the test split. */
  gateWeightMean: Record<string, number>;
  /** Mean gate weight per expert for each true class (classification) or label quartile (regression). */
  gateWeightsByGroup: Record<string, Record<string, number>>;
}

/** What `evaluate` writes to `models/<modelId>/evaluations/<split>-<key>.json` and what reports read. */
export interface EvaluationReport {
  modelId: string;
  /** The run that computed it; later runs that evaluate the same key reuse the file as it is. */
  runId: string;
  split: 'test' | 'val';
  /**
   * Hashes what the evaluation depends on (model weights, split data, replicates, seed, code version); the
   * file's name carries it. Absent in evaluations written before evaluations were keyed.
   */
  evaluationKey?: string;
  /** Bootstrap replicates and seed of the 95% intervals. */
  replicates?: number;
  seed?: number;
  /** sha256 of the split's study ids (sorted, one per line): two evaluations with equal hashes saw the same split. */
  splitSha256?: string;
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
