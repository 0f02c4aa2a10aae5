import { describe, expect, it } from 'vitest';
import { hex } from '../../src/lib/bytes';
import { ResumableSha256 } from '../../src/lib/resumable-sha256';
import { bytes } from '../pseudo-random';

const native = async (data: Uint8Array) => hex(await crypto.subtle.digest('SHA-256', data));

describe('ResumableSha256', () => {
  it('equals the runtime SHA-256 around every padding boundary', async () => {
    for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096 + 7]) {
      const data = bytes(n, n + 1);
      const h = new ResumableSha256();
      h.update(data);
      expect(h.hex(), `${n} bytes`).toBe(await native(data));
    }
  });

  it('fed in random pieces and saved and loaded between them, gives the same digest', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const data = bytes(50_000 + seed * 997, seed);
      const cuts = bytes(40, seed + 100);
      let h = new ResumableSha256();
      let at = 0;
      for (const c of cuts) {
        const end = Math.min(data.byteLength, at + (c % 2 === 0 ? c : c * 37));
        h.update(data.subarray(at, end));
        at = end;
        const saved = h.save();
        h = ResumableSha256.load(saved);
        expect(h.hashed).toBe(at);
      }
      h.update(data.subarray(at));
      expect(h.hex()).toBe(await native(data));
    }
  });

  it('a digest leaves the hasher as it was', async () => {
    const h = new ResumableSha256();
    h.update(bytes(100, 3));
    h.hex();
    h.update(bytes(50, 4));
    const whole = new Uint8Array(150);
    whole.set(bytes(100, 3));
    whole.set(bytes(50, 4), 100);
    expect(h.hex()).toBe(await native(whole));
  });

  it('refuses a state that is not one', () => {
    for (const bad of ['', btoa('x'.repeat(39)), btoa('x'.repeat(104)), btoa('\0'.repeat(32) + '\0\0\0\0\0\0\0\0' + 'abc')]) {
      expect(() => ResumableSha256.load(bad)).toThrow(/saved SHA-256 state/);
    }
  });
});
