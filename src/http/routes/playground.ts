import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import { sendStaticFile } from '../static-files.js';

/**
 * The web playground: `GET /` is web/index.html, `GET /web/<file>` the other files of web/, and
 * `GET /web/common/<file>` the stylesheet and script the console loads too (web/common/).
 * No API key is involved here: the page asks for one and sends it only to /api/v1 on this origin.
 */

// Sources run from src/http/routes/, compiled code from dist/http/routes/: both 3 levels below the package root.
const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));

export const playgroundRoute =
  (webDir: string = DEFAULT_WEB_DIR): FastifyPluginAsync =>
  async (app) => {
    const send = (ifNoneMatch: string | undefined, reply: Parameters<typeof sendStaticFile>[1], name: string) =>
      sendStaticFile(ifNoneMatch, reply, webDir, name, 'playground file');
    app.get('/', async (req, reply) => send(req.headers['if-none-match'], reply, 'index.html'));
    app.get<{ Params: { file: string } }>('/web/:file', async (req, reply) => send(req.headers['if-none-match'], reply, req.params.file));
    app.get<{ Params: { file: string } }>('/web/common/:file', async (req, reply) =>
      sendStaticFile(req.headers['if-none-match'], reply, `${webDir}common/`, req.params.file, 'shared page file'),
    );
  };
