import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The real `enecg` binary of this workspace, run as a separate process like an auditor would. */
export const ENECG_BIN = fileURLToPath(new URL('../../cli/bin/enecg.js', import.meta.url));

export function runEnecg(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ENECG_BIN, ...args], { timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
