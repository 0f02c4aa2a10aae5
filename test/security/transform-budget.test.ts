import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from '../../src/app';
import { parseConfig } from '../../src/config';
import type { AppError } from '../../src/errors/app-error';
import { readDimensions } from '../../src/images/dimensions';
import { api, errorOf, fixture, uploadFile } from '../helpers';

/**
 * The work of `transforms` is bounded before a byte is decoded: every operation costs passes over
 * the output it acts on, and together they may cost ASSETS_TRANSFORM_MAX_PASSES passes over
 * ASSETS_TRANSFORM_MAX_PIXELS. What passes it is a 400 naming both variables, through every way a
 * transform is asked for (query, preset, `format=avif`).
 */
const ops = (...list: unknown[]) => `transforms=${encodeURIComponent(JSON.stringify(list))}`;
const fiveSharpens = ops(...Array.from({ length: 5 }, () => ['sharpen', 10]));
const NAMES_THE_BUDGET = /ASSETS_TRANSFORM_MAX_PASSES × ASSETS_TRANSFORM_MAX_PIXELS/;

/** A 160×120 JPEG, public: anyone may ask for its transforms. */
const small = () => uploadFile({ name: 'budget.jpg', data: fixture('sampling-444.jpg') });

async function widthOf(res: Response): Promise<number> {
  expect(res.status, await res.clone().text()).toBe(200);
  const dims = readDimensions(new Uint8Array(await res.arrayBuffer()));
  return dims && 'width' in dims ? dims.width : 0;
}

describe('the operations of a transform are bounded by a work budget', () => {
  const refused: [string, string][] = [
    ['five sharpen 10 on a small source enlarged to 2300×1725 (the reported 20 s)', `width=2300&${fiveSharpens}&format=png`],
    ['five blur 1000 at 2000×1500', `width=2000&${ops(...Array.from({ length: 5 }, () => ['blur', 1000]))}&format=jpg`],
    ['AVIF with five sharpen 10 at 1 MP', `width=1150&${fiveSharpens}&format=avif`],
    ['a mix of every costly operation at 3 MP', `width=2000&${ops(['modulate', { hue: 90 }], ['blur', 3], ['sharpen', 4], ['tint', '#3060ff'], ['sharpen'])}`],
  ];
  for (const [what, query] of refused) {
    it(`${what}: 400 naming the limit and its variables`, async () => {
      const file = await small();
      const res = await api(`/assets/${file.id}?${query}`, { token: null });
      const error = await errorOf(res);
      expect(error).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
      expect(error.message).toMatch(NAMES_THE_BUDGET);
      expect(error.message).toMatch(/passes over the \d+×\d+ output/);
    });
  }

  it('the operations act on what a cover crop keeps: the same chain on a thin crop is made', async () => {
    const file = await small();
    expect((await errorOf(await api(`/assets/${file.id}?width=2300&height=1725&fit=cover&${fiveSharpens}&format=png`, { token: null }))).status).toBe(400);
    expect(await widthOf(await api(`/assets/${file.id}?width=2300&height=40&fit=cover&${fiveSharpens}&format=png`, { token: null }))).toBe(2300);
  });

  it('a preset carrying the chain is refused the same way, anonymously', async () => {
    const file = await small();
    const key = `budget-${crypto.randomUUID().slice(0, 8)}`;
    const preset = { key, width: 2300, format: 'png', transforms: Array.from({ length: 5 }, () => ['sharpen', 10]) };
    const saved = await api('/settings', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ storage_asset_presets: [preset] }) });
    expect(saved.status, await saved.clone().text()).toBe(200);
    const error = await errorOf(await api(`/assets/${file.id}?key=${key}`, { token: null }));
    expect(error).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
    expect(error.message).toMatch(NAMES_THE_BUDGET);
  });

  it('the budget follows ASSETS_TRANSFORM_MAX_PASSES and ASSETS_TRANSFORM_MAX_PIXELS', async () => {
    const file = await small();
    // 300×225 = 67,500 pixels; two passes over 100,000 pixels allow two negates, not a blur (8 passes).
    const vars = { ...env, ASSETS_TRANSFORM_MAX_PIXELS: '100000', ASSETS_TRANSFORM_MAX_PASSES: '2' };
    const get = (query: string) => app.request(`/assets/${file.id}?width=300&format=png&${query}`, {}, vars);
    expect(await widthOf(await get(ops(['negate'], ['negate'])))).toBe(300);
    const error = await errorOf(await get(ops(['blur', 2])));
    expect(error).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
    expect(error.message).toMatch(/at most 2 passes over 100000 pixels/);
    expect(error.message).toMatch(/blur 8/);
  });

  it('ASSETS_TRANSFORM_MAX_PASSES out of range is refused, naming it', () => {
    for (const value of ['0', '-1', '1000', 'many']) {
      const issues = (() => {
        try {
          parseConfig({ ...env, ASSETS_TRANSFORM_MAX_PASSES: value });
        } catch (error) {
          return JSON.stringify((error as AppError).extensions);
        }
        return 'accepted';
      })();
      expect(issues, value).toContain('ASSETS_TRANSFORM_MAX_PASSES');
    }
  });
});
