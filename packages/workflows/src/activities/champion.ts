import { readFile } from 'node:fs/promises';
import { appendLineageEvent, appendStartEvent, type LineageHead, lineageEventHead } from '@enecg/common';
import type { EvaluationReport } from '@enecg/model';
import { type ChampionDecisionRecord, championStatus, storeDecision } from '@enecg/report';
import { decidePromotion } from '../promotion.ts';

/** The model nightly retraining serves now (the latest decision's outcome), or null before the first one. */
export async function readChampion(
  warehouse: string,
): Promise<{ modelId: string; since: string | null } | null> {
  const status = await championStatus(warehouse);
  return status.champion === null ? null : { modelId: status.champion, since: status.since };
}

export interface PromotionInput {
  warehouse: string;
  runId: string;
  /** The challenger's evaluation on the validation split. */
  challengerEvaluation: string;
  /** The champion's on the same validation split; absent when there is no champion yet. */
  championEvaluation?: string;
  /** Of the paired bootstrap intervals the rule compares (promotion.confidence). */
  confidence: number;
  nominalTime?: string;
}

async function readEvaluation(path: string): Promise<EvaluationReport> {
  return JSON.parse(await readFile(path, 'utf8')) as EvaluationReport;
}

/**
 * Applies the versioned champion/challenger rule and stores the decision, promotion or not, as a new file
 * named by a lineage event; the champion is always the latest decision's outcome, so nothing is rewritten.
 */
export async function promoteIfBetter(
  input: PromotionInput,
): Promise<ChampionDecisionRecord & { decisionFile: string; lineageHead: LineageHead }> {
  await appendStartEvent(input.warehouse, { runId: input.runId, nominalTime: input.nominalTime }, 'promote');
  const challenger = await readEvaluation(input.challengerEvaluation);
  const champion = input.championEvaluation ? await readEvaluation(input.championEvaluation) : undefined;
  const decision = decidePromotion(challenger, champion, input.confidence);
  const record: ChampionDecisionRecord = {
    decidedAt: new Date().toISOString(),
    runId: input.runId,
    ...(input.nominalTime === undefined ? {} : { nominalTime: input.nominalTime }),
    champion: champion?.modelId ?? null,
    challenger: challenger.modelId,
    championAfter: decision.promote ? challenger.modelId : (champion?.modelId ?? null),
    promoted: decision.promote,
    verdict: decision.verdict,
    rule: decision.rule,
    confidence: decision.confidence,
    reason: decision.reason,
    split: decision.split,
    perTask: decision.perTask.map(({ task, metric, champion, challenger, improvement, verdict }) => ({
      task,
      metric,
      champion,
      challenger,
      improvement,
      verdict,
    })),
  };
  const decisionFile = await storeDecision(input.warehouse, record);
  const event = await appendLineageEvent(input.warehouse, {
    eventType: 'COMPLETE',
    eventTime: new Date().toISOString(),
    run: { runId: input.runId, nominalTime: input.nominalTime },
    job: { name: 'promote' },
    inputs: [
      { name: `models/${challenger.modelId}/evaluations/val`, path: input.challengerEvaluation },
      ...(input.championEvaluation && champion
        ? [{ name: `models/${champion.modelId}/evaluations/val`, path: input.championEvaluation }]
        : []),
    ],
    outputs: [{ name: 'promotion/decision', path: decisionFile }],
    facets: { promotion: { rule: record.rule, verdict: record.verdict, champion: record.championAfter } },
  });
  return { ...record, decisionFile, lineageHead: await lineageEventHead(event) };
}
