import { Hono } from 'hono';
import type { AppEnv } from './env';
import { config } from './middleware/config';
import { requestId } from './middleware/request-id';
import { notFound, onError } from './errors/on-error';
import { serverRoutes } from './routes/server';

const app = new Hono<AppEnv>();

app.use(requestId());
app.use(config());
app.route('/server', serverRoutes);
app.notFound(notFound);
app.onError(onError);

export default app;
