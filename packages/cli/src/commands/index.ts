import type { Command } from 'commander';
import { registerLineageCommand } from './lineage.ts';
import { registerReportCommand } from './report.ts';
import { registerSqlCommand } from './sql.ts';

/** Each stage contributes one module that adds its command(s); the order here is the help order. */
const registrations: ReadonlyArray<(program: Command) => void> = [
  registerReportCommand,
  registerLineageCommand,
  registerSqlCommand,
];

export function registerCommands(program: Command): void {
  for (const register of registrations) register(program);
}
