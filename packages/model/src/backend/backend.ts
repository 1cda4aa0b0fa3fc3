import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { ConfigError, EnvironmentError } from '@enecg/common';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Which TensorFlow.js backend runs the models. `auto` prefers the native bindings (GPU, then CPU) when
 * their optional packages are installed, then WebAssembly (about 40x the pure-JS cpu backend here), then
 * the pure-JS cpu backend.
 */
export const BACKEND_CHOICES = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** What ran the model: recorded with every artifact so that numbers can be traced to their backend. */
export interface BackendInfo {
  /** The choice that was asked for. */
  requested: BackendChoice;
  /** The choice that was made (never `auto`). */
  choice: Exclude<BackendChoice, 'auto'>;
  /** TensorFlow.js's name for the active backend (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string;
  /** The npm package that provides it, with its version. */
  package: string;
  version: string;
  /** Kernels the wasm backend lacks that are run on the cpu backend instead (see `withKernelFallback`). */
  fallbackKernels?: string[];
}

const require = createRequire(import.meta.url);

const NATIVE_PACKAGES = { 'node-gpu': '@tensorflow/tfjs-node-gpu', node: '@tensorflow/tfjs-node' } as const;
const PURE_PACKAGES = { wasm: '@tensorflow/tfjs-backend-wasm', cpu: '@tensorflow/tfjs-backend-cpu' } as const;

let active: BackendInfo | undefined;
let wasmPathsSet = false;

function packageVersion(name: string): string {
  return (require(`${name}/package.json`) as { version: string }).version;
}

async function tryNative(choice: 'node-gpu' | 'node'): Promise<boolean> {
  const specifier: string = NATIVE_PACKAGES[choice];
  try {
    // A variable specifier keeps bundlers and the type checker from requiring the optional package.
    await import(specifier);
  } catch {
    return false;
  }
  return tf.findBackend('tensorflow') !== null && (await tf.setBackend('tensorflow'));
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

async function activate(choice: Exclude<BackendChoice, 'auto'>): Promise<boolean> {
  switch (choice) {
    case 'node-gpu':
    case 'node':
      return tryNative(choice);
    case 'wasm':
      return tryWasm();
    case 'cpu': {
      const ok = await tf.setBackend('cpu');
      // The cpu backend's first write prints advice to install tfjs-node; the choice is already reported.
      if (ok) (tf.backend() as { firstUse?: boolean }).firstUse = false;
      return ok;
    }
  }
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
  if (
    active !== undefined &&
    (requested === 'auto' ? active.requested === 'auto' : active.choice === requested)
  ) {
    return { ...active, requested };
  }
  const order: Exclude<BackendChoice, 'auto'>[] =
    requested === 'auto' ? ['node-gpu', 'node', 'wasm', 'cpu'] : [requested];
  for (const choice of order) {
    if (await activate(choice)) {
      await tf.ready();
      const pkg =
        choice === 'node-gpu' || choice === 'node' ? NATIVE_PACKAGES[choice] : PURE_PACKAGES[choice];
      active = { requested, choice, tfBackend: tf.getBackend(), package: pkg, version: packageVersion(pkg) };
      return { ...active };
    }
  }
  throw new EnvironmentError(
    `the ${requested} TensorFlow.js backend is not available`,
    requested === 'node-gpu' || requested === 'node'
      ? `install ${NATIVE_PACKAGES[requested]} (its install script needs libtensorflow), or use --backend wasm`
      : 'reinstall node_modules (npm ci), or use --backend cpu',
  );
}

/** How a backend is named in lineage and reports: `wasm (@tensorflow/tfjs-backend-wasm@4.22.0)`. */
export function backendLabel(info: BackendInfo | undefined): string | undefined {
  return info === undefined ? undefined : `${info.choice} (${info.package}@${info.version})`;
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
