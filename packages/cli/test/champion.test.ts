import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChampionDecisionRecord, storeDecision } from '@enecg/report';
import { describe, expect, it } from 'vitest';
import { enecg } from './enecg.ts';

function decision(at: string, fields: Partial<ChampionDecisionRecord>): ChampionDecisionRecord {
  return {
    decidedAt: at,
    runId: `nightly-${at}`,
    champion: null,
    challenger: 'moe-a',
    championAfter: 'moe-a',
    promoted: true,
    verdict: 'first-champion',
    rule: 'paired-bootstrap-v1',
    confidence: 0.95,
    reason: 'no champion yet',
    split: { name: 'val', sha256: 'f'.repeat(64) },
    perTask: [],
    ...fields,
  };
}

describe('enecg champion', () => {
  it('names the champion, since when and why, and the latest decision that kept it', async () => {
    const warehouse = await mkdtemp(join(tmpdir(), 'enecg-champion-'));
    const empty = await enecg(['champion', '--warehouse', warehouse, '--json']);
    expect(JSON.parse(empty.stdout)).toMatchObject({ champion: null, decisions: 0 });
    await storeDecision(warehouse, decision('2026-12-01T02:00:00.000Z', {}));
    await storeDecision(
      warehouse,
      decision('2026-12-02T02:00:00.000Z', {
        champion: 'moe-a',
        challenger: 'moe-b',
        championAfter: 'moe-b',
        verdict: 'promote',
        reason: 'significantly better on gender, worse on none',
        perTask: [
          {
            task: 'gender',
            metric: 'auroc',
            champion: 0.61,
            challenger: 0.66,
            improvement: { value: 0.05, lo: 0.012, hi: 0.081 },
            verdict: 'better',
          },
        ],
      }),
    );
    await storeDecision(
      warehouse,
      decision('2026-12-03T02:00:00.000Z', {
        champion: 'moe-b',
        challenger: 'moe-c',
        championAfter: 'moe-b',
        promoted: false,
        verdict: 'keep',
        reason: 'significantly worse on age',
      }),
    );
    const json = JSON.parse((await enecg(['champion', '--warehouse', warehouse, '--json'])).stdout);
    expect(json).toMatchObject({
      champion: 'moe-b',
      since: '2026-12-02T02:00:00.000Z',
      why: { challenger: 'moe-b', verdict: 'promote' },
      lastDecision: { challenger: 'moe-c', verdict: 'keep' },
      decisions: 3,
    });
    const text = await enecg(['champion', '--warehouse', warehouse]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('gender auroc 0.610 -> 0.660: improvement +0.0500 [0.0120, 0.0810] better');
    expect(text.stdout).toContain('keep: challenger moe-c, significantly worse on age');
  }, 60_000);
});
