import { Hono } from 'hono';
import type { AppEnv } from './env';
import { notFound, onError } from './errors/on-error';
import { config } from './middleware/config';
import { cors } from './middleware/cors';
import { requestId } from './middleware/request-id';
import { assetsRoutes } from './routes/assets';
import { filesRoutes } from './routes/files';
import { foldersRoutes } from './routes/folders';
import { serverRoutes } from './routes/server';
import { settingsRoutes } from './routes/settings';
import { tokensRoutes } from './routes/tokens';
import { tusRoutes } from './routes/tus';

const app = new Hono<AppEnv>();

app.use(requestId());
app.use(config());
app.use(cors());
app.route('/server', serverRoutes);
app.route('/files/tus', tusRoutes);
app.route('/files', filesRoutes);
app.route('/folders', foldersRoutes);
app.route('/assets', assetsRoutes);
app.route('/settings', settingsRoutes);
app.route('/tokens', tokensRoutes);
app.notFound(notFound);
app.onError(onError);

export default app;
export { UploadSession } from './uploads/upload-session';
