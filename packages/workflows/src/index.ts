export type { DevServerOptions, TemporalServer } from './dev-server.ts';
export { assertReachable, connectOrStartServer, startDevServer } from './dev-server.ts';
export { ensureTemporalCli } from './temporal-cli.ts';
