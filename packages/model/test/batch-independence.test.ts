import { beforeAll, describe, expect, it } from 'vitest';
import { installedBackends, selectBackend } from '../src/backend/index.ts';
import { createExpert } from '../src/experts/registry.ts';
import { syntheticRecords } from './support/records.ts';

const records = syntheticRecords(6, 11);
const configs: Record<string, Record<string, unknown>> = {
  dlinear: {},
  timesnet: { dModel: 8, dFf: 8, numKernels: 3, topK: 3 },
  'raw-leads': { length: 1000 },
};

describe.each(
  installedBackends().flatMap((backend) => Object.keys(configs).map((name) => ({ backend, name }))),
)(
  '$name features of a record do not depend on batch size or batch-mates ($backend backend)',
  { timeout: 60_000 },
  ({ backend, name }) => {
    beforeAll(async () => {
      await selectBackend(backend);
    });

    it('alone, in a batch of 6, and in a batch of 3 with other records are equal', async () => {
      const expert = await createExpert(name, { seed: 3, config: configs[name] });
      const alone = await Promise.all(records.map(async (r) => (await expert.embed([r]))[0]!));
      const together = await expert.embed(records);
      const reversed = await expert.embed([records[5]!, records[2]!, records[0]!]);
      for (let i = 0; i < records.length; i++) {
        expect(together[i]!.length).toBe(expert.embeddingSize);
        expect(Array.from(together[i]!)).toEqual(Array.from(alone[i]!));
      }
      expect(Array.from(reversed[1]!)).toEqual(Array.from(alone[2]!));
      expect(Array.from(reversed[0]!)).toEqual(Array.from(alone[5]!));
      expect(Array.from(alone[0]!)).not.toEqual(Array.from(alone[1]!));
      expert.dispose();
    });

    it('seeded random init is reproducible and recorded as such', async () => {
      if (name === 'raw-leads') return;
      const a = await createExpert(name, { seed: 3, config: configs[name] });
      const b = await createExpert(name, { seed: 3, config: configs[name] });
      const c = await createExpert(name, { seed: 4, config: configs[name] });
      expect(a.weightsId).toBe('random-init:3');
      const [ea] = await a.embed([records[0]!]);
      const [eb] = await b.embed([records[0]!]);
      const [ec] = await c.embed([records[0]!]);
      expect(Array.from(ea!)).toEqual(Array.from(eb!));
      expect(Array.from(ea!)).not.toEqual(Array.from(ec!));
      for (const e of [a, b, c]) e.dispose();
    });
  },
);
