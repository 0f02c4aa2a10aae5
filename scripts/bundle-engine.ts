/**
 * Bundles Worker code for Node (esbuild), loading `.wasm` imports as wrangler does — a compiled
 * WebAssembly.Module — so the image engine can run outside workerd: in the decoder fuzz test's
 * worker threads and in the bench's engine-only cases. Runs in Node.
 */
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

export async function bundleForNode(source: string, resolveDir: string, outfile: string): Promise<void> {
  await build({
    stdin: { contents: source, resolveDir, loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    conditions: ['node'],
    outfile,
    logLevel: 'silent',
    plugins: [
      {
        name: 'compiled-wasm',
        setup(b) {
          b.onLoad({ filter: /\.wasm$/ }, async (args) => ({
            contents: `export default new WebAssembly.Module(Buffer.from(${JSON.stringify((await readFile(args.path)).toString('base64'))}, 'base64'));`,
            loader: 'js',
          }));
        },
      },
    ],
  });
}

/** What the bench's engine-only cases call: the pipeline's header read, transform parsing and transform. */
const ENGINE = `export { transformImage } from './src/images/pipeline.ts'; export { readDimensions } from './src/images/dimensions.ts'; export { resolveTransform } from './src/images/transform.ts';`;

/**
 * The image engine bundled as wrangler bundles it and imported into this process, with `extra`
 * exports beside it; `name` keeps the bundles of concurrent cases apart.
 */
export async function loadEngine(name: string, extra = ''): Promise<any> {
  const outfile = join(tmpdir(), `edge-assets-${name}-${process.pid}.mjs`);
  await bundleForNode(`${ENGINE} ${extra}`, join(import.meta.dirname, '..'), outfile);
  return import(outfile);
}
