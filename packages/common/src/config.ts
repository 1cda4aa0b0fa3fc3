import type { z } from 'zod';
import { ConfigError } from './errors.ts';

/**
 * Validates configuration once, at the edge. The error names the offending key as a dotted path
 * (`training.epochs`) and, when given, the file it came from; every problem is listed, not just the first.
 */
export function parseConfig<S extends z.ZodType>(schema: S, value: unknown, source?: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
    return `${key}: ${issue.message}`;
  });
  const first = result.error.issues[0]?.path.map(String).join('.');
  throw new ConfigError(
    `${source ? `${source}: ` : ''}invalid configuration\n  ${problems.join('\n  ')}`,
    first === '' ? undefined : first,
  );
}
