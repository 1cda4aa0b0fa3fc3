// The enecg command runs from an esbuild bundle of the workspace's TypeScript (packages/cli/dist/<key>/),
// so that a start costs a plain `node` start instead of transpiling every source file with tsx. The key
// names the sources the bundle was built from (path, size and mtime of every file), so a bundle is never
// stale: an edited source gives a new key and the next start builds it (about a second). Builds land
// under a temporary name and are renamed into place, so processes starting at once never see half a bundle.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const CLI_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const PACKAGES_DIR = dirname(CLI_DIR);
export const DIST_DIR = join(CLI_DIR, 'dist');
const ENTRY = join(CLI_DIR, 'src', 'main.ts');
/** Bundles older than this are removed after a build; a long-running worker may still load chunks of one. */
const KEEP_OLD_BUNDLES_MS = 24 * 3600 * 1000;

/** Every file the bundle is built from: the packages' sources and manifests, and this builder. */
function bundleInputs() {
  const files = [fileURLToPath(import.meta.url)];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(path);
    }
  };
  for (const pkg of readdirSync(PACKAGES_DIR, { withFileTypes: true })) {
    if (!pkg.isDirectory()) continue;
    const dir = join(PACKAGES_DIR, pkg.name);
    if (existsSync(join(dir, 'package.json'))) files.push(join(dir, 'package.json'));
    if (existsSync(join(dir, 'src'))) walk(join(dir, 'src'));
  }
  return files;
}

/** A key that changes whenever any input file is added, removed, resized or touched (a few ms to compute). */
export function bundleKey() {
  const hash = createHash('sha256');
  for (const file of bundleInputs()) {
    const { size, mtimeMs } = statSync(file);
    hash.update(`${relative(PACKAGES_DIR, file)}\0${size}\0${mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

/** The bundle's entry for the current sources, or undefined when it has not been built yet. */
export function currentBundle() {
  const main = join(DIST_DIR, bundleKey(), 'main.js');
  return existsSync(main) ? main : undefined;
}

/** Packages resolved at run time from node_modules, never bundled: every dependency outside the workspace. */
async function externalPackages() {
  const names = new Set();
  for (const pkg of await readdir(PACKAGES_DIR)) {
    const manifest = join(PACKAGES_DIR, pkg, 'package.json');
    if (!existsSync(manifest)) continue;
    const { dependencies = {}, devDependencies = {} } = JSON.parse(await readFile(manifest, 'utf8'));
    for (const name of [...Object.keys(dependencies), ...Object.keys(devDependencies)]) {
      if (!name.startsWith('@enecg/')) names.add(name);
    }
  }
  return names;
}

/**
 * Sources find their assets next to themselves (Temporal's workflow sources for webpack, ingest's .wasm
 * kernels, the label SQL, the repository for the git commit). In the bundle `import.meta.url` is the
 * chunk's, so each source's own URL is put back, relative to the chunk folder so the checkout can move.
 */
function sourceLocationPlugin(outdir) {
  return {
    name: 'enecg-source-location',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return { contents: text, loader: 'ts' };
        const fromChunk = relative(outdir, args.path).split('\\').join('/');
        const url = `new URL(${JSON.stringify(fromChunk)}, import.meta.url).href`;
        return { contents: text.replaceAll('import.meta.url', url), loader: 'ts' };
      });
    },
  };
}

function externalPackagesPlugin(external) {
  return {
    name: 'enecg-external-packages',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:')) return { path: args.path, external: true };
        const name = args.path.startsWith('@')
          ? args.path.split('/').slice(0, 2).join('/')
          : args.path.split('/')[0];
        return external.has(name) ? { path: args.path, external: true } : undefined;
      });
    },
  };
}

/** Builds the bundle for the current sources unless it exists; returns its entry file. */
export async function buildBundle({ log = () => {} } = {}) {
  const key = bundleKey();
  const target = join(DIST_DIR, key);
  if (existsSync(join(target, 'main.js'))) return join(target, 'main.js');
  const { build } = await import('esbuild');
  const building = join(DIST_DIR, `.building-${key}-${process.pid}`);
  await mkdir(building, { recursive: true });
  try {
    await build({
      entryPoints: { main: ENTRY },
      outdir: building,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: 'linked',
      logLevel: 'error',
      plugins: [externalPackagesPlugin(await externalPackages()), sourceLocationPlugin(target)],
    });
    await rename(building, target).catch(async (error) => {
      // Another process built the same key first: use theirs.
      if (!existsSync(join(target, 'main.js'))) throw error;
      await rm(building, { recursive: true, force: true });
    });
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    throw error;
  }
  log(`built the enecg bundle in ${relative(process.cwd(), target) || target}`);
  await pruneOldBundles(key);
  return join(target, 'main.js');
}

async function pruneOldBundles(keep) {
  for (const name of await readdir(DIST_DIR)) {
    if (name === keep) continue;
    const path = join(DIST_DIR, name);
    const { mtimeMs } = await stat(path).catch(() => ({ mtimeMs: Date.now() }));
    if (Date.now() - mtimeMs > KEEP_OLD_BUNDLES_MS) await rm(path, { recursive: true, force: true });
  }
}

// `node packages/cli/bin/bundle.js`: what set-up runs.
if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  await buildBundle({ log: (line) => process.stdout.write(`setup: ${line}\n`) });
}
