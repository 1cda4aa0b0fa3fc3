import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/main.ts';

/** Every command path, e.g. `schedule create`. */
function commandPaths(command: Command, prefix: string[] = []): string[][] {
  return command.commands.flatMap((sub) => {
    const path = [...prefix, sub.name()];
    return [path, ...commandPaths(sub, path)];
  });
}

/** What `enecg <path> --help` prints, captured in-process. */
async function helpOf(path: string[]): Promise<string> {
  let text = '';
  const program = buildProgram();
  const capture = (command: Command) => {
    command.configureOutput({ writeOut: (chunk) => (text += chunk) });
    for (const sub of command.commands) capture(sub);
  };
  capture(program);
  await program.parseAsync(['node', 'enecg', ...path, '--help']).catch(() => {});
  return text;
}

describe('enecg --help', () => {
  it('points to the example configuration, exit codes, Temporal variables and the docs', async () => {
    const text = await helpOf([]);
    for (const needle of [
      'configs/pipeline.example.yaml',
      'npm run demo',
      '--json',
      'Exit code',
      'TEMPORAL_ADDRESS',
      'docs/cli.md',
      'docs/configuration.md',
    ]) {
      expect(text).toContain(needle);
    }
  });

  it('ends every command help with an example of that command', async () => {
    const missing: string[] = [];
    for (const path of commandPaths(buildProgram())) {
      const text = await helpOf(path);
      if (!text.includes(`$ enecg ${path.join(' ')}`) && !text.includes(`enecg ${path.join(' ')} `)) {
        missing.push(path.join(' '));
      }
    }
    expect(missing).toEqual([]);
  });
});
