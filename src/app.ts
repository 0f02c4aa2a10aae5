import { Hono } from 'hono';
import type { AppEnv } from './env';
import { notFound, onError } from './errors/on-error';
import { config } from './middleware/config';
import { cors } from './middleware/cors';
import { d1Session } from './middleware/d1-session';
import { requestId } from './middleware/request-id';
import { requestLog } from './middleware/request-log';
import { ADMIN_PAGE_PATHS, adminPage } from './routes/admin-page';
import { assetsRoutes } from './routes/assets';
import { filesRoutes } from './routes/files';
import { foldersRoutes } from './routes/folders';
import { s3UploadsRoutes } from './routes/s3-uploads';
import { serverRoutes } from './routes/server';
import { settingsRoutes } from './routes/settings';
import { tokensRoutes } from './routes/tokens';
import { tusRoutes } from './routes/tus';
import { webhooksRoutes } from './routes/webhooks';

/** The HTTP API (src/index.ts is the Worker: this plus the scheduled sweep). */
export const app = new Hono<AppEnv>();

app.use(requestId());
app.use(requestLog());
app.use(config());
app.use(cors());
app.use(d1Session());
app.route('/server', serverRoutes);
app.route('/files/tus', tusRoutes);
app.route('/files/s3', s3UploadsRoutes);
app.route('/files', filesRoutes);
app.route('/folders', foldersRoutes);
app.route('/assets', assetsRoutes);
app.route('/settings', settingsRoutes);
app.route('/tokens', tokensRoutes);
app.route('/webhooks', webhooksRoutes);
app.on('GET', ADMIN_PAGE_PATHS, adminPage);
app.notFound(notFound);
app.onError(onError);
