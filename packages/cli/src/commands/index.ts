import type { Command } from 'commander';
import { registerChampionCommand } from './champion.ts';
import { registerEvaluateCommand } from './evaluate.ts';
import { registerFeaturesCommand } from './features.ts';
import { registerIngestCommand } from './ingest.ts';
import { registerLabelsCommand } from './labels.ts';
import { registerLineageCommand } from './lineage.ts';
import { registerPipelineCommands } from './pipeline.ts';
import { registerPredictCommand } from './predict.ts';
import { registerPretrainCommand } from './pretrain.ts';
import { registerReportCommand } from './report.ts';
import { registerRunCommands } from './runs.ts';
import { registerScheduleCommands } from './schedule.ts';
import { registerSetupCommands } from './setup.ts';
import { registerSqlCommand } from './sql.ts';
import { registerSweepCommand } from './sweep.ts';
import { registerSynthCommand } from './synth.ts';
import { registerTrainCommand } from './train.ts';
import { registerWarehouseCommands } from './warehouse.ts';

/** Each stage contributes one module that adds its command(s); the order here is the help order. */
const registrations: ReadonlyArray<(program: Command) => void> = [
  registerPipelineCommands,
  registerRunCommands,
  registerScheduleCommands,
  registerChampionCommand,
  registerSynthCommand,
  registerIngestCommand,
  registerLabelsCommand,
  registerPretrainCommand,
  registerFeaturesCommand,
  registerTrainCommand,
  registerEvaluateCommand,
  registerPredictCommand,
  registerReportCommand,
  registerSweepCommand,
  registerSqlCommand,
  registerLineageCommand,
  registerWarehouseCommands,
  registerSetupCommands,
];

export function registerCommands(program: Command): void {
  for (const register of registrations) register(program);
}
