import * as z from 'zod/mini';
import { keysInput } from '../schemas/common';
import {
  fileAnswer,
  fileItemAnswer,
  fileListAnswer,
  filePatchInput,
  fileRecordsAnswer,
  filesAnswer,
  filesBatchInput,
  fileUploadInput,
  importInput,
  signedUrlAnswer,
} from '../schemas/files';
import { folderAnswer, folderInput, folderItemAnswer, folderListAnswer } from '../schemas/folders';
import { ITEM_QUERY, LIST_QUERY } from '../schemas/query';
import { directAborted, directCompleted, directCompleteInput, directPartUrl, directParts, directStarted, directStartInput } from '../schemas/s3-direct';
import { healthAnswer, infoAnswer, openApiAnswer } from '../schemas/server';
import { settingsAnswer, settingsPatch } from '../schemas/settings';
import { tokenAnswer, tokenInput, tokenMeAnswer, tokensAnswer } from '../schemas/tokens';
import { tusAnswerHeaders, tusHeaders } from '../schemas/tus';
import { webhookAnswer, webhookAttemptsAnswer, webhookCreatedAnswer, webhookInput, webhookPatch, webhooksAnswer } from '../schemas/webhooks';
import { assetQuery, json, jsonBody, noContent, type Parameter, query, type RouteDoc } from './route-table';

const header = (h: { name: string; schema: z.ZodMiniType; description: string }, required = false): Parameter => ({ ...h, in: 'header', required });
const keyParam: Parameter = { name: 'key', in: 'query', required: true, schema: z.string(), description: 'The key POST /files/s3/multipart answered.' };
const expiresIn: Parameter = { name: 'expires_in', in: 'query', schema: z.string().check(z.regex(/^\d+$/)), description: 'Seconds the URL lives (default 3600).' };
const uploadBody = { 'multipart/form-data': fileUploadInput };

/**
 * Every route of the API, as the OpenAPI document at /server/specs/oas describes it: one entry per
 * route, naming the schemas (src/schemas/) its handler validates and answers. Adding a route to
 * the app means adding its entry here; test/openapi/coverage.test.ts fails until it is.
 */
export const ROUTES: RouteDoc[] = [
  // Server
  { methods: ['get'], path: '/server/health', tag: 'server', access: 'public', summary: 'Health of D1 and the default storage', answers: { 200: json(healthAnswer, 'All checks pass.'), 503: json(healthAnswer, 'A check failed.') } },
  { methods: ['get'], path: '/server/ping', tag: 'server', access: 'public', summary: 'Liveness: `pong`', answers: { 200: { description: 'pong', content: { 'text/plain': z.literal('pong') } } } },
  { methods: ['get'], path: '/server/info', tag: 'server', access: 'optional', summary: 'The project, and the query limits for a valid token', answers: { 200: json(infoAnswer, 'The server\'s info.') } },
  { methods: ['get'], path: '/server/specs/oas', tag: 'server', access: 'public', summary: 'This OpenAPI 3.1 document', answers: { 200: json(openApiAnswer, 'The document.') } },

  // Files
  { methods: ['get'], path: '/files', tag: 'files', access: 'read', summary: 'List files (Directus query)', parameters: query(LIST_QUERY), answers: { 200: json(fileListAnswer, 'The page of files, or aggregate rows.') } },
  { methods: ['post'], path: '/files', tag: 'files', access: 'upload', summary: 'Upload one or more files (multipart, streamed)', body: { content: uploadBody }, answers: { 200: json(filesAnswer, 'The new file (several: an array).') } },
  { methods: ['patch'], path: '/files', tag: 'files', access: 'admin', summary: 'Change the same fields of several files', body: jsonBody(filesBatchInput), answers: { 200: json(fileRecordsAnswer, 'The changed files.') } },
  { methods: ['delete'], path: '/files', tag: 'files', access: 'admin', summary: 'Delete several files', body: jsonBody(keysInput), answers: { 204: noContent } },
  { methods: ['post'], path: '/files/import', tag: 'files', access: 'upload', summary: 'Import a file from a URL (through the import guard)', body: jsonBody(importInput), answers: { 200: json(fileAnswer, 'The new file.') } },
  { methods: ['get'], path: '/files/:id', tag: 'files', access: 'read', summary: 'Read a file\'s record', parameters: query(ITEM_QUERY), answers: { 200: json(fileItemAnswer, 'The file.') } },
  {
    methods: ['patch'],
    path: '/files/:id',
    tag: 'files',
    access: 'admin',
    summary: 'Change a file\'s fields (JSON), or replace its bytes (multipart)',
    body: { content: { 'application/json': filePatchInput, ...uploadBody } },
    answers: { 200: json(fileAnswer, 'The changed file.') },
  },
  { methods: ['delete'], path: '/files/:id', tag: 'files', access: 'admin', summary: 'Delete a file and its bytes', answers: { 204: noContent } },
  { methods: ['post'], path: '/files/:id/rotate-hash', tag: 'files', access: 'admin', summary: 'A new private hash: old private links stop working', answers: { 200: json(fileAnswer, 'The file, with its new hash.') } },
  { methods: ['get'], path: '/files/:id/sign', tag: 'files', access: 'admin', summary: 'A signed, expiring /assets URL', parameters: [expiresIn, ...assetQuery().filter((p) => !['expires', 'signature'].includes(p.name))], answers: { 200: json(signedUrlAnswer, 'The URL.') } },

  // TUS 1.0.0
  {
    methods: ['options'],
    path: '/files/tus/*',
    tag: 'tus',
    access: 'public',
    summary: 'TUS discovery: version, extensions, maximum size, checksum algorithms',
    answers: { 204: { description: 'The server\'s TUS capabilities.', headers: ['Tus-Version', 'Tus-Extension', 'Tus-Max-Size', 'Tus-Checksum-Algorithm'].map((name) => ({ name, description: name })) } },
  },
  {
    methods: ['post'],
    path: '/files/tus',
    tag: 'tus',
    access: 'upload',
    summary: 'Create an upload (creation, creation-with-upload, defer-length, concatenation)',
    parameters: [header(tusHeaders.tusResumable, true), header(tusHeaders.uploadLength), header(tusHeaders.uploadDeferLength), header(tusHeaders.uploadMetadata), header(tusHeaders.uploadConcat), header(tusHeaders.uploadChecksum)],
    body: { content: { 'application/offset+octet-stream': null }, optional: true },
    answers: { 201: { description: 'Created.', headers: [tusAnswerHeaders.location, tusAnswerHeaders.uploadOffset, tusAnswerHeaders.uploadExpires, tusAnswerHeaders.fileId] } },
  },
  {
    methods: ['head', 'get'],
    path: '/files/tus/:id',
    tag: 'tus',
    access: 'upload',
    summary: 'Where an upload stands',
    parameters: [header(tusHeaders.tusResumable, true)],
    answers: { 200: { description: 'Its offset, length, metadata and (once complete) file id.', headers: [tusAnswerHeaders.uploadOffset, tusAnswerHeaders.uploadExpires, tusAnswerHeaders.fileId] } },
  },
  {
    methods: ['patch'],
    path: '/files/tus/:id',
    tag: 'tus',
    access: 'upload',
    summary: 'Append bytes at Upload-Offset',
    parameters: [header(tusHeaders.tusResumable, true), header(tusHeaders.uploadOffset, true), header(tusHeaders.uploadLength), header(tusHeaders.uploadChecksum)],
    body: { content: { 'application/offset+octet-stream': null } },
    answers: { 204: { description: 'Appended.', headers: [tusAnswerHeaders.uploadOffset, tusAnswerHeaders.uploadExpires, tusAnswerHeaders.fileId] } },
  },
  { methods: ['delete'], path: '/files/tus/:id', tag: 'tus', access: 'upload', summary: 'Terminate an upload', parameters: [header(tusHeaders.tusResumable, true)], answers: { 204: noContent } },

  // Direct-to-bucket uploads (Uppy AwsS3)
  { methods: ['get'], path: '/files/s3/params', tag: 'direct uploads', access: 'upload', summary: 'Not offered: every direct upload is multipart (always 400)', answers: {} },
  { methods: ['post'], path: '/files/s3/multipart', tag: 'direct uploads', access: 'upload', summary: 'Start a multipart upload to the bucket', body: jsonBody(directStartInput), answers: { 200: json(directStarted, 'The upload.') } },
  { methods: ['get'], path: '/files/s3/multipart/:uploadId', tag: 'direct uploads', access: 'upload', summary: 'The parts the bucket holds', parameters: [keyParam], answers: { 200: json(directParts, 'The parts.') } },
  { methods: ['delete'], path: '/files/s3/multipart/:uploadId', tag: 'direct uploads', access: 'upload', summary: 'Abort the upload', parameters: [keyParam], answers: { 200: json(directAborted, 'Aborted.') } },
  { methods: ['get'], path: '/files/s3/multipart/:uploadId/:partNumber', tag: 'direct uploads', access: 'upload', summary: 'A presigned URL for one part', parameters: [keyParam], answers: { 200: json(directPartUrl, 'The URL.') } },
  { methods: ['post'], path: '/files/s3/multipart/:uploadId/complete', tag: 'direct uploads', access: 'upload', summary: 'Complete the upload: the file record', parameters: [keyParam], body: jsonBody(directCompleteInput), answers: { 200: json(directCompleted, 'The new file.') } },

  // Folders
  { methods: ['get'], path: '/folders', tag: 'folders', access: 'read', summary: 'List folders (Directus query)', parameters: query(LIST_QUERY), answers: { 200: json(folderListAnswer, 'The page of folders, or aggregate rows.') } },
  { methods: ['post'], path: '/folders', tag: 'folders', access: 'upload', summary: 'Create a folder', body: jsonBody(folderInput), answers: { 200: json(folderAnswer, 'The new folder.') } },
  { methods: ['delete'], path: '/folders', tag: 'folders', access: 'admin', summary: 'Delete several folders (their files move to the root)', body: jsonBody(keysInput), answers: { 204: noContent } },
  { methods: ['get'], path: '/folders/:id', tag: 'folders', access: 'read', summary: 'Read a folder', parameters: query(ITEM_QUERY), answers: { 200: json(folderItemAnswer, 'The folder.') } },
  { methods: ['patch'], path: '/folders/:id', tag: 'folders', access: 'admin', summary: 'Rename or move a folder', body: jsonBody(folderInput), answers: { 200: json(folderAnswer, 'The folder.') } },
  { methods: ['delete'], path: '/folders/:id', tag: 'folders', access: 'admin', summary: 'Delete a folder', answers: { 204: noContent } },

  // Assets
  ...(['/assets/:id', '/assets/:id/:filename'] as const).map(
    (path): RouteDoc => ({
      methods: ['get', 'head'],
      path,
      tag: 'assets',
      access: 'optional',
      summary: path.endsWith('filename') ? 'The file under a download name of your own' : 'The file, or a transformed image (`id` may be a private hash)',
      parameters: [...assetQuery(), { name: 'access_token', in: 'query', schema: z.string(), description: 'A token, for a private file without Authorization.' }],
      answers: {
        200: { description: 'The bytes (Range and conditional requests honoured: 206, 304).', content: { '*/*': null } },
        206: { description: 'The range asked for.', content: { '*/*': null } },
        304: { description: 'Not modified.' },
      },
    }),
  ),

  // Settings
  { methods: ['get'], path: '/settings', tag: 'settings', access: 'read', summary: 'The asset whitelist and file naming', answers: { 200: json(settingsAnswer, 'The settings.') } },
  { methods: ['patch'], path: '/settings', tag: 'settings', access: 'admin', summary: 'Change the settings', body: jsonBody(settingsPatch), answers: { 200: json(settingsAnswer, 'The settings.') } },

  // Tokens
  { methods: ['get'], path: '/tokens/me', tag: 'tokens', access: 'read', summary: 'The calling token\'s name, scope and expiry', answers: { 200: json(tokenMeAnswer, 'The token.') } },
  { methods: ['get'], path: '/tokens', tag: 'tokens', access: 'admin', summary: 'List tokens', answers: { 200: json(tokensAnswer, 'The tokens.') } },
  { methods: ['post'], path: '/tokens', tag: 'tokens', access: 'admin', summary: 'Create a token (its value is shown this once)', body: jsonBody(tokenInput), answers: { 200: json(tokenAnswer, 'The new token.') } },
  { methods: ['delete'], path: '/tokens/:id', tag: 'tokens', access: 'admin', summary: 'Revoke a token', answers: { 204: noContent } },

  // Webhooks
  { methods: ['get'], path: '/webhooks', tag: 'webhooks', access: 'admin', summary: 'List webhooks', answers: { 200: json(webhooksAnswer, 'The webhooks.') } },
  { methods: ['post'], path: '/webhooks', tag: 'webhooks', access: 'admin', summary: 'Subscribe a URL to file events (the secret is shown this once)', body: jsonBody(webhookInput), answers: { 200: json(webhookCreatedAnswer, 'The new webhook.') } },
  { methods: ['delete'], path: '/webhooks', tag: 'webhooks', access: 'admin', summary: 'Delete several webhooks', body: jsonBody(keysInput), answers: { 204: noContent } },
  { methods: ['get'], path: '/webhooks/:id', tag: 'webhooks', access: 'admin', summary: 'Read a webhook', answers: { 200: json(webhookAnswer, 'The webhook.') } },
  { methods: ['patch'], path: '/webhooks/:id', tag: 'webhooks', access: 'admin', summary: 'Change or pause a webhook', body: jsonBody(webhookPatch), answers: { 200: json(webhookAnswer, 'The webhook.') } },
  { methods: ['delete'], path: '/webhooks/:id', tag: 'webhooks', access: 'admin', summary: 'Delete a webhook', answers: { 204: noContent } },
  { methods: ['get'], path: '/webhooks/:id/attempts', tag: 'webhooks', access: 'admin', summary: 'The last delivery attempts, newest first', answers: { 200: json(webhookAttemptsAnswer, 'The attempts.') } },
];
