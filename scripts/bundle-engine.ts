/**
 * Bundles Worker code for Node (esbuild), loading `.wasm` imports as wrangler does — a compiled
 * WebAssembly.Module — so the image engine can run outside workerd: in the decoder fuzz test's
 * worker threads and in the bench's engine-only cases. Runs in Node.
 */
import { readFile } from 'node:fs/promises';
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
