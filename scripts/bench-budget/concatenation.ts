import type { BudgetCase } from '../bench-budget-case.ts';
import { type LocalStack, STACK_TOKEN } from '../local-stack.ts';

/**
 * TUS concatenation's worst cases: one 100 KB partial upload listed 1,000 times (a 100 MB file
 * before), final uploads of 1,000 and of 100 small partial uploads (time to the answer, then to
 * completion by HEAD polling), and four concurrent finals naming one partial upload.
 */
const AUTH = { Authorization: `Bearer ${STACK_TOKEN}`, 'Tus-Resumable': '1.0.0' };
const CAP_MS = 180_000;
const MiB = 1024 * 1024;

async function partial(stack: LocalStack, data: Uint8Array): Promise<string> {
  const res = await fetch(`${stack.base}/files/tus`, {
    method: 'POST',
    headers: { ...AUTH, 'Upload-Length': String(data.byteLength), 'Upload-Concat': 'partial', 'Content-Type': 'application/offset+octet-stream' },
    body: data as Uint8Array<ArrayBuffer>,
  });
  if (res.status !== 201) throw new Error(`partial upload: ${res.status} ${await res.text()}`);
  return new URL(res.headers.get('location') as string).pathname;
}

async function partials(stack: LocalStack, n: number, size: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i += 16) out.push(...(await Promise.all(Array.from({ length: Math.min(16, n - i) }, (_, j) => partial(stack, new Uint8Array(size).fill((i + j) % 251))))));
  return out;
}

/** The final POST: status, ms to its answer, and its answer (or "> N s" when it took longer than the cap). */
async function final(stack: LocalStack, list: string[]): Promise<{ status: number | string; ms: number; res?: Response }> {
  const started = performance.now();
  try {
    const res = await fetch(`${stack.base}/files/tus`, { method: 'POST', headers: { ...AUTH, 'Upload-Concat': `final;${list.join(' ')}` }, signal: AbortSignal.timeout(CAP_MS) });
    await res.arrayBuffer();
    return { status: res.status, ms: Math.round(performance.now() - started), res };
  } catch {
    return { status: `> ${CAP_MS / 1000} s`, ms: CAP_MS };
  }
}

/** HEAD until the final upload has its offset (done) or an error: ms from `since` (the 201's own when it has them). */
async function completion(stack: LocalStack, res: Response, since: number): Promise<{ status: number | string; ms: number; file: boolean }> {
  if (res.headers.has('upload-offset')) return { status: res.status, ms: Math.round(performance.now() - since), file: res.headers.has('directus-file-id') };
  const url = new URL(res.headers.get('location') as string, stack.base).toString();
  for (;;) {
    const head = await fetch(url, { method: 'HEAD', headers: AUTH }).catch((error: Error) => error);
    if (head instanceof Error) return { status: String(head.cause ?? head), ms: Math.round(performance.now() - since), file: false };
    if (head.status !== 200 || head.headers.has('upload-offset') || performance.now() - since > CAP_MS) {
      return { status: head.status, ms: Math.round(performance.now() - since), file: head.headers.has('directus-file-id') };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const growth = (p: { before: number; peak: number }) => +((p.peak - p.before) / MiB).toFixed(1);

const concatenation: BudgetCase = async (stack, peak) => {
  const [one] = await partials(stack, 1, 100 * 1000);
  const repeated = await peak(() => final(stack, Array.from({ length: 1000 }, () => one as string)));

  const many = await partials(stack, 1000, 1000);
  const assembly = (list: string[]) =>
    peak(async () => {
      const started = performance.now();
      const posted = await final(stack, list);
      return { posted, done: posted.res?.status === 201 ? await completion(stack, posted.res, started) : undefined };
    });
  const big = await assembly(many);
  const hundred = await assembly(await partials(stack, 100, 1000));
  const report = (r: typeof big) => ({
    status: r.result.posted.status,
    ms_to_answer: r.result.posted.ms,
    completion_status: r.result.done?.status,
    ms_to_completion: r.result.done?.ms,
    rss_mib: growth(r),
  });

  const [shared] = await partials(stack, 1, 10 * 1000);
  const own = await partials(stack, 4, 1000);
  const racing = await peak(() => Promise.all(own.map((p) => final(stack, [shared as string, p]))));

  return {
    repeat_1000x_100kb: { status: repeated.result.status, ms: repeated.result.ms, rss_mib: growth(repeated) },
    final_of_1000_partials: report(big),
    final_of_100_partials: report(hundred),
    four_concurrent_finals_one_partial: { statuses: racing.result.map((r) => r.status), ms: Math.max(...racing.result.map((r) => r.ms)), rss_mib: growth(racing) },
  };
};

export default concatenation;
