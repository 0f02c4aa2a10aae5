import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { STACK_TOKEN, startLocalStack } from './local-stack.ts';

type State = 'none' | 'paused' | 'subscribed';
const STATES: State[] = ['none', 'paused', 'subscribed'];

/**
 * What one subscribed webhook adds to an upload's answer (target ≤ 2 ms): small POST /files with no
 * webhook, with one webhook on `files.upload`, and with it paused. Each round visits the three states
 * in a rotated order (so drift hits all alike); in each, the first upload after the change is a warm-up
 * (the change emptied this isolate's list of listening webhooks, so it reads D1: reported apart as
 * `subscribed_after_change`), then BLOCK uploads are measured. The delivery itself happens after the
 * answer, from the queue; the receiver counts what arrived: less than was sent, since each round
 * pauses or deletes the webhook again and an event whose webhook is paused or gone when the consumer
 * takes it is dropped, as designed (src/webhooks/deliver.ts).
 */
export async function benchWebhooks(rounds = Number(process.env.BENCH_WEBHOOK_ROUNDS ?? 20), block = Number(process.env.BENCH_WEBHOOK_BLOCK ?? 3)) {
  let deliveries = 0;
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      deliveries++;
      res.writeHead(204).end();
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  const stack = await startLocalStack({ vars: { IMPORT_IP_ALLOW_LIST: '127.0.0.1/32' } });
  const auth = { authorization: `Bearer ${STACK_TOKEN}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const upload = async () => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(1024)]), 'bench.bin');
    const started = performance.now();
    const res = await fetch(`${stack.base}/files`, { method: 'POST', body: form, headers: auth });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`upload: ${res.status}`);
    return performance.now() - started;
  };
  let id: string | undefined;
  const call = async (path: string, method: string, body?: unknown) => {
    const res = await fetch(`${stack.base}${path}`, { method, headers: json, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : ((await res.json()) as { data: { id: string } }).data;
  };
  const enter = async (state: State) => {
    if (state === 'none') {
      if (id) await call(`/webhooks/${id}`, 'DELETE');
      id = undefined;
    } else if (!id) id = (await call('/webhooks', 'POST', { url: hookUrl, events: ['files.upload'], paused: state === 'paused' }))?.id;
    else await call(`/webhooks/${id}`, 'PATCH', { paused: state === 'paused' });
  };
  try {
    for (let i = 0; i < 5; i++) await upload();
    const times: Record<State, number[]> = { none: [], paused: [], subscribed: [] };
    const afterChange: number[] = [];
    const addedPerRound: number[] = [];
    let sent = 0;
    for (let r = 0; r < rounds; r++) {
      const medians: Partial<Record<State, number>> = {};
      for (const state of [...STATES.slice(r % 3), ...STATES.slice(0, r % 3)]) {
        await enter(state);
        const first = await upload();
        if (state === 'subscribed') afterChange.push(first);
        const these: number[] = [];
        for (let i = 0; i < block; i++) these.push(await upload());
        if (state === 'subscribed') sent += block + 1;
        times[state].push(...these);
        medians[state] = quantile(these, 0.5);
      }
      addedPerRound.push((medians.subscribed as number) - (medians.none as number));
    }
    await enter('none');
    for (let i = 0; i < 100 && deliveries < sent; i++) await new Promise((r) => setTimeout(r, 100));
    const ms = (x: number) => +x.toFixed(2);
    const spread = (xs: number[]) => ({ p25: ms(quantile(xs, 0.25)), median: ms(quantile(xs, 0.5)), p75: ms(quantile(xs, 0.75)) });
    return {
      uploads_each: rounds * block,
      upload_1kb_ms: { none: spread(times.none), paused: spread(times.paused), subscribed: spread(times.subscribed), subscribed_after_change: spread(afterChange) },
      added_ms: ms(quantile(times.subscribed, 0.5) - quantile(times.none, 0.5)),
      added_ms_per_round: spread(addedPerRound),
      target_added_ms: 2,
      delivered: `${deliveries} of ${sent}`,
    };
  } finally {
    await stack.stop();
    receiver.close();
  }
}

/** The q-quantile of xs (nearest rank). */
function quantile(xs: number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}
