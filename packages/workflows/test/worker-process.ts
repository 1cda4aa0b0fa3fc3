// A pipeline worker in its own process, so a test can SIGKILL it the way a machine dies.
import { CPU_TASK_QUEUE, createActivities, createPipelineWorker } from '../src/index.ts';

const worker = await createPipelineWorker({ taskQueue: CPU_TASK_QUEUE, activities: createActivities() });
process.stdout.write('worker ready\n');
await worker.run();
