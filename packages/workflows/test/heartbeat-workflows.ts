// Workflows of off-loop.test.ts: one feature-caching activity with a short heartbeat timeout and retries,
// so that a heartbeat missed under load would show as a timeout and a second attempt in the history.
import { proxyActivities } from '@temporalio/workflow';
import type { FeaturesInput, PipelineActivities } from '../src/activities/index.ts';

const { cacheFeatures } = proxyActivities<PipelineActivities>({
  heartbeatTimeout: '5 seconds',
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
});

export async function featuresWithShortHeartbeat(input: FeaturesInput) {
  return cacheFeatures(input);
}
