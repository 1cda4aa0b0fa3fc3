import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { ConfigError, EnvironmentError } from '@enecg/common';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import {
  type LoadedNative,
  loadNative,
  type NativeThreads,
  type NativeVariant,
  nativeBuildStatus,
  setupCommand,
} from './native.ts';

/**
 * Which TensorFlow.js backend runs the models. `auto` prefers the native TensorFlow bindings that
 * `enecg setup` built (GPU, then CPU; see native.ts), then WebAssembly (about 40x the pure-JS cpu
 * backend here, on one core), then the pure-JS cpu backend.
 */
export const BACKEND_CHOICES = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
type ConcreteBackend = Exclude<BackendChoice, 'auto'>;

/** What ran the model: recorded with every artifact so that numbers can be traced to their backend. */
export interface BackendInfo {
  /** The choice that was asked for. */
  requested: BackendChoice;
  /** The choice that was made (never `auto`). */
  choice: ConcreteBackend;
  /** TensorFlow.js's name for the active backend (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string;
  /** The npm package that provides it, with its version. */
  package: string;
  version: string;
  /** Native backends: the TensorFlow library, its threads, and whether its kernels run on a GPU. */
  tensorflow?: string;
  threads?: NativeThreads;
  gpu?: boolean;
  /** Kernels the wasm backend lacks that are run on the cpu backend instead (see `withKernelFallback`). */
  fallbackKernels?: string[];
}

const require = createRequire(import.meta.url);

const NATIVE_VARIANTS = { 'node-gpu': 'gpu', node: 'cpu' } as const satisfies Record<string, NativeVariant>;
const PURE_PACKAGES = { wasm: '@tensorflow/tfjs-backend-wasm', cpu: '@tensorflow/tfjs-backend-cpu' } as const;

let active: BackendInfo | undefined;
let wasmPathsSet = false;

function packageVersion(name: string): string {
  return (require(`${name}/package.json`) as { version: string }).version;
}

type Activation =
  | { ok: true; info: Omit<BackendInfo, 'requested' | 'tfBackend'> }
  | { ok: false; reason: string };

async function tryNative(choice: 'node-gpu' | 'node'): Promise<Activation> {
  let native: LoadedNative;
  try {
    native = loadNative(NATIVE_VARIANTS[choice]);
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  if (!(await tf.setBackend('tensorflow')))
    return { ok: false, reason: 'the tensorflow backend did not start' };
  return {
    ok: true,
    info: {
      choice,
      package: native.record.package,
      version: native.record.version,
      tensorflow: native.record.tensorflow,
      threads: native.threads,
      gpu: native.gpu,
    },
  };
}

async function tryWasm(): Promise<boolean> {
  if (!wasmPathsSet) {
    // In Node the .wasm binaries are read from node_modules by path, never fetched.
    const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    setWasmPaths(`${wasmDir}/`);
    wasmPathsSet = true;
  }
  try {
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

async function activate(choice: ConcreteBackend): Promise<Activation> {
  const pure = (ok: boolean, name: 'wasm' | 'cpu'): Activation =>
    ok
      ? {
          ok: true,
          info: { choice, package: PURE_PACKAGES[name], version: packageVersion(PURE_PACKAGES[name]) },
        }
      : { ok: false, reason: `${PURE_PACKAGES[name]} did not start` };
  switch (choice) {
    case 'node-gpu':
    case 'node':
      return tryNative(choice);
    case 'wasm':
      return pure(await tryWasm(), 'wasm');
    case 'cpu': {
      const ok = await tf.setBackend('cpu');
      // The cpu backend's first write prints advice to install tfjs-node; the choice is already reported.
      if (ok) (tf.backend() as { firstUse?: boolean }).firstUse = false;
      return pure(ok, 'cpu');
    }
  }
}

/**
 * The backends this process can run, in the order `auto` tries them: the native build setup finished
 * (a process holds one: the GPU build when it is there, which runs on the CPU where it finds no GPU),
 * then wasm and cpu. The expert parity tests run on each.
 */
export function installedBackends(): ConcreteBackend[] {
  const native = (['node-gpu', 'node'] as const).find(
    (choice) => nativeBuildStatus(NATIVE_VARIANTS[choice]).ready,
  );
  return [...(native ? [native] : []), 'wasm', 'cpu'];
}

export function parseBackendChoice(value: unknown, key = 'backend'): BackendChoice {
  if (typeof value === 'string' && (BACKEND_CHOICES as readonly string[]).includes(value)) {
    return value as BackendChoice;
  }
  throw new ConfigError(`${JSON.stringify(value)} is not one of ${BACKEND_CHOICES.join(', ')}`, key);
}

let selection: Promise<unknown> = Promise.resolve();

/**
 * Activates a backend (process-wide, as TensorFlow.js backends are) and says which one runs. Calls are
 * serialised: a worker runs several activities at once, and two concurrent switches would race in tfjs.
 */
export function selectBackend(requested: BackendChoice = 'auto'): Promise<BackendInfo> {
  const next = selection.then(() => activateFirstAvailable(requested));
  selection = next.catch(() => undefined);
  return next;
}

async function activateFirstAvailable(requested: BackendChoice): Promise<BackendInfo> {
  const failures: string[] = [];
  for (const choice of requested === 'auto' ? installedBackends() : [requested]) {
    const outcome = await activate(choice);
    if (!outcome.ok) {
      failures.push(outcome.reason);
      if (requested === 'auto') process.emitWarning(`backend ${choice} skipped: ${outcome.reason}`);
      continue;
    }
    await tf.ready();
    const kept = active?.choice === choice ? active.fallbackKernels : undefined;
    active = {
      requested,
      tfBackend: tf.getBackend(),
      ...outcome.info,
      ...(kept ? { fallbackKernels: kept } : {}),
    };
    return { ...active };
  }
  throw new EnvironmentError(
    `the ${requested} TensorFlow.js backend is not available: ${failures.join('; ')}`,
    requested === 'node-gpu' || requested === 'node'
      ? `run \`${setupCommand(NATIVE_VARIANTS[requested])}\` (see its one-line report), or choose another backend`
      : 'reinstall node_modules (npm ci), or use --backend cpu',
  );
}

let lease: { requested: BackendChoice; holders: number } | undefined;
const waiting: (() => void)[] = [];

/**
 * Runs a stage on a backend and keeps that backend for it: tfjs's backend is process-wide, and a worker
 * runs activities side by side, so a stage that asks for another backend (training on wasm while
 * features run on tensorflow) waits until the stages on the current one are done, instead of switching
 * it under them. Stages asking for the same choice share it.
 */
export async function withBackend<T>(
  requested: BackendChoice,
  work: (info: BackendInfo) => Promise<T>,
): Promise<T> {
  while (lease !== undefined && lease.requested !== requested) {
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
  const held = lease ?? { requested, holders: 0 };
  lease = held;
  held.holders++;
  try {
    return await work(await selectBackend(requested));
  } finally {
    held.holders--;
    if (held.holders === 0) {
      lease = undefined;
      for (const resume of waiting.splice(0)) resume();
    }
  }
}

/**
 * For a GPU worker: the GPU build, on a GPU. Refuses (rather than taking GPU work to run it on a CPU)
 * when the build is missing or TensorFlow sees no CUDA device.
 */
export async function requireGpuBackend(): Promise<BackendInfo> {
  const info = await selectBackend('node-gpu');
  if (!info.gpu) {
    throw new EnvironmentError(
      'TensorFlow sees no CUDA GPU, so a GPU worker here would run feature caching on its CPU',
      'check `nvidia-smi` (the host needs an NVIDIA driver for CUDA 12.x, 525 or newer), or run `enecg worker --queue cpu`',
    );
  }
  return info;
}

/**
 * How a backend is named in lineage and reports: `wasm (@tensorflow/tfjs-backend-wasm@4.22.0)`,
 * `node (@tensorflow/tfjs-node@4.22.0 on TensorFlow 2.21.0)`.
 */
export function backendLabel(info: BackendInfo | undefined): string | undefined {
  if (info === undefined) return undefined;
  const native =
    info.tensorflow === undefined
      ? ''
      : ` on TensorFlow ${info.tensorflow}${info.choice === 'node-gpu' ? (info.gpu ? ', GPU' : ', no GPU found: CPU') : ''}`;
  return `${info.choice} (${info.package}@${info.version}${native})`;
}

/** The backend selected last, or undefined before `selectBackend` ran. */
export function activeBackend(): BackendInfo | undefined {
  return active === undefined ? undefined : { ...active };
}

/**
 * Runs `work` on the cpu backend when the active backend has no kernel named `kernelName` (the wasm
 * backend lacks a few), and records the fallback. Tensors move between backends on first use.
 */
export function withKernelFallback<T>(kernelName: string, work: () => T): T {
  const current = tf.getBackend();
  if (tf.getKernel(kernelName, current) !== undefined || current === 'cpu') return work();
  if (active && !active.fallbackKernels?.includes(kernelName)) {
    active.fallbackKernels = [...(active.fallbackKernels ?? []), kernelName].sort();
  }
  // Both backends are initialised by now, so setBackend switches synchronously (its promise has no await).
  tf.findBackend('cpu');
  void tf.setBackend('cpu');
  try {
    return work();
  } finally {
    void tf.setBackend(current);
  }
}

export { tf };
