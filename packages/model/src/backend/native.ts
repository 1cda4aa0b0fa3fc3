import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError, toolsDir } from '@enecg/common';

/**
 * The native TensorFlow backend: @tensorflow/tfjs-node(-gpu)'s addon built by `enecg setup` against the
 * shared libraries inside PyPI's TensorFlow wheels (the packages' own install script downloads
 * libtensorflow from a vendor host, which is not reachable everywhere). Each build lives in its own
 * folder under `.tools/`, outside node_modules, so `npm ci` never removes it.
 */
export type NativeVariant = 'cpu' | 'gpu';

export const TFJS_NODE_VERSION = '4.22.0';
/** The first TensorFlow whose wheel exports the C and eager C APIs from libtensorflow_cc.so.2. */
export const TENSORFLOW_VERSION = '2.21.0';

export interface PinnedWheel {
  name: string;
  version: string;
  sha256: string;
}

export interface NativeRecipe {
  variant: NativeVariant;
  package: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu';
  version: string;
  /** The npm tarball's integrity (npm pack checks nothing by itself for a name@version). */
  integrity: string;
  tensorflow: string;
  wheels: readonly PinnedWheel[];
}

export const NATIVE_RECIPES: Record<NativeVariant, NativeRecipe> = {
  cpu: {
    variant: 'cpu',
    package: '@tensorflow/tfjs-node',
    version: TFJS_NODE_VERSION,
    integrity:
      'sha512-uHrXeUlfgkMxTZqHkESSV7zSdKdV0LlsBeblqkuKU9nnfxB1pC6DtoyYVaLxznzZy7WQSegjcohxxCjAf6Dc7w==',
    tensorflow: TENSORFLOW_VERSION,
    wheels: [
      {
        name: 'tensorflow-cpu',
        version: TENSORFLOW_VERSION,
        sha256: '2b847d217b02ee7731ed91431daf3250daa0196c3c94614d23be27232e6e5b6c',
      },
    ],
  },
  gpu: {
    variant: 'gpu',
    package: '@tensorflow/tfjs-node-gpu',
    version: TFJS_NODE_VERSION,
    integrity:
      'sha512-p//NN6DGiN4hInUmIkRffaFVMcdTREUMjPyjW04J7OXvB2zBlQimj61eFKSgRrH3f5TnOfKzb0n56he/B6a4bw==',
    tensorflow: TENSORFLOW_VERSION,
    // tensorflow[and-cuda]==2.21.0 resolved and pinned: TensorFlow with CUDA kernels + CUDA 12 runtime.
    wheels: [
      ['tensorflow', TENSORFLOW_VERSION, '9056fbc9ba04235810b71ae6cbd958a196e8804fb53bbcffbf3e23b56155f124'],
      ['nvidia-cublas-cu12', '12.9.3.13', 'd7d51055f161b317c7105ddaae90e71eda059026074ffef93cf7cde2886bfe72'],
      [
        'nvidia-cuda-cupti-cu12',
        '12.9.79',
        '096bcf334f13e1984ba36685ad4c1d6347db214de03dbb6eebb237b41d9d934f',
      ],
      [
        'nvidia-cuda-nvcc-cu12',
        '12.9.86',
        '5d6a0d32fdc7ea39917c20065614ae93add6f577d840233237ff08e9a38f58f0',
      ],
      [
        'nvidia-cuda-nvrtc-cu12',
        '12.9.86',
        '210cf05005a447e29214e9ce50851e83fc5f4358df8b453155d5e1918094dcb4',
      ],
      [
        'nvidia-cuda-runtime-cu12',
        '12.9.79',
        '25bba2dfb01d48a9b59ca474a1ac43c6ebf7011f1b0b8cc44f54eb6ac48a96c3',
      ],
      ['nvidia-cudnn-cu12', '9.28.0.42', '9ff58b7f36dacd0a93e89f8f2957b52466889217963701daa15e577317cfa375'],
      ['nvidia-cufft-cu12', '11.4.1.4', 'c67884f2a7d276b4b80eb56a79322a95df592ae5e765cf1243693365ccab4e28'],
      [
        'nvidia-curand-cu12',
        '10.3.10.19',
        '49b274db4780d421bd2ccd362e1415c13887c53c214f0d4b761752b8f9f6aa1e',
      ],
      [
        'nvidia-cusolver-cu12',
        '11.7.5.82',
        '15da72d1340d29b5b3cf3fd100e3cd53421dde36002eda6ed93811af63c40d88',
      ],
      [
        'nvidia-cusparse-cu12',
        '12.5.10.65',
        '73060ce019ac064a057267c585bf1fd5a353734151f87472ff02b2c5c9984e78',
      ],
      ['nvidia-nccl-cu12', '2.32.3', 'bb94b2348e4861d5e8aa00b36c3d12d9bdf9c6369b82cbb723de0b582280a21c'],
      [
        'nvidia-nvjitlink-cu12',
        '12.9.86',
        'e3f1171dbdc83c5932a45f0f4c99180a70de9bd2718c1ab77d14104f6d7147f9',
      ],
    ].map(([name, version, sha256]) => ({ name, version, sha256 }) as PinnedWheel),
  },
};

/** What `enecg setup` writes last into a finished build folder; a folder without it is not used. */
export interface NativeBuildRecord {
  variant: NativeVariant;
  package: string;
  version: string;
  tensorflow: string;
  builtAt: string;
  node: string;
  buildSeconds: number;
  diskBytes: number;
}

export const NATIVE_SWITCH = 'ENECG_NATIVE_BACKEND';

/**
 * ENECG_NATIVE_BACKEND: unset or `cpu` builds and uses the native CPU backend; `gpu` also the GPU one
 * (like `enecg setup --gpu`); `0` or `off` neither: setup skips the build and `backend: auto` ignores
 * any build already there (the pipeline then runs on wasm).
 */
export function nativeBackendSetting(): { enabled: boolean; gpu: boolean } {
  const value = (process.env[NATIVE_SWITCH] ?? 'cpu').trim().toLowerCase();
  if (value === 'cpu' || value === '' || value === '1') return { enabled: true, gpu: false };
  if (value === 'gpu') return { enabled: true, gpu: true };
  if (value === '0' || value === 'off') return { enabled: false, gpu: false };
  throw new ConfigError(`${JSON.stringify(value)} is not one of cpu, gpu, 0 (off)`, NATIVE_SWITCH);
}

export function nativeBuildDir(variant: NativeVariant): string {
  const recipe = NATIVE_RECIPES[variant];
  return join(toolsDir(), `${recipe.package.split('/')[1]}-${recipe.version}-tf${recipe.tensorflow}`);
}

export function setupCommand(variant: NativeVariant): string {
  return variant === 'gpu' ? 'npx enecg setup --gpu' : 'npx enecg setup';
}

export type NativeBuildStatus =
  | { ready: true; dir: string; record: NativeBuildRecord }
  | { ready: false; reason: string };

/** Whether a finished build of `variant` is there to load (cheap: reads one small file). */
export function nativeBuildStatus(variant: NativeVariant): NativeBuildStatus {
  const setting = nativeBackendSetting();
  if (!setting.enabled) return { ready: false, reason: `${NATIVE_SWITCH}=0 turns the native backend off` };
  const dir = nativeBuildDir(variant);
  const recordPath = join(dir, 'ready.json');
  if (!existsSync(recordPath)) {
    return {
      ready: false,
      reason: `${NATIVE_RECIPES[variant].package} has not been built by setup`,
    };
  }
  return { ready: true, dir, record: JSON.parse(readFileSync(recordPath, 'utf8')) as NativeBuildRecord };
}

const projectRequire = createRequire(import.meta.url);

/**
 * The build resolves @tensorflow/tfjs and tfjs-core through links to the project's own copies, so that
 * one tfjs engine (and one Tensor class) serves the project and the native backend. The links are
 * refreshed when the project moved or npm re-created node_modules elsewhere.
 */
export function linkProjectTfjs(dir: string): void {
  for (const name of ['@tensorflow/tfjs', '@tensorflow/tfjs-core']) {
    const target = dirname(projectRequire.resolve(`${name}/package.json`));
    const link = join(dir, 'node_modules', name);
    let current: string | undefined;
    try {
      current = readlinkSync(link);
    } catch {
      current = undefined;
    }
    if (current === target) continue;
    mkdirSync(dirname(link), { recursive: true });
    const temporary = `${link}.link-${process.pid}`;
    rmSync(temporary, { force: true });
    symlinkSync(target, temporary, 'dir');
    renameSync(temporary, link);
  }
}

export interface NativeThreads {
  intraOp: number;
  interOp: number;
}

/**
 * TensorFlow reads its thread counts and log level from the environment when the library starts, so
 * they are set before the first load: intra-op threads default to the machine's cores; one inter-op
 * thread, since tfjs runs one eager op at a time. TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS
 * (and TF_CPP_MIN_LOG_LEVEL) set by the user win.
 */
function configureNativeRuntime(): NativeThreads {
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  process.env.TF_NUM_INTRAOP_THREADS ??= String(availableParallelism());
  process.env.TF_NUM_INTEROP_THREADS ??= '1';
  return {
    intraOp: Number(process.env.TF_NUM_INTRAOP_THREADS),
    interOp: Number(process.env.TF_NUM_INTEROP_THREADS),
  };
}

export interface LoadedNative {
  variant: NativeVariant;
  record: NativeBuildRecord;
  threads: NativeThreads;
  /** Whether TensorFlow placed its kernels on a GPU (the GPU build runs on the CPU when it finds none). */
  gpu: boolean;
}

let loaded: LoadedNative | undefined;

/**
 * Loads a native build into this process (once; the addon registers the `tensorflow` backend with
 * tfjs). One native library per process: the CPU and GPU builds share the library's file names.
 */
export function loadNative(variant: NativeVariant): LoadedNative {
  const status = nativeBuildStatus(variant);
  if (!status.ready) throw new Error(status.reason);
  if (loaded) {
    if (loaded.variant === variant) return loaded;
    throw new Error(
      `this process already runs ${NATIVE_RECIPES[loaded.variant].package}; one native build per process`,
    );
  }
  const threads = configureNativeRuntime();
  linkProjectTfjs(status.dir);
  // The package finds its addon with node-pre-gyp, which parses process.argv as its own options: a
  // command line such as `enecg demo --dir X` would be read as node-pre-gyp's --directory.
  const argv = process.argv;
  process.argv = argv.slice(0, 2);
  let native: { backend(): { isUsingGpuDevice?: boolean } };
  try {
    native = createRequire(join(status.dir, 'package.json'))(NATIVE_RECIPES[variant].package);
  } finally {
    process.argv = argv;
  }
  loaded = { variant, record: status.record, threads, gpu: native.backend().isUsingGpuDevice === true };
  return loaded;
}
