export type { Expert, ExpertFactory, ExpertOptions } from './experts/types.ts';
