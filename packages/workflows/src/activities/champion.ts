import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { appendLineageEvent, codeVersion, warehouseLayout, writeFileAtomic } from '@enecg/common';
import type { EvaluationReport } from '@enecg/model';
import { decidePromotion, type PromotionDecision } from '../promotion.ts';

export interface ChampionRecord {
  modelId: string;
  runId: string;
  promotedAt: string;
  decision: PromotionDecision;
}

function championFile(warehouse: string): string {
  return join(warehouseLayout(warehouse).models, 'champion.json');
}

export async function readChampion(warehouse: string): Promise<ChampionRecord | null> {
  const file = championFile(warehouse);
  return existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as ChampionRecord) : null;
}

export interface PromotionInput {
  warehouse: string;
  runId: string;
  challengerEvaluation: string;
  /** The champion re-evaluated on the same (current) test split; absent when there is no champion yet. */
  championEvaluation?: string;
  minImprovement: number;
  nominalTime?: string;
}

/**
 * Applies the champion/challenger rule and, when the challenger wins, makes it the champion. Every decision,
 * promotion or not, is a lineage event with both models' metrics.
 */
export async function promoteIfBetter(
  input: PromotionInput,
): Promise<ChampionRecord & { promoted: boolean }> {
  const challenger = JSON.parse(await readFile(input.challengerEvaluation, 'utf8')) as EvaluationReport;
  const champion = input.championEvaluation
    ? (JSON.parse(await readFile(input.championEvaluation, 'utf8')) as EvaluationReport)
    : undefined;
  const decision = decidePromotion(challenger, champion, input.minImprovement);
  const record: ChampionRecord = {
    modelId: decision.promote ? challenger.modelId : (champion?.modelId ?? challenger.modelId),
    runId: input.runId,
    promotedAt: new Date().toISOString(),
    decision,
  };
  if (decision.promote)
    await writeFileAtomic(championFile(input.warehouse), `${JSON.stringify(record, null, 2)}\n`);
  await appendLineageEvent(input.warehouse, {
    eventType: 'COMPLETE',
    eventTime: new Date().toISOString(),
    run: { runId: input.runId, nominalTime: input.nominalTime },
    job: { name: 'promote' },
    inputs: [
      { name: `models/${challenger.modelId}/evaluation`, path: input.challengerEvaluation },
      ...(input.championEvaluation && champion
        ? [{ name: `models/${champion.modelId}/evaluation`, path: input.championEvaluation }]
        : []),
    ],
    outputs: decision.promote ? [{ name: 'models/champion', path: championFile(input.warehouse) }] : [],
    facets: { codeVersion: await codeVersion(), promotion: decision, champion: record.modelId },
  });
  return { ...record, promoted: decision.promote };
}
