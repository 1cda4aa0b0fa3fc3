// Runs one pretraining in its own process, so that a test can kill it (SIGKILL) mid-run or run two at
// once; prints its summary.
import { pretrainExpert } from '../../src/pretrain/index.ts';

process.stdout.write(JSON.stringify(await pretrainExpert(JSON.parse(process.argv[2]!))));
