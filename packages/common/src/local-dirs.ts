import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this package that holds nx.json. */
export function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'nx.json'))) {
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('enecg: cannot find the repository root (no nx.json above the sources)');
    dir = parent;
  }
  return dir;
}

/** Where installed tools (the Temporal CLI, the native TensorFlow backend) are cached: git-ignored `.tools/`, or ENECG_TOOLS_DIR. */
export function toolsDir(): string {
  return resolve(process.env.ENECG_TOOLS_DIR ?? join(repositoryRoot(), '.tools'));
}

/** Where local state (the dev server's database, demo data) lives: git-ignored `.work/`, or ENECG_WORK_DIR. */
export function workDir(): string {
  return resolve(process.env.ENECG_WORK_DIR ?? join(repositoryRoot(), '.work'));
}
