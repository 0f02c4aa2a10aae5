import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BudgetCase } from '../bench-budget-case.ts';
import { STACK_TOKEN } from '../local-stack.ts';

/**
 * The transforms' work: the reported chains (five sharpen 10 on a 160×120 JPEG enlarged to 2300 px,
 * five blur 1000 there, AVIF with five sharpen 10 at 1 MP), the heaviest chain the budget admits at
 * the largest output (and the same output without operations), and the first chain asked again (a
 * remembered refusal). Each capped at 60 s.
 */
const CAP_MS = 60_000;
const five = (op: unknown[]) => encodeURIComponent(JSON.stringify(Array.from({ length: 5 }, () => op)));

const transforms: BudgetCase = async (stack, peak) => {
  const form = new FormData();
  const jpeg = readFileSync(join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'sampling-444.jpg'));
  form.append('file', new Blob([jpeg], { type: 'image/jpeg' }), 'budget.jpg');
  const res = await fetch(`${stack.base}/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${STACK_TOKEN}` } });
  if (!res.ok) throw new Error(`upload: ${res.status} ${await res.text()}`);
  const { id } = ((await res.json()) as { data: { id: string } }).data;

  const cases: [string, string][] = [
    ['five_sharpen10_2300px', `width=2300&format=png&transforms=${five(['sharpen', 10])}`],
    ['five_blur1000_2300px', `width=2300&format=jpg&transforms=${five(['blur', 1000])}`],
    ['avif_five_sharpen10_1mp', `width=1150&format=avif&transforms=${five(['sharpen', 10])}`],
    ['no_operations_2300px', 'width=2300&format=jpg'],
    ['one_sharpen10_2300px_admitted', `width=2300&format=jpg&transforms=${encodeURIComponent('[["sharpen",10]]')}`],
    ['five_sharpen10_2300px_again', `width=2300&format=png&transforms=${five(['sharpen', 10])}`],
  ];
  const out: Record<string, unknown> = {};
  for (const [name, query] of cases) {
    const started = performance.now();
    const { result, before, peak: top } = await peak(async () => {
      try {
        const r = await fetch(`${stack.base}/assets/${id}?${query}`, { signal: AbortSignal.timeout(CAP_MS) });
        await r.arrayBuffer();
        return r.status;
      } catch {
        return `> ${CAP_MS / 1000} s`;
      }
    });
    out[name] = { status: result, ms: Math.round(performance.now() - started), peak_rss_growth_mib: +((top - before) / 2 ** 20).toFixed(1) };
  }
  return out;
};

export default transforms;
