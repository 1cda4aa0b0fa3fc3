import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError } from '@enecg/common/errors';

export interface ModelLocation {
  modelId: string;
  modelDir: string;
}

/**
 * `--model` as users give it: the id `enecg train` printed (looked up under <warehouse>/models) or the
 * model's folder. A wrong one is refused with the models the warehouse does have.
 */
export function resolveModelArgument(model: string, warehouse: string | undefined): ModelLocation {
  if (existsSync(join(model, 'model.json'))) {
    const modelDir = resolve(model);
    if (warehouse !== undefined && dirname(modelDir) !== resolve(warehouse, 'models')) {
      throw new ConfigError(`the model folder ${model} is not in ${join(warehouse, 'models')}`, '--model');
    }
    return { modelId: basename(modelDir), modelDir };
  }
  if (model.includes('/') || model.includes('\\')) {
    throw new ConfigError(`no model.json in ${model}: give a model folder or a model id`, '--model');
  }
  if (warehouse === undefined) {
    throw new ConfigError(
      `'${model}' is a model id: give --warehouse DIR too, or the model folder (<warehouse>/models/${model})`,
      '--model',
    );
  }
  const models = join(warehouse, 'models');
  const modelDir = join(models, model);
  if (!existsSync(join(modelDir, 'model.json'))) {
    const known = existsSync(models) ? readdirSync(models).filter((name) => name.startsWith('moe-')) : [];
    throw new ConfigError(
      `no model ${model} in ${models}` +
        (known.length > 0 ? ` (models there: ${known.join(', ')})` : ' (train one with `enecg train`)'),
      '--model',
    );
  }
  return { modelId: model, modelDir: resolve(modelDir) };
}
