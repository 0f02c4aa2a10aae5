import { env } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { app } from '../../src/app';
import { parseConfig } from '../../src/config';
import { AppError } from '../../src/errors/app-error';
import { embeddedVideo } from '../../src/files/embeds';
import { endpointUrl, isoDurationSeconds, oembedFacts } from '../../src/files/oembed';
import { readDimensions } from '../../src/images/dimensions';
import { ADMIN_TOKEN, errorOf, type FileJson, fixture, form, s3, sha256 } from '../helpers';

// YouTube and Vimeo are scripts/oembed-stand-in.ts, on loopback: every `*.stand-in.example` URL the
// Worker fetches is routed there (down.stand-in.example to a port nothing listens on), the S3
// server's requests go through, and anything else is refused here, so no test reaches the network.
const standIn = inject('oembedStandIn');
const { videos } = standIn;
const vars = {
  ...env,
  YOUTUBE_OEMBED_URL: 'https://oembed.stand-in.example/youtube/oembed',
  VIMEO_OEMBED_URL: 'https://oembed.stand-in.example/vimeo/oembed.json',
  YOUTUBE_API_URL: 'https://api.stand-in.example/youtube/v3/videos',
};
const withKey = { ...vars, YOUTUBE_API_KEY: standIn.apiKey };

const real = globalThis.fetch;
let fetched: string[] = [];
beforeEach(() => {
  fetched = [];
  const storageHost = new URL(s3.endpoint).host;
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    const url = new URL(request.url);
    if (url.host === storageHost) return real(request);
    fetched.push(url.href);
    const port = url.hostname === 'down.stand-in.example' ? standIn.closedPort : standIn.port;
    if (url.hostname.endsWith('.stand-in.example')) return real(new Request(`http://127.0.0.1:${port}${url.pathname}${url.search}`, request));
    throw new Error(`the tests reach no network (${url.host})`);
  });
});
afterEach(() => vi.restoreAllMocks());

type Vars = Record<string, unknown>;

function importUrl(url: string, data?: Record<string, unknown>, withVars: Vars = vars) {
  const init = { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ url, ...(data ? { data } : {}) }) };
  return app.request('/files/import', init, withVars);
}

async function imported(url: string, data?: Record<string, unknown>, withVars: Vars = vars): Promise<FileJson & { embed: string | null; duration: number | null; description: string | null }> {
  const res = await importUrl(url, data, withVars);
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { data: FileJson & { embed: string | null; duration: number | null; description: string | null } }).data;
}

const asset = (path: string) => app.request(path, {}, vars);
const standInRequests = async () => (await (await real(`http://127.0.0.1:${standIn.port}/__requests`)).json()) as { path: string; headers: Record<string, string> }[];

describe('embeds: YouTube', () => {
  it('a watch URL makes an embed record whose bytes are the thumbnail, served and transformed as an image', async () => {
    const file = await imported(`https://www.youtube.com/watch?v=${videos.youtube}&t=42s`);
    expect(file).toMatchObject({
      type: 'embed/youtube',
      embed: videos.youtube,
      title: `Stand-in video ${videos.youtube}`,
      filename_download: `youtube-${videos.youtube}.jpg`,
      width: 480,
      height: 360,
      duration: null,
    });
    const asked = (await standInRequests()).map((r) => r.path);
    expect(asked).toContain(`/youtube/oembed?url=${encodeURIComponent(`https://www.youtube.com/watch?v=${videos.youtube}`)}&format=json`);

    const original = await asset(`/assets/${file.id}`);
    expect(original.status).toBe(200);
    expect(original.headers.get('content-type')).toBe('image/jpeg');
    const thumbnail = await (await real(`http://127.0.0.1:${standIn.port}/vi/${videos.youtube}/hqdefault.jpg`)).arrayBuffer();
    expect(await sha256(await original.arrayBuffer())).toBe(await sha256(thumbnail));
    expect(file.filesize).toBe(String(thumbnail.byteLength));

    const small = await asset(`/assets/${file.id}?width=120&format=png`);
    expect(small.status).toBe(200);
    expect(small.headers.get('content-type')).toBe('image/png');
    expect(readDimensions(new Uint8Array(await small.arrayBuffer()))).toMatchObject({ width: 120, height: 90 });

    const listed = await app.request(`/files?filter[embed][_eq]=${videos.youtube}&fields=id,embed,type`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, vars);
    expect(((await listed.json()) as { data: unknown[] }).data).toContainEqual({ id: file.id, embed: videos.youtube, type: 'embed/youtube' });
  });

  it('youtu.be, /shorts/, /embed/ and m.youtube.com name the same video; a title the request sets wins', async () => {
    for (const url of [`https://youtu.be/${videos.youtube}?si=x`, `https://www.youtube.com/shorts/${videos.youtube}`, `https://www.youtube-nocookie.com/embed/${videos.youtube}`, `http://m.youtube.com/watch?v=${videos.youtube}`]) {
      expect(await imported(url), url).toMatchObject({ type: 'embed/youtube', embed: videos.youtube });
    }
    expect(await imported(`https://youtu.be/${videos.youtube}`, { title: 'Mine' })).toMatchObject({ title: 'Mine', embed: videos.youtube });
  });

  it('with YOUTUBE_API_KEY the Data API gives the duration; the key is in a header, never in a URL, an answer or a log', async () => {
    const logged = [vi.spyOn(console, 'log'), vi.spyOn(console, 'warn'), vi.spyOn(console, 'error')];
    const res = await importUrl(`https://youtu.be/${videos.youtube}`, undefined, withKey);
    const body = await res.text();
    expect(res.status, body).toBe(200);
    expect(JSON.parse(body).data).toMatchObject({ duration: 253, embed: videos.youtube });
    const api = (await standInRequests()).filter((r) => r.path.startsWith('/youtube/v3/videos'));
    expect(api.at(-1)?.path).toBe(`/youtube/v3/videos?part=contentDetails&id=${videos.youtube}`);
    expect(api.at(-1)?.headers['x-goog-api-key']).toBe(standIn.apiKey);

    const refused = await importUrl(`https://youtu.be/${videos.youtube}`, undefined, { ...vars, YOUTUBE_API_KEY: 'a-wrong-key-0123456789abcdef' });
    const refusedBody = await refused.clone().text();
    expect(await errorOf(refused)).toMatchObject({ status: 502, code: 'SOURCE_UNAVAILABLE', message: expect.stringMatching(/refused YOUTUBE_API_KEY \(answered 403\)/) });

    const everything = [body, refusedBody, ...fetched, ...logged.flatMap((spy) => spy.mock.calls.map((call) => call.map(String).join(' ')))].join('\n');
    expect(everything).not.toContain(standIn.apiKey);
    expect(everything).not.toContain('a-wrong-key-0123456789abcdef');
  });
});

describe('embeds: Vimeo', () => {
  it('vimeo.com/<id> and player.vimeo.com/video/<id> make embed/vimeo records with the duration from the oEmbed answer', async () => {
    for (const url of [`https://vimeo.com/${videos.vimeo}`, `https://player.vimeo.com/video/${videos.vimeo}?h=abc`]) {
      const file = await imported(url);
      expect(file, url).toMatchObject({
        type: 'embed/vimeo',
        embed: videos.vimeo,
        title: `Stand-in Vimeo ${videos.vimeo}`,
        description: 'A video on the stand-in.',
        duration: 62,
        width: 640,
        height: 360,
        filename_download: `vimeo-${videos.vimeo}.webp`,
      });
      const original = await asset(`/assets/${file.id}`);
      expect(original.headers.get('content-type')).toBe('image/webp');
      const small = await asset(`/assets/${file.id}?width=64&format=jpg`);
      expect(small.headers.get('content-type')).toBe('image/jpeg');
      expect(readDimensions(new Uint8Array(await small.arrayBuffer()))).toMatchObject({ width: 64, height: 36 });
    }
  });
});

describe('embeds: replaced', () => {
  it('new bytes make an embed a plain file of their type', async () => {
    const file = await imported(`https://vimeo.com/${videos.vimeo}`);
    const init = { method: 'PATCH', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: form([{ name: 'still.png', data: fixture('alpha.png'), type: 'image/png' }]) };
    const res = await app.request(`/files/${file.id}`, init, vars);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { data: unknown }).data).toMatchObject({ type: 'image/png', embed: null, duration: null, filename_download: 'still.png' });
    expect((await asset(`/assets/${file.id}`)).headers.get('content-type')).toBe('image/png');
  });
});

describe('embeds: refused and failing', () => {
  it('a video URL with a malformed id is a 400 and nothing is fetched', async () => {
    for (const url of [
      'https://www.youtube.com/watch?v=short',
      `https://www.youtube.com/watch?v=${videos.youtube}X`,
      'https://www.youtube.com/watch',
      'https://youtu.be/',
      'https://youtu.be/abc$defghij',
      "https://www.youtube.com/embed/dQw4w9WgXc'",
      'https://www.youtube.com/shorts/dQw4w9WgXcQ%2F..',
      'https://player.vimeo.com/video/12a',
      'https://player.vimeo.com/video/0123',
    ]) {
      const error = await errorOf(await importUrl(url));
      expect(error, url).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
      expect(error.message, url).toMatch(/has the form .* but/);
    }
    expect(fetched).toEqual([]);
  });

  it('other URLs, on these hosts or others, are plain imports', () => {
    for (const url of [
      'https://www.youtube.com/channel/UC123',
      'https://www.youtube.com/watch/extra?v=dQw4w9WgXcQ',
      'https://vimeo.com/channels/staffpicks/76979871',
      'https://vimeo.com/about',
      'https://notyoutube.com/watch?v=dQw4w9WgXcQ',
      'https://youtube.com.stand-in.example/watch?v=dQw4w9WgXcQ',
      'https://www.dailymotion.com/video/x7tgad0',
    ]) {
      expect(embeddedVideo(new URL(url)), url).toBeUndefined();
    }
  });

  it('a thumbnail URL imported as it is stays a plain image', async () => {
    const file = await imported(`https://img.stand-in.example/vi/${videos.youtube}/hqdefault.jpg`);
    expect(file).toMatchObject({ type: 'image/jpeg', embed: null, filename_download: 'hqdefault.jpg' });
  });

  it("the provider's refusals and failures are clear errors", async () => {
    const cases: [string, number, string, RegExp][] = [
      [`https://youtu.be/${videos.youtubeMissing}`, 404, 'NOT_FOUND', /YouTube has no video "missing0000"/],
      [`https://youtu.be/${videos.youtubePrivate}`, 400, 'INVALID_PAYLOAD', /does not let video "private0000" be embedded .*answered 401/],
      [`https://youtu.be/${videos.youtubeFailing}`, 502, 'SOURCE_UNAVAILABLE', /oEmbed endpoint failed \(answered 503\)/],
      [`https://youtu.be/${videos.youtubeNotImage}`, 502, 'SOURCE_UNAVAILABLE', /thumbnail of video "notimage000" is not an image \(text\/html\)/],
      [`https://vimeo.com/${videos.vimeoMissing}`, 404, 'NOT_FOUND', /Vimeo has no video "404404"/],
    ];
    for (const [url, status, code, message] of cases) {
      expect(await errorOf(await importUrl(url)), url).toMatchObject({ status, code, message: expect.stringMatching(message) });
    }
  });

  it('a provider that cannot be reached is a 502 saying so', async () => {
    const down = { ...vars, YOUTUBE_OEMBED_URL: 'https://down.stand-in.example/oembed' };
    expect(await errorOf(await importUrl(`https://youtu.be/${videos.youtube}`, undefined, down))).toEqual({
      status: 502,
      code: 'SOURCE_UNAVAILABLE',
      message: 'Could not reach down.stand-in.example: the connection was refused or cut (is a server listening on port 443?).',
    });
  });

  it('an endpoint variable naming a local or metadata address is a configuration error, and nothing is fetched', async () => {
    for (const endpoint of ['http://169.254.169.254/latest/meta-data/', 'http://127.0.0.1:9/oembed', 'http://localhost/oembed']) {
      const error = await errorOf(await importUrl(`https://youtu.be/${videos.youtube}`, undefined, { ...vars, YOUTUBE_OEMBED_URL: endpoint }));
      expect(error, endpoint).toMatchObject({ status: 500, code: 'INVALID_CONFIG', message: expect.stringMatching(/^YOUTUBE_OEMBED_URL cannot be used: .*not allowed/) });
    }
    expect(fetched).toEqual([]);
  });

  it('FILES_MIME_TYPE_ALLOW_LIST applies to the embed type before anything is fetched', async () => {
    const error = await errorOf(await importUrl(`https://youtu.be/${videos.youtube}`, undefined, { ...vars, FILES_MIME_TYPE_ALLOW_LIST: 'image/*' }));
    expect(error).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringMatching(/embed\/youtube/) });
    expect(fetched).toEqual([]);
  });
});

describe("the guard on a provider's answer (no request is made)", () => {
  const noLists = { denyList: [], allowList: [] };
  const hostile = [
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'http://2852039166/latest/meta-data/',
    'http://[::ffff:a9fe:a9fe]/latest/meta-data/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://10.0.0.7/thumb.jpg',
    'http://192.168.1.1/thumb.jpg',
    'http://[fd00::1]/thumb.jpg',
    'http://localhost:8787/thumb.jpg',
    'http://127.0.0.1/thumb.jpg',
    'http://0x7f.1/thumb.jpg',
    'file:///etc/passwd',
    'gopher://i.ytimg.com/x',
    '/relative/thumb.jpg',
  ];
  for (const thumbnail of hostile) {
    it(`refuses a thumbnail_url of ${thumbnail}`, () => {
      const call = () => oembedFacts({ title: 'x', thumbnail_url: thumbnail }, 'YouTube', { denyList: ['0.0.0.0', '169.254.169.254'], allowList: [] });
      expect(call).toThrow(AppError);
      expect(call).toThrow(/^YouTube's oEmbed answer gives a thumbnail that may not be fetched: /);
    });
  }

  it('refuses what IMPORT_IP_DENY_LIST adds, and answers without a usable thumbnail', () => {
    expect(() => oembedFacts({ thumbnail_url: 'https://i.ytimg.com/vi/x/hqdefault.jpg' }, 'YouTube', { denyList: ['ytimg.com'], allowList: [] })).toThrow(/IMPORT_IP_DENY_LIST/);
    for (const answer of [{}, { thumbnail_url: 42 }, { thumbnail_url: '' }, [], 'text', null]) {
      expect(() => oembedFacts(answer, 'Vimeo', noLists), JSON.stringify(answer)).toThrow(/has no thumbnail_url/);
    }
  });

  it('keeps only well-formed facts from an answer', () => {
    const facts = oembedFacts({ thumbnail_url: 'https://i.vimeocdn.com/video/1.jpg', title: 7, description: ['x'], duration: -5 }, 'Vimeo', noLists);
    expect(facts).toEqual({ title: undefined, description: undefined, duration: undefined, thumbnail: new URL('https://i.vimeocdn.com/video/1.jpg') });
  });

  it('guards the configured endpoints too, naming the variable', () => {
    expect(() => endpointUrl('http://[::1]:7660/oembed', 'VIMEO_OEMBED_URL', {}, noLists)).toThrow(/^VIMEO_OEMBED_URL cannot be used: /);
    expect(endpointUrl('https://vimeo.com/api/oembed.json', 'VIMEO_OEMBED_URL', { url: 'https://vimeo.com/1' }, noLists).href).toBe(
      'https://vimeo.com/api/oembed.json?url=https%3A%2F%2Fvimeo.com%2F1',
    );
  });
});

describe('the embed variables', () => {
  it('are checked once, named without their values', () => {
    const base = { STORAGE_LOCATIONS: 's3', STORAGE_S3_ENDPOINT: s3.endpoint, STORAGE_S3_BUCKET: 'b', STORAGE_S3_KEY: 'k', STORAGE_S3_SECRET: 's' };
    expect(parseConfig(base).embeds).toEqual({
      youtubeOembedUrl: 'https://www.youtube.com/oembed',
      vimeoOembedUrl: 'https://vimeo.com/api/oembed.json',
      youtubeApiUrl: 'https://www.googleapis.com/youtube/v3/videos',
      youtubeApiKey: undefined,
    });
    const secret = 'short key with spaces';
    const call = () => parseConfig({ ...base, YOUTUBE_API_KEY: secret, VIMEO_OEMBED_URL: 'vimeo.com/api' });
    expect(call).toThrow(/YOUTUBE_API_KEY expected an API key/);
    expect(call).toThrow(/VIMEO_OEMBED_URL expected an http:\/\/ or https:\/\/ URL/);
    expect(call).not.toThrow(new RegExp(secret));
  });
});

describe('ISO 8601 durations (YouTube Data API)', () => {
  it('reads what YouTube writes and refuses anything else', () => {
    const cases: [string, number | undefined][] = [
      ['PT4M13S', 253],
      ['PT1H', 3600],
      ['P1DT2H3M4S', 93784],
      ['P2W', 1209600],
      ['PT0S', 0],
      ['P0D', 0],
      ['PT1.6S', 2],
      ['P', undefined],
      ['PT', undefined],
      ['P1DT', undefined],
      ['4M13S', undefined],
      ['PT-1S', undefined],
      ['', undefined],
    ];
    for (const [text, seconds] of cases) expect(isoDurationSeconds(text), text).toBe(seconds);
  });
});
