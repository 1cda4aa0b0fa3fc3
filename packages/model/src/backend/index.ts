export type { BackendChoice, BackendInfo } from './backend.ts';
export {
  activeBackend,
  BACKEND_CHOICES,
  backendLabel,
  installedBackends,
  parseBackendChoice,
  requireGpuBackend,
  selectBackend,
  tf,
  withBackend,
  withKernelFallback,
} from './backend.ts';
export { packBatch, unpackBatch } from './batch.ts';
export type { NativeVariant } from './native.ts';
export { nativeBackendSetting, nativeBuildStatus } from './native.ts';
export type { NativeSetupResult } from './native-setup.ts';
export { describeNativeSetup, setupNativeBackend } from './native-setup.ts';
