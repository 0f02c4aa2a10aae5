import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { bundleForNode } from '../scripts/bundle-engine.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  gifWithFrame,
  webpWithBitstream,
  withFrameSize,
  withoutRestartMarkers,
  withSampling,
  withSecondFrame,
} from '../test/security/hostile-images.ts';
import { MUTATION_KINDS, mutate } from './mutations.ts';
import type { Outcome } from './outcome.ts';

/**
 * Seeded mutations of valid JPEG, PNG, GIF and WebP files through the transform pipeline. Every case
 * must end in an image or a 4xx, and an ordinary image must still render after it. The decoders are
 * bounded by their input (work counted); the cases run in a worker thread that is stopped when one
 * takes longer than CASE_DEADLINE_MS, so a hang fails this test instead of stalling CI.
 * FUZZ_CASES_PER_FILE changes the number of cases (300 a file by default).
 */
const BASES = ['gray.jpg', 'sampling-444.jpg', 'sampling-422.jpg', 'restart-420.jpg', 'progressive.jpg', 'photo-meta.jpg', 'portrait-o6.jpg', 'alpha.png', 'anim.gif', 'image.webp'];
const PER_BASE = Number(process.env.FUZZ_CASES_PER_FILE ?? 300);
const CASE_DEADLINE_MS = 10_000;
const fixtures = join(import.meta.dirname, '..', 'test', 'fixtures');

/** The worker: renderCase, then the same ordinary image, for every message. */
const WORKER_SOURCE = `
import { parentPort, workerData } from 'node:worker_threads';
import { renderCase } from './render-case.ts';
parentPort.on('message', async ({ id, bytes, transform }) => {
  const outcome = await renderCase(bytes, transform);
  const after = await renderCase(workerData.ordinary, 2);
  parentPort.postMessage({ id, outcome, healthy: after.kind === 'image' });
});
`;

interface Answer {
  outcome: Outcome | { kind: 'timeout' };
  healthy: boolean;
}

/** One worker thread at a time; replaced when a case overruns its deadline. */
class Runner {
  private worker: Worker | undefined;
  private next = 0;

  constructor(
    private readonly script: string,
    private readonly ordinary: Uint8Array,
  ) {}

  run(bytes: Uint8Array, transform: number): Promise<Answer> {
    const worker = (this.worker ??= this.spawn());
    const id = this.next++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        worker.off('message', onMessage);
        void worker.terminate();
        this.worker = undefined;
        resolve({ outcome: { kind: 'timeout' }, healthy: false });
      }, CASE_DEADLINE_MS);
      const onMessage = (message: { id: number } & Answer) => {
        if (message.id !== id) return;
        clearTimeout(timer);
        worker.off('message', onMessage);
        resolve(message);
      };
      worker.on('message', onMessage);
      worker.postMessage({ id, bytes, transform });
    });
  }

  /** A worker whose own failure (a crash of the thread, not of a case) fails the run loudly. */
  private spawn(): Worker {
    const worker = new Worker(this.script, { workerData: { ordinary: this.ordinary } });
    worker.on('error', (error) => {
      throw error;
    });
    return worker;
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}

let runner: Runner;

beforeAll(async () => {
  const outfile = join(tmpdir(), `edge-assets-decoder-fuzz-${process.pid}.mjs`);
  await bundleForNode(WORKER_SOURCE, import.meta.dirname, outfile);
  runner = new Runner(outfile, new Uint8Array(await readFile(join(fixtures, 'sampling-444.jpg'))));
});

afterAll(async () => {
  await runner?.close();
});

function verdict(answer: Answer): string | undefined {
  const { outcome } = answer;
  if (outcome.kind === 'timeout') return `no answer within ${CASE_DEADLINE_MS} ms`;
  if (outcome.kind === 'crash') return `crashed: ${outcome.error}`;
  if (outcome.kind === 'refused' && (outcome.status < 400 || outcome.status >= 500)) return `status ${outcome.status}`;
  if (!answer.healthy) return 'the next ordinary image did not render';
  return undefined;
}

describe('decoder fuzz', () => {
  it('hand-made hostile headers end in a 4xx, in bounded time', async () => {
    const file = async (name: string) => new Uint8Array(await readFile(join(fixtures, name)));
    const cases: [string, Uint8Array][] = [
      ['sampling 0', withSampling(await file('gray.jpg'), 0, 0x00)],
      ['16000×16000 over a few bytes', withFrameSize(await file('gray.jpg'), 16000, 16000)],
      ['restart markers removed', withoutRestartMarkers(await file('restart-420.jpg'))],
      ['second frame', withSecondFrame(await file('sampling-444.jpg'), 32768, 32768)],
      ['GIF frame outside its screen', gifWithFrame([10, 10], [8000, 8000])],
      ['WebP bitstream outside its canvas', webpWithBitstream([10, 10], [8000, 8000])],
    ];
    for (const [what, bytes] of cases) {
      const answer = await runner.run(bytes, 0);
      expect(verdict(answer), what).toBeUndefined();
      expect(answer.outcome.kind, what).toBe('refused');
    }
  });

  it(`${PER_BASE} seeded mutations of each of ${BASES.length} files end in an image or a 4xx`, async () => {
    const failures: string[] = [];
    const tally = { image: 0, refused: 0 };
    for (const [b, name] of BASES.entries()) {
      const original = new Uint8Array(await readFile(join(fixtures, name)));
      for (let n = 0; n < PER_BASE; n++) {
        const kind = MUTATION_KINDS[n % MUTATION_KINDS.length] as (typeof MUTATION_KINDS)[number];
        const seed = b * 100_000 + n + 1;
        const answer = await runner.run(mutate(original, kind, seed), n);
        const problem = verdict(answer);
        if (problem) failures.push(`${name} ${kind} seed ${seed} transform ${n % 3}: ${problem}`);
        else if (answer.outcome.kind === 'image') tally.image++;
        else tally.refused++;
      }
    }
    expect(failures).toEqual([]);
    // Both outcomes happen: the mutations neither all break the files nor all miss the decoders.
    expect(tally.image).toBeGreaterThan(BASES.length * PER_BASE * 0.05);
    expect(tally.refused).toBeGreaterThan(BASES.length * PER_BASE * 0.05);
  });
});
