import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, writeFileAtomic } from '@enecg/common';

/**
 * One champion/challenger decision as stored: one immutable JSON file per decision under
 * `<warehouse>/promotion/decisions/`, named by its time and run, read by the `champion_decisions` view,
 * `enecg champion`, `enecg status` and the nightly run's report.
 */
export interface ChampionDecisionRecord {
  decidedAt: string;
  runId: string;
  nominalTime?: string;
  /** The champion before the decision (null when there was none). */
  champion: string | null;
  challenger: string;
  /** The champion after the decision (null while no model has been promoted). */
  championAfter: string | null;
  promoted: boolean;
  verdict: string;
  /** The versioned rule that decided (see PROMOTION_RULE in @enecg/workflows). */
  rule: string;
  /** Of the paired bootstrap intervals in `perTask`. */
  confidence: number;
  reason: string;
  split: { name: string; sha256: string | null };
  perTask: Array<{
    task: string;
    metric: string;
    champion: number;
    challenger: number;
    /** Challenger's improvement (positive = better) with its paired interval at `confidence`. */
    improvement: { value: number; lo: number; hi: number };
    verdict: string;
  }>;
}

export function decisionsFolder(warehouse: string): string {
  return join(warehouse, 'promotion', 'decisions');
}

/** Stores a decision as a new file and returns its path; nothing earlier is rewritten. */
export async function storeDecision(warehouse: string, decision: ChampionDecisionRecord): Promise<string> {
  const stamp = decision.decidedAt.replaceAll(':', '-');
  const file = join(decisionsFolder(warehouse), `${stamp}_${decision.runId}.json`);
  await writeFileAtomic(file, `${JSON.stringify(decision, null, 2)}\n`);
  return file;
}

/** Every stored decision, oldest first. */
export async function readDecisions(warehouse: string): Promise<ChampionDecisionRecord[]> {
  const folder = decisionsFolder(warehouse);
  let names: string[];
  try {
    names = (await readdir(folder)).filter((name) => name.endsWith('.json')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const decisions = await Promise.all(
    names.map(async (name) => {
      const file = join(folder, name);
      try {
        return JSON.parse(await readFile(file, 'utf8')) as ChampionDecisionRecord;
      } catch (error) {
        throw new InputError(`not valid JSON (${(error as Error).message})`, { file });
      }
    }),
  );
  return decisions.sort((a, b) => a.decidedAt.localeCompare(b.decidedAt));
}

export interface ChampionStatus {
  /** The model nightly retraining serves now, or null before the first decision. */
  champion: string | null;
  /** When it became champion, and the decision that made it so. */
  since: string | null;
  why: ChampionDecisionRecord | null;
  /** The latest decision, which may have kept the champion. */
  lastDecision: ChampionDecisionRecord | null;
  decisions: number;
}

export async function championStatus(warehouse: string): Promise<ChampionStatus> {
  const decisions = await readDecisions(warehouse);
  const lastDecision = decisions.at(-1) ?? null;
  const champion = lastDecision?.championAfter ?? null;
  // The decision that made the current champion: its first promotion since it last lost the title.
  let why: ChampionDecisionRecord | null = null;
  for (const decision of decisions) {
    if (decision.championAfter !== champion) why = null;
    else if (decision.promoted && why === null) why = decision;
  }
  return { champion, since: why?.decidedAt ?? null, why, lastDecision, decisions: decisions.length };
}

/** One line per task: `gender auroc +0.031 [0.004, 0.058] better`. */
export function formatTaskComparison(task: ChampionDecisionRecord['perTask'][number]): string {
  const number = (value: number) => (Number.isFinite(value) ? value.toPrecision(3) : String(value));
  const signed = (value: number) => (value > 0 ? `+${number(value)}` : number(value));
  return `${task.task} ${task.metric} ${number(task.champion)} -> ${number(task.challenger)}: improvement ${signed(task.improvement.value)} [${number(task.improvement.lo)}, ${number(task.improvement.hi)}] ${task.verdict}`;
}
