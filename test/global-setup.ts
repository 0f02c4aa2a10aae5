import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { TestProject } from 'vitest/node';
import { startFaultProxy } from '../scripts/fault-proxy.ts';
import { STAND_IN_API_KEY, startOembedStandIn, VIDEOS } from '../scripts/oembed-stand-in.ts';
import { s3TargetFromEnv, startS3rver } from '../scripts/s3-target.ts';
import { addS3rverMultipartOperations } from '../scripts/s3rver-multipart.ts';


// Runs in Node, not workerd: starts the S3 server the Worker under test talks to.
export default async function setup({ provide }: TestProject) {
  const cleanups: (() => Promise<void>)[] = [];

  const external = await s3TargetFromEnv(process.env);
  let endpoint: string;
  if (external) {
    provide('s3', external.target);
    endpoint = external.target.endpoint;
    cleanups.push(external.cleanup);
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'edge-assets-s3rver-'));
    // Direct-to-bucket uploads resume (ListParts) and abort against it as against any S3.
    addS3rverMultipartOperations();
    const s3rver = await startS3rver({ port: 0, directory: dir, bucket: 'edge-assets-test' });
    provide('s3', s3rver.target);
    endpoint = s3rver.target.endpoint;
    cleanups.push(async () => {
      await s3rver.close();
      await rm(dir, { recursive: true, force: true });
    });
  }
  // The fault suite's storage location reaches the same server through this proxy.
  const proxy = await startFaultProxy(endpoint);
  provide('faultProxy', proxy.endpoint);
  cleanups.push(proxy.close);

  const fixturesDir = join(import.meta.dirname, 'fixtures');
  const fixtures: Record<string, string> = {};
  // Files only: fixtures/photos holds the real photos of the Node reference suites.
  for (const entry of await readdir(fixturesDir, { withFileTypes: true })) {
    if (entry.isFile()) fixtures[entry.name] = (await readFile(join(fixturesDir, entry.name))).toString('base64');
  }
  // Large or special images made here (sharp is Node-only), not committed: a 12 MP progressive
  // JPEG and a 24 MP PNG (smooth, so they stay small), a CMYK JPEG and an AVIF.
  const gradient = sharp({ create: { width: 4032, height: 3024, channels: 3, background: '#3060a0' } }).composite([
    { input: Buffer.from(`<svg width="4032" height="3024"><defs><linearGradient id="g"><stop offset="0" stop-color="#f00"/><stop offset="1" stop-color="#00f"/></linearGradient></defs><rect width="4032" height="3024" fill="url(#g)"/></svg>`) },
  ]);
  fixtures['generated-progressive-12mp.jpg'] = (await gradient.jpeg({ quality: 80, progressive: true }).toBuffer()).toString('base64');
  fixtures['generated-24mp.png'] = (await gradient.clone().resize(6000, 4000).png().toBuffer()).toString('base64');
  fixtures['generated.avif'] = (await sharp(Buffer.from(fixtures['generated-progressive-12mp.jpg'], 'base64')).resize(160, 120).avif({ quality: 70 }).toBuffer()).toString('base64');
  // 5000×5000 of one colour: 808 bytes, whose AV1 frame needs ~140 MB to decode.
  fixtures['generated-25mp.avif'] = (await sharp({ create: { width: 5000, height: 5000, channels: 3, background: '#3060a0' } }).avif({ quality: 30, effort: 0 }).toBuffer()).toString('base64');
  // 12 MP WebP (lossy and lossless) and AVIF sources: test/assets/bigimg.test.ts.
  const gradient12 = Buffer.from(fixtures['generated-progressive-12mp.jpg'], 'base64');
  fixtures['generated-12mp.webp'] = (await sharp(gradient12).webp({ quality: 80 }).toBuffer()).toString('base64');
  fixtures['generated-12mp-lossless.webp'] = (await sharp(gradient12).webp({ lossless: true, effort: 0 }).toBuffer()).toString('base64');
  fixtures['generated-12mp.avif'] = (await sharp(gradient12).avif({ quality: 50, chromaSubsampling: '4:2:0', effort: 0 }).toBuffer()).toString('base64');
  fixtures['generated-cmyk.jpg'] = (await sharp(Buffer.from(fixtures['photo-meta.jpg'] as string, 'base64')).toColourspace('cmyk').jpeg().toBuffer()).toString('base64');
  // TIFF sources (test/assets/tiff.test.ts): libtiff writes the directory after the image data, so
  // the uncompressed one has its directory ~2.9 MB in, past every first read.
  const tiff = sharp(Buffer.from(fixtures['generated-progressive-12mp.jpg'], 'base64')).resize(1200, 800);
  fixtures['generated-strips.tiff'] = (await tiff.clone().tiff({ compression: 'none' }).toBuffer()).toString('base64');
  fixtures['generated-tiles.tiff'] = (await tiff.clone().ensureAlpha(0.5).tiff({ compression: 'deflate', predictor: 'horizontal', tile: true, tileWidth: 256, tileHeight: 256 }).toBuffer()).toString('base64');
  fixtures['generated-jpeg.tiff'] = (await tiff.clone().tiff({ compression: 'jpeg', quality: 85 }).toBuffer()).toString('base64');
  provide('fixtures', fixtures);

  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  provide('silentPort', (silent.address() as net.AddressInfo).port);
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  // The embed tests' YouTube and Vimeo, and a port that was free a moment ago (nothing listens).
  const standIn = await startOembedStandIn();
  cleanups.push(standIn.close);
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  provide('oembedStandIn', { port: standIn.port, closedPort, apiKey: STAND_IN_API_KEY, videos: VIDEOS });

  return async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
}
