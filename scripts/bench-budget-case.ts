import type { LocalStack } from './local-stack.ts';

/**
 * One class of hostile requests for `npm run bench`'s budget case (a file in scripts/bench-budget/):
 * sends its worst cases to the stack, each inside `peak` (which reads workerd's peak RSS around it),
 * and reports each case's status, milliseconds and RSS growth in MiB.
 */
export type BudgetCase = (
  stack: LocalStack,
  peak: <T>(fn: () => Promise<T>) => Promise<{ result: T; before: number; peak: number }>,
) => Promise<Record<string, unknown>>;
