import turboWasm from '@cwasm/jpeg-turbo/jpeg-turbo.wasm';

/** 8-bit RGBA pixels, row by row (the decoders' common shape; ./decode.ts names it Pixels). */
interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The TurboJPEG API of libjpeg-turbo, as @cwasm/jpeg-turbo compiles it to WebAssembly. */
interface TurboJpeg {
  memory: WebAssembly.Memory;
  malloc(size: number): number;
  free(pointer: number): void;
  tjInitDecompress(): number;
  tjDecompressHeader3(handle: number, src: number, size: number, width: number, height: number, subsamp: number, colorspace: number): number;
  tjDecompress2(handle: number, src: number, size: number, dst: number, width: number, pitch: number, height: number, pixelFormat: number, flags: number): number;
  tjDestroy(handle: number): number;
}

const TJPF_RGBA = 7;
const TJPF_CMYK = 11;
const TJCS_CMYK = 3;
const TJCS_YCCK = 4;
/** An instance whose memory grew past this is dropped after its job: WebAssembly memory never shrinks. */
const KEEP_BYTES = 16 * 1024 * 1024;

/** libjpeg reports an error by longjmp, which this build turns into an exception out of the call. */
class LibjpegError extends Error {}

const noSyscall = () => 0;
let current: TurboJpeg | undefined;

function instantiate(): TurboJpeg {
  const instance = new WebAssembly.Instance(turboWasm, {
    env: {
      setjmp: () => 0,
      longjmp: () => {
        throw new LibjpegError('libjpeg refused the file');
      },
    },
    wasi_snapshot_preview1: { proc_exit: noSyscall, environ_sizes_get: noSyscall, environ_get: noSyscall, fd_close: noSyscall, fd_seek: noSyscall, fd_write: noSyscall },
  });
  return instance.exports as unknown as TurboJpeg;
}

/**
 * Decodes a JPEG (baseline or progressive, grayscale, YCbCr, CMYK/YCCK) at `scale`/8 of its size,
 * straight from the DCT coefficients (libjpeg-turbo's scaled IDCT: a 12 MP photo for a 400 px
 * thumbnail is decoded as 504×378). 12-bit and arithmetic-coded files are refused by this 8-bit build.
 *
 * An error leaves libjpeg by an exception, so whatever it had allocated is never freed (measured: a
 * reused instance grew to 220 MiB over 200 corrupt files): after any error the instance is dropped
 * and the next job gets a fresh one. So is an instance that grew past KEEP_BYTES (a progressive
 * file keeps every coefficient: ~36 MB at 12 MP), so the isolate does not keep that peak.
 */
export function decodeJpeg(bytes: Uint8Array, scale: 1 | 2 | 4 | 8): Rgba {
  const tj = (current ??= instantiate());
  let clean = false;
  try {
    const src = tj.malloc(bytes.byteLength);
    new Uint8Array(tj.memory.buffer, src, bytes.byteLength).set(bytes);
    const handle = tj.tjInitDecompress();
    const info = tj.malloc(16);
    if (handle === 0 || tj.tjDecompressHeader3(handle, src, bytes.byteLength, info, info + 4, info + 8, info + 12) !== 0) throw new LibjpegError('unreadable header');
    const [width = 0, height = 0, , colorspace] = new Int32Array(tj.memory.buffer, info, 4);
    const cmyk = colorspace === TJCS_CMYK || colorspace === TJCS_YCCK;
    const w = Math.ceil((width * scale) / 8);
    const h = Math.ceil((height * scale) / 8);
    const dst = tj.malloc(w * h * 4);
    if (dst === 0 || tj.tjDecompress2(handle, src, bytes.byteLength, dst, w, 0, h, cmyk ? TJPF_CMYK : TJPF_RGBA, 0) !== 0) throw new LibjpegError('undecodable data');
    const data = new Uint8Array(tj.memory.buffer, dst, w * h * 4).slice();
    tj.free(dst);
    tj.free(info);
    tj.free(src);
    tj.tjDestroy(handle);
    clean = true;
    return { width: w, height: h, data: cmyk ? cmykToRgba(data) : data };
  } finally {
    if (!clean || tj.memory.buffer.byteLength > KEEP_BYTES) current = undefined;
  }
}

/**
 * CMYK as JPEG files store it (Adobe's inverted convention, which libjpeg hands over as stored) to
 * RGBA, in place: R = C·K/255 and so on. Without a colour profile, what browsers and libvips also do.
 */
function cmykToRgba(px: Uint8Array): Uint8Array {
  for (let i = 0; i < px.length; i += 4) {
    const k = px[i + 3] as number;
    px[i] = Math.round(((px[i] as number) * k) / 255);
    px[i + 1] = Math.round(((px[i + 1] as number) * k) / 255);
    px[i + 2] = Math.round(((px[i + 2] as number) * k) / 255);
    px[i + 3] = 255;
  }
  return px;
}
