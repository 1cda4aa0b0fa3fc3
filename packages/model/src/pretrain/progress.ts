import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { tf } from '../backend/index.ts';
import { readSafetensors, type Tensor, writeSafetensors } from '../safetensors/index.ts';

/** One point of the loss curve: mean training loss since the previous point, held-out loss at this step. */
export interface CurvePoint {
  step: number;
  /** null at step 0, before any training. */
  trainLoss: number | null;
  heldOutLoss: number;
}

/** A resumable state: the step it was taken after, the curve so far, and every tensor by role and name. */
export interface Progress {
  step: number;
  curve: CurvePoint[];
  /** Training losses summed since the curve's last point (a segment can pause between points). */
  pending: { sum: number; count: number };
  tensors: Map<string, Tensor>;
}

const STEP_FILE = /^step-(\d{9})\.safetensors$/;

/**
 * Writes the state after `step` (parameters, Adam's m and v, the curve; the data order and masks are
 * derived from the seed and the step number, so the step is the whole random state), then removes
 * older states. Written atomically: a run killed mid-write leaves the previous state intact.
 */
export async function writeProgress(
  dir: string,
  state: {
    pretrainId: string;
    step: number;
    curve: CurvePoint[];
    pending: { sum: number; count: number };
    names: readonly string[];
    variables: readonly tf.Variable[];
    m: readonly tf.Variable[];
    v: readonly tf.Variable[];
  },
): Promise<void> {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [role, list] of [
    ['parameter', state.variables],
    ['adam.m', state.m],
    ['adam.v', state.v],
  ] as const) {
    for (let i = 0; i < state.names.length; i++) {
      const tensor = list[i]!;
      tensors[`${role}/${state.names[i]}`] = {
        shape: [...tensor.shape],
        data: (await tensor.data()) as Float32Array,
      };
    }
  }
  const file = `step-${String(state.step).padStart(9, '0')}.safetensors`;
  await writeSafetensors(join(dir, file), tensors, {
    pretrain_id: state.pretrainId,
    step: String(state.step),
    rng: 'derived from (seed, step): batches and masks of step n+1 on need nothing else',
    curve: JSON.stringify(state.curve),
    // JSON writes a double so that it reads back to the same double.
    pending: JSON.stringify(state.pending),
  });
  for (const name of await readdir(dir).catch(ignoreMissing)) {
    if (name !== file && STEP_FILE.test(name)) await rm(join(dir, name), { force: true });
  }
}

/**
 * The newest state in `dir` that belongs to this pretraining and holds every tensor; undefined when
 * there is none (a fresh start). Temporaries of a killed write are ignored.
 */
export async function findProgress(
  dir: string,
  pretrainId: string,
  names: readonly string[],
): Promise<Progress | undefined> {
  let files: string[];
  try {
    files = await readdir(dir);
  } catch {
    return undefined;
  }
  const steps = files
    .map((name) => STEP_FILE.exec(name))
    .filter((match): match is RegExpExecArray => match !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]));
  for (const match of steps) {
    // A concurrent identical run replaces its checkpoint as it goes: a file listed may be gone.
    const contents = await readSafetensors(join(dir, match[0])).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!contents) continue;
    const complete = names.every((name) =>
      ['parameter', 'adam.m', 'adam.v'].every((role) => contents.tensors.has(`${role}/${name}`)),
    );
    if (contents.metadata.pretrain_id !== pretrainId || !complete) continue;
    return {
      step: Number(contents.metadata.step),
      curve: JSON.parse(contents.metadata.curve ?? '[]') as CurvePoint[],
      pending: JSON.parse(contents.metadata.pending ?? '{"sum":0,"count":0}') as Progress['pending'],
      tensors: contents.tensors,
    };
  }
  return undefined;
}

/** A folder removed meanwhile (a concurrent identical run finished) lists nothing. */
function ignoreMissing(error: NodeJS.ErrnoException): string[] {
  if (error.code === 'ENOENT') return [];
  throw error;
}
