import type { TestProject } from 'vitest/node';
import { connectOrStartServer, type TemporalServer } from '../src/index.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

let server: TemporalServer | undefined;

/** One real Temporal server for the whole test run: TEMPORAL_ADDRESS's, or a local dev server. */
export async function setup(project: TestProject): Promise<void> {
  server = await connectOrStartServer({ dbFile: ':memory:', headless: true });
  project.provide('temporalAddress', server.address);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
