/**
 * Builds src/lib/sha256.wasm from src/lib/sha256.wat with wabt (a dev dependency). The .wasm is
 * committed, so a checkout runs without this step; `test-node/sha256-wasm.test.ts` fails when the
 * two disagree. Run after changing the .wat: `node scripts/build-sha256.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';

export const WAT = fileURLToPath(new URL('../src/lib/sha256.wat', import.meta.url));
export const WASM = fileURLToPath(new URL('../src/lib/sha256.wasm', import.meta.url));

export async function buildSha256(): Promise<Uint8Array> {
  const module = (await wabt()).parseWat('sha256.wat', readFileSync(WAT, 'utf8'));
  module.validate();
  return module.toBinary({}).buffer;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(WASM, await buildSha256());
