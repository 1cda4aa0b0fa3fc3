import type { Command } from 'commander';

/**
 * One real example per command, shown at the end of `enecg <command> --help`, and a one-line summary for
 * the command list of `enecg --help` (the full description stays on the command's own help). Paths are
 * those `npm run demo` creates, so every example works after it.
 */
const HELP: Record<string, { summary?: string; examples: string[] }> = {
  run: {
    summary: 'run the whole pipeline from a YAML configuration as one Temporal workflow',
    examples: [
      'enecg run --config configs/pipeline.example.yaml --local',
      'enecg run --config configs/pipeline.example.yaml --no-wait --json   # with `enecg worker` running',
    ],
  },
  worker: {
    summary: 'execute pipeline workflows and activities for `enecg run` and schedules',
    examples: ['TEMPORAL_ADDRESS=127.0.0.1:7233 enecg worker --queue cpu --concurrency 2'],
  },
  demo: {
    summary: 'synthetic data -> the whole pipeline -> where the report is (no setup needed)',
    examples: ['enecg demo', 'enecg demo --subjects 40 --dir .work/small-demo --json'],
  },
  status: {
    summary: 'show one run (stage in progress, heartbeats) or list recent runs',
    examples: ['enecg status', 'enecg status run-20261125T150700Z-1a2b3c4d --json'],
  },
  cancel: {
    summary: 'cancel a run; finished parts are kept',
    examples: ['enecg cancel run-20261125T150700Z-1a2b3c4d'],
  },
  schedule: {
    summary: 'nightly incremental retraining with champion/challenger promotion',
    examples: [
      'enecg schedule create nightly --config configs/pipeline.example.yaml --cron "0 2 * * *"',
      'enecg schedule list --json',
    ],
  },
  'schedule create': {
    examples: [
      'enecg schedule create nightly --config configs/pipeline.example.yaml --time-zone Europe/Paris',
    ],
  },
  'schedule update': {
    examples: ['enecg schedule update nightly --config configs/pipeline.example.yaml --cron "30 1 * * *"'],
  },
  'schedule list': { examples: ['enecg schedule list --json'] },
  'schedule pause': { examples: ['enecg schedule pause nightly'] },
  'schedule resume': { examples: ['enecg schedule resume nightly'] },
  'schedule trigger': { examples: ['enecg schedule trigger nightly'] },
  'schedule delete': { examples: ['enecg schedule delete nightly'] },
  champion: {
    summary: 'the model nightly retraining serves, since when and why (each decision with its evidence)',
    examples: ['enecg champion --warehouse .work/demo/warehouse --json'],
  },
  synth: {
    summary: 'generate a synthetic MIMIC-IV-ECG + hosp dataset with ground truth',
    examples: ['enecg synth --subjects 12 --out .work/synthetic-12 --seed 7'],
  },
  ingest: {
    summary: 'WFDB records -> Parquet warehouse (incremental; bad records quarantined)',
    examples: [
      'enecg ingest --source .work/demo/synthetic-120 --warehouse .work/wh',
      'enecg ingest --source .work/demo/synthetic-120 --warehouse .work/wh --shard 0/2 --json',
    ],
  },
  show: {
    summary: 'print one stored record (header facts and millivolts per lead)',
    examples: ['enecg show --warehouse .work/demo/warehouse --study-id 49606811 | head'],
  },
  labels: {
    summary: 'derive the five task labels and subject-level splits',
    examples: [
      'enecg labels --source .work/demo/synthetic-120 --hosp .work/demo/synthetic-120/hosp --warehouse .work/wh',
    ],
  },
  pretrain: {
    summary: "self-supervised pretraining of an expert on the warehouse's unlabelled training ECGs",
    examples: [
      'enecg pretrain --warehouse .work/demo/warehouse --expert dlinear --steps 20',
      'enecg pretrain --warehouse .work/demo/warehouse --expert moment --config pretrain.json --weights moment-small.safetensors --json',
    ],
  },
  features: {
    summary: 'run a frozen expert over the warehouse and cache its embeddings (resumable)',
    examples: [
      'enecg features --warehouse .work/demo/warehouse --expert dlinear',
      `enecg features --warehouse .work/demo/warehouse --expert timesnet --config '{"dModel":32}' --json`,
    ],
  },
  train: {
    summary: 'train LoRA heads and the Mixture-of-Experts gate on cached features',
    examples: ['enecg train --warehouse .work/demo/warehouse --experts dlinear,timesnet --seed 42 --json'],
  },
  evaluate: {
    summary: 'metrics with bootstrap intervals for a trained model',
    examples: [
      'enecg evaluate --warehouse .work/demo/warehouse --model moe-452bd5d2d850d892 --replicates 200',
    ],
  },
  predict: {
    summary: 'predict the five tasks for one WFDB record with a trained model',
    examples: [
      'enecg predict --model .work/demo/warehouse/models/moe-452bd5d2d850d892 ' +
        '.work/demo/synthetic-120/files/p1003/p10035526/s49606811/49606811.hea',
    ],
  },
  report: {
    summary: 'render a run report (HTML with plots, and Markdown)',
    examples: ['enecg report run-20261125T150700Z-1a2b3c4d --warehouse .work/demo/warehouse'],
  },
  sweep: {
    summary:
      'search LoRA, gate, lead and learning-rate settings; trials as child workflows, chosen on validation',
    examples: ['enecg sweep --config configs/sweep.example.yaml --local'],
  },
  sql: {
    summary: 'one read-only SELECT over the warehouse views (DuckDB)',
    examples: [
      'enecg sql --warehouse .work/demo/warehouse "SELECT run_id, job, status FROM runs"',
      'enecg sql --warehouse .work/demo/warehouse --timeout 10 --memory-limit 512MB "SELECT count(*) FROM records"',
    ],
  },
  lineage: {
    summary: 'which data, rules, code and runs produced a model, and where a record went',
    examples: ['enecg lineage verify --warehouse .work/demo/warehouse'],
  },
  'lineage upstream': {
    examples: ['enecg lineage upstream --model moe-452bd5d2d850d892 --warehouse .work/demo/warehouse'],
  },
  'lineage downstream': {
    examples: ['enecg lineage downstream --study-id 49606811 --warehouse .work/demo/warehouse --json'],
  },
  'lineage diff': { examples: ['enecg lineage diff run-A run-B --warehouse .work/demo/warehouse'] },
  'lineage verify': { examples: ['enecg lineage verify --warehouse .work/demo/warehouse'] },
  warehouse: {
    summary: 'maintain the warehouse (a DuckLake: SQLite or PostgreSQL catalog + Parquet data files)',
    examples: ['enecg warehouse migrate --warehouse old-warehouse'],
  },
  'warehouse migrate': { examples: ['enecg warehouse migrate --warehouse old-warehouse --json'] },
  setup: {
    summary: 'install the pinned Temporal CLI into .tools/',
    examples: ['enecg setup --json'],
  },
  server: {
    summary: 'a local Temporal dev server in the foreground',
    examples: ['enecg server --port 7233   # then: export TEMPORAL_ADDRESS=127.0.0.1:7233'],
  },
};

const lazyHelp = new WeakMap<Command, () => Promise<string>>();

/**
 * Help text that needs a stage package to write (e.g. the list of experts): loaded just before that
 * command parses its arguments, so `enecg --help` and every other command start without the package.
 */
export function describeLazily(command: Command, text: () => Promise<string>): void {
  lazyHelp.set(command, text);
}

/** Installs the loading of lazy help texts; parseAsync awaits the hook before the subcommand's help. */
export function loadLazyHelp(program: Command): void {
  program.hook('preSubcommand', async (_program, subcommand) => {
    const text = lazyHelp.get(subcommand);
    if (text) subcommand.addHelpText('after', await text());
  });
}

/** Adds summaries and examples to every registered command that has them. */
export function addExamples(program: Command): void {
  const visit = (command: Command, path: string) => {
    const help = HELP[path];
    if (help?.summary) command.summary(help.summary);
    if (help) {
      const lines = help.examples.map((example) => `  $ ${example}`).join('\n');
      command.addHelpText('after', `\nExample${help.examples.length > 1 ? 's' : ''}:\n${lines}\n`);
    }
    for (const sub of command.commands) visit(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  visit(program, '');
}
