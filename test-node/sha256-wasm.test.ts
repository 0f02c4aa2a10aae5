import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildSha256, WASM } from '../scripts/build-sha256.ts';

describe('sha256.wasm', () => {
  it('is what sha256.wat builds to (run `node scripts/build-sha256.ts` after changing the .wat)', async () => {
    expect(Buffer.from(await buildSha256()).equals(readFileSync(WASM))).toBe(true);
  });
});
