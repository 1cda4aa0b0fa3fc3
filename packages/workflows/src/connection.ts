import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';

/** Where workers and clients connect, resolved from Temporal's own env vars and config profiles. */
export interface TemporalTarget {
  connectionOptions: NativeConnectionOptions;
  namespace: string;
}

/**
 * Temporal's environment configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS_*, TEMPORAL_PROFILE and the config file) decides, so the same worker and CLI join a
 * production cluster or Temporal Cloud unchanged. `address` overrides the configured one (the local
 * dev server this process started).
 */
export function resolveTemporalTarget(address?: string): TemporalTarget {
  const configured = loadClientConnectConfig();
  const connectionOptions = { ...configured.connectionOptions };
  if (address !== undefined) connectionOptions.address = address;
  return { connectionOptions, namespace: configured.namespace ?? 'default' };
}

/** The address Temporal's configuration names, if any; absent means "start a local dev server". */
export function configuredAddress(): string | undefined {
  return loadClientConnectConfig().connectionOptions.address;
}
