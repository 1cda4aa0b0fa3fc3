// Runs one pretraining in its own process, so that a test can kill it (SIGKILL) mid-run.
import { pretrainExpert } from '../../src/pretrain/index.ts';

await pretrainExpert(JSON.parse(process.argv[2]!));
