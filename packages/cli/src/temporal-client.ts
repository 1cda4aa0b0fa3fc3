import { EnvironmentError } from '@enecg/common/errors';
import type { Client } from '@temporalio/client';

/**
 * A client connected per Temporal's environment configuration; an unreachable server becomes one
 * EnvironmentError that says which address was tried and what to do, instead of a gRPC stack trace.
 */
export async function connectCliClient(): Promise<Client> {
  const { configuredAddress, connectClient } = await import('@enecg/workflows/client');
  try {
    return await connectClient();
  } catch (error) {
    const address = configuredAddress() ?? 'localhost:7233 (the default)';
    throw new EnvironmentError(
      `cannot reach a Temporal server at ${address}: ${error instanceof Error ? error.message : String(error)}`,
      'start one with `enecg server` (or `temporal server start-dev`), or point TEMPORAL_ADDRESS ' +
        '(and TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_* or TEMPORAL_PROFILE) at a running server',
    );
  }
}

/** Runs `work` with a connected client, then closes it. */
export async function withClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectCliClient();
  try {
    return await work(client);
  } finally {
    await client.connection.close();
  }
}
