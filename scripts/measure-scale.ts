/**
 * `npm run scale` (docs/SCALE.md's numbers): bytes a file record takes in D1, with its
 * indexes. Starts the local stack, uploads FILES (default 500) copies of a photo with the metadata a
 * CMS typically sets (title, description, tags, a folder; EXIF kept by the default allow-list)
 * through POST /files, and reads the local D1's SQLite file (what D1 stores) with dbstat: bytes per
 * table and index before and after, divided by the files added. Prints JSON.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { STACK_TOKEN, startLocalStack } from './local-stack.ts';

const FILES = Number(process.env.FILES ?? 500);
const auth = { authorization: `Bearer ${STACK_TOKEN}` };
const photo = readFileSync(join(import.meta.dirname, '..', 'test', 'fixtures', 'photo-meta.jpg'));

/** The SQLite files under wrangler's D1 state (one database here). */
function d1Files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.sqlite') && f.includes('d1'))
    .map((f) => join(dir, f));
}

/** Bytes per table and index (dbstat's pages in use), summed over the D1 files. */
function usage(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const file of d1Files(dir)) {
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      for (const row of db.prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name').all() as { name: string; bytes: number }[]) {
        out[row.name] = (out[row.name] ?? 0) + row.bytes;
      }
    } finally {
      db.close();
    }
  }
  return out;
}

async function post(path: string, body: BodyInit, headers: Record<string, string> = {}): Promise<{ id: string }> {
  const res = await fetch(`${stack.base}${path}`, { method: 'POST', headers: { ...auth, ...headers }, body });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: { id: string } }).data;
}

const stack = await startLocalStack();
try {
  const folder = await post('/folders', JSON.stringify({ name: 'Travel' }), { 'content-type': 'application/json' });
  const before = usage(stack.persist);
  for (let i = 0; i < FILES; i += 4) {
    await Promise.all(
      Array.from({ length: Math.min(4, FILES - i) }, (_, j) => {
        const form = new FormData();
        form.append('title', `Harbour at dusk, frame ${i + j}`);
        form.append('description', 'Fishing boats in the old harbour after sunset, shot from the east pier for the spring issue.');
        form.append('tags', JSON.stringify(['travel', 'harbour', 'spring-issue']));
        form.append('folder', folder.id);
        form.append('file', new File([photo], `harbour-${i + j}.jpg`, { type: 'image/jpeg' }));
        return post('/files', form);
      }),
    );
  }
  const after = usage(stack.persist);
  const grown = Object.fromEntries(
    Object.entries(after)
      .map(([name, bytes]) => [name, bytes - (before[name] ?? 0)] as const)
      .filter(([, bytes]) => bytes > 0),
  );
  const total = Object.values(grown).reduce((a, b) => a + b, 0);
  const perFile = total / FILES;
  console.log(
    JSON.stringify(
      {
        files: FILES,
        grown_bytes_by_table_and_index: grown,
        bytes_per_file: Math.round(perFile),
        files_per_10_gb: Math.floor((10 * 1000 ** 3) / perFile),
      },
      null,
      2,
    ),
  );
} finally {
  await stack.stop();
}
