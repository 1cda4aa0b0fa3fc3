import type { Command } from 'commander';
import { registerLabelsCommand } from './labels.ts';

/** Each stage contributes one module that adds its command(s); the order here is the help order. */
const registrations: ReadonlyArray<(program: Command) => void> = [registerLabelsCommand];

export function registerCommands(program: Command): void {
  for (const register of registrations) register(program);
}
