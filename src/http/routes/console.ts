import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import { sendStaticFile } from '../static-files.js';

/**
 * The operator console (docs/console.md): `GET /console` is web/console/index.html,
 * `GET /console/<file>` its scripts and styles. The page itself holds no data: it asks for the
 * admin token and reads everything from /admin/v1 on this origin with it.
 */

// Sources run from src/http/routes/, compiled code from dist/http/routes/: both 3 levels below the package root.
const CONSOLE_DIR = fileURLToPath(new URL('../../../web/console/', import.meta.url));

export const consoleRoute = (): FastifyPluginAsync => async (app) => {
  app.get('/console', async (req, reply) => sendStaticFile(req.headers['if-none-match'], reply, CONSOLE_DIR, 'index.html', 'console file'));
  app.get<{ Params: { file: string } }>('/console/:file', async (req, reply) =>
    sendStaticFile(req.headers['if-none-match'], reply, CONSOLE_DIR, req.params.file, 'console file'),
  );
};
