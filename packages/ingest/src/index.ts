export * from './wfdb/index.ts';
