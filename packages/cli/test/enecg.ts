import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const BIN = join(import.meta.dirname, '..', 'bin', 'enecg.js');

export interface EnecgResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `enecg` bin in a child process, the way a user does, and never throws on a failing exit. */
export async function enecg(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string | undefined> } = {},
): Promise<EnecgResult> {
  try {
    const { stdout, stderr } = await run('node', [BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
