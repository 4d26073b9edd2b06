import type { FastifyPluginAsync, FastifySchema } from 'fastify';
import { isModel } from '../../domain/models.js';
import type { Deps } from '../../services/deps.js';
import { ApiError, success } from '../api-error.js';
import { modelCatalogue, SCHEMA_DIR, SCHEMA_INDEX_PATH, schemaDocument, schemaIndex } from '../model-catalogue.js';
import { modelsSchema, schemaDocumentSchema, schemaIndexSchema } from '../schemas/models.js';

/**
 * GET /api/v1/models and the APIXO-shaped index and schema documents under /docs/models/schemas
 * (Longshot additions). No key: they describe what the server sells, nothing of an account, and
 * a client reads them before it has a key. Built once: prices are read at startup.
 */
export const modelsRoute =
  (deps: Deps): FastifyPluginAsync =>
  async (app) => {
    const catalogue = success({ models: modelCatalogue(deps.config) });
    const index = schemaIndex();
    const cache = (reply: { header(name: string, value: string): unknown }) => reply.header('cache-control', 'public, max-age=60');
    app.get('/api/v1/models', { schema: modelsSchema }, async (_req, reply) => {
      cache(reply);
      return catalogue;
    });
    app.get(SCHEMA_INDEX_PATH, { schema: schemaIndexSchema }, async (_req, reply) => {
      cache(reply);
      return index;
    });
    app.get<{ Params: { file: string } }>(`${SCHEMA_DIR}/:file`, { schema: schemaDocumentSchema as FastifySchema }, async (req, reply) => {
      const model = req.params.file.replace(/\.json$/, '');
      if (!req.params.file.endsWith('.json') || !isModel(model)) {
        throw new ApiError(404, { error: `no model schema ${req.params.file}; the index is ${SCHEMA_INDEX_PATH}`, field: 'file' });
      }
      cache(reply);
      return schemaDocument(deps.config, model);
    });
  };
