export type { BackendChoice, BackendInfo } from './backend.ts';
export {
  activeBackend,
  BACKEND_CHOICES,
  backendLabel,
  parseBackendChoice,
  selectBackend,
  tf,
  withKernelFallback,
} from './backend.ts';
export { packBatch, unpackBatch } from './batch.ts';
