import { describe, expect, it } from 'vitest';
import { decodeJpeg } from '../../src/images/jpeg-turbo';
import { fixture } from '../helpers';

/** A binary PGM/PPM (P5/P6) from libjpeg-turbo's djpeg, as RGB. */
function pnm(bytes: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  const header = new TextDecoder('latin1').decode(bytes.subarray(0, 32));
  const m = /^(P5|P6)\s+(\d+)\s+(\d+)\s+255\s/.exec(header);
  if (!m) throw new Error('not a PNM');
  const [, kind, w, h] = m;
  const width = Number(w);
  const height = Number(h);
  const data = bytes.subarray(m[0].length);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = kind === 'P5' ? (data[i] as number) : (data[i * 3 + c] as number);
  }
  return { width, height, rgb };
}

describe('decodeJpeg (libjpeg-turbo in WebAssembly) against djpeg -scale N/8 -nosmooth', () => {
  const files = ['restart-420', 'sampling-444', 'sampling-422', 'gray', 'photo-meta'];
  for (const name of files) {
    for (const n of [1, 2, 4] as const) {
      it(`${name} at ${n}/8`, () => {
        const ref = pnm(fixture(`ref-${name}-${n}.pnm`));
        const got = decodeJpeg(fixture(`${name}.jpg`), n);
        expect(got).toBeDefined();
        expect([got?.width, got?.height]).toEqual([ref.width, ref.height]);
        let total = 0;
        let worst = 0;
        for (let i = 0; i < ref.width * ref.height; i++) {
          for (let c = 0; c < 3; c++) {
            const d = Math.abs((got?.data[i * 4 + c] as number) - (ref.rgb[i * 3 + c] as number));
            total += d;
            worst = Math.max(worst, d);
          }
          expect(got?.data[i * 4 + 3]).toBe(255);
        }
        // The same library; only the chroma upsampling differs (djpeg -nosmooth, TurboJPEG's fancy upsampling).
        expect(total / (ref.width * ref.height * 3)).toBeLessThan(2.5);
        expect(worst).toBeLessThan(24);
      });
    }
  }

  it('decodes progressive JPEGs at every scale, and refuses a damaged one with an error, not a trap', () => {
    for (const n of [1, 2, 4, 8] as const) {
      const got = decodeJpeg(fixture('progressive.jpg'), n);
      expect(got.data.length).toBe(got.width * got.height * 4);
    }
    const broken = fixture('photo-meta.jpg').slice();
    broken.fill(0x55, 400, 900);
    for (let i = 0; i < 50; i++) expect(() => decodeJpeg(broken.subarray(0, 300), 2)).toThrow();
    // A fresh instance after every error: the decoder still works.
    expect(decodeJpeg(fixture('photo-meta.jpg'), 8).width).toBeGreaterThan(0);
  });
});
