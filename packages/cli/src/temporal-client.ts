import { connectClient } from '@enecg/workflows';
import type { Client } from '@temporalio/client';

/** Runs `work` with a client connected per Temporal's environment configuration, then closes it. */
export async function withClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectClient();
  try {
    return await work(client);
  } finally {
    await client.connection.close();
  }
}
