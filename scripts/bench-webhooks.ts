import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { STACK_TOKEN, startLocalStack } from './local-stack.ts';

/**
 * What one subscribed webhook adds to an upload's answer (target ≤ 2 ms): the median of ROUNDS small
 * POST /files with no webhook, with one webhook on `files.upload`, and with it paused (the D1 read
 * stays, the queue write goes), interleaved so drift hits all three alike. The delivery itself
 * happens after the answer, from the queue; the receiver counts what arrived.
 */
export async function benchWebhooks(rounds = Number(process.env.BENCH_WEBHOOK_UPLOADS ?? 60)) {
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
  const upload = async () => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(1024)]), 'bench.bin');
    const started = performance.now();
    const res = await fetch(`${stack.base}/files`, { method: 'POST', body: form, headers: auth });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`upload: ${res.status}`);
    return performance.now() - started;
  };
  try {
    const created = await fetch(`${stack.base}/webhooks`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, events: ['files.upload'], paused: true }),
    });
    if (!created.ok) throw new Error(`webhook: ${created.status} ${await created.text()}`);
    const { id } = ((await created.json()) as { data: { id: string } }).data;
    const setPaused = (paused: boolean) => fetch(`${stack.base}/webhooks/${id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ paused }) }).then((r) => r.arrayBuffer());
    const remove = () => fetch(`${stack.base}/webhooks/${id}`, { method: 'DELETE', headers: auth });
    for (let i = 0; i < 5; i++) await upload();
    const times = { none: [] as number[], subscribed: [] as number[], paused: [] as number[] };
    for (let i = 0; i < rounds; i++) {
      await setPaused(false);
      times.subscribed.push(await upload());
      await setPaused(true);
      times.paused.push(await upload());
    }
    // Without any webhook row at all, last (a deleted webhook is not recreated).
    await remove();
    for (let i = 0; i < rounds; i++) times.none.push(await upload());
    for (let i = 0; i < 100 && deliveries < rounds; i++) await new Promise((r) => setTimeout(r, 100));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const ms = (x: number) => +x.toFixed(2);
    return {
      uploads_each: rounds,
      upload_1kb_median_ms: { none: ms(median(times.none)), subscribed: ms(median(times.subscribed)), paused: ms(median(times.paused)) },
      added_ms: ms(median(times.subscribed) - median(times.none)),
      target_added_ms: 2,
      delivered: deliveries,
    };
  } finally {
    await stack.stop();
    receiver.close();
  }
}
