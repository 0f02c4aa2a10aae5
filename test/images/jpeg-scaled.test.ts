import { describe, expect, it } from 'vitest';
import { decodeJpegScaled } from '../../src/images/jpeg-scaled';
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

describe('decodeJpegScaled against libjpeg-turbo (djpeg -scale N/8 -nosmooth)', () => {
  const files = ['restart-420', 'sampling-444', 'sampling-422', 'gray', 'photo-meta'];
  for (const name of files) {
    for (const n of [1, 2, 4] as const) {
      it(`${name} at ${n}/8`, () => {
        const ref = pnm(fixture(`ref-${name}-${n}.pnm`));
        const got = decodeJpegScaled(fixture(`${name}.jpg`), n);
        expect(got).toBeDefined();
        expect([got?.width, got?.height]).toEqual([ref.width, ref.height]);
        let total = 0;
        let worst = 0;
        for (let i = 0; i < ref.width * ref.height; i++) {
          for (let c = 0; c < 3; c++) {
            const d = Math.abs((got?.pixels[i * 4 + c] as number) - (ref.rgb[i * 3 + c] as number));
            total += d;
            worst = Math.max(worst, d);
          }
          expect(got?.pixels[i * 4 + 3]).toBe(255);
        }
        // Mean error per channel: libjpeg rounds its scaled IDCTs differently; tiny outputs (8×6) weigh each pixel more.
        expect(total / (ref.width * ref.height * 3)).toBeLessThan(2.5);
        expect(worst).toBeLessThan(24);
      });
    }
  }

  it('leaves progressive JPEGs to the full decoder', () => {
    expect(decodeJpegScaled(fixture('progressive.jpg'), 2)).toBeUndefined();
  });
});
