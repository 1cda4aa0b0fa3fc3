import { ConfigError } from '@enecg/common';
import { dlinearExpert } from './dlinear/index.ts';
import { ecgfmExpert } from './ecgfm/index.ts';
import { measurementsExpert } from './measurements/index.ts';
import { momentExpert } from './moment/index.ts';
import { rawLeadsExpert } from './raw-leads/index.ts';
import { tempoExpert } from './tempo/index.ts';
import { timesnetExpert } from './timesnet/index.ts';
import type { Expert, ExpertFactory, ExpertOptions } from './types.ts';

/** Every expert the pipeline knows. Adding one: its folder under experts/, plus one entry here. */
const FACTORIES: readonly ExpertFactory[] = [
  momentExpert,
  tempoExpert,
  ecgfmExpert,
  dlinearExpert,
  timesnetExpert,
  measurementsExpert,
  rawLeadsExpert,
];

export function expertFactories(): readonly ExpertFactory[] {
  return FACTORIES;
}

export function expertNames(): string[] {
  return FACTORIES.map((f) => f.name);
}

export function getExpertFactory(name: string): ExpertFactory {
  const factory = FACTORIES.find((f) => f.name === name);
  if (!factory)
    throw new ConfigError(
      `unknown expert ${JSON.stringify(name)} (known: ${expertNames().join(', ')})`,
      'expert',
    );
  return factory;
}

/**
 * Checks an expert's `config` as its factory would resolve it, loading no weights and building no
 * tensors: cheap enough to run on a whole pipeline config before any work starts. Throws ConfigError
 * naming `<expert>.<key>` (or `expert` for an unknown name).
 */
export function validateExpertConfig(name: string, config: Record<string, unknown> | undefined): void {
  getExpertFactory(name).validateConfig(config);
}

export async function createExpert(name: string, options: ExpertOptions): Promise<Expert> {
  return getExpertFactory(name).create(options);
}
