// A separate process that commits `count` transactions to a warehouse's lake, then prints its retry count.
import { withLake } from '../../src/lake.ts';

const [warehouse, writer, count, catalog] = process.argv.slice(2) as [string, string, string, string?];
const retries = await withLake(
  { warehouse, catalog, log: (line) => process.stderr.write(`${line}\n`) },
  async (lake) => {
    await lake.transaction('create', (c) =>
      c.run('CREATE TABLE IF NOT EXISTS writes (writer INTEGER, seq INTEGER, payload VARCHAR)'),
    );
    for (let seq = 0; seq < Number(count); seq++) {
      await lake.transaction(`write ${seq}`, async (c) => {
        await c.run(`INSERT INTO writes VALUES (${Number(writer)}, ${seq}, 'first half')`);
        await c.run(`INSERT INTO writes VALUES (${Number(writer)}, ${seq}, 'second half')`);
      });
    }
    return lake.retries;
  },
);
process.stdout.write(`${JSON.stringify({ retries })}\n`);
