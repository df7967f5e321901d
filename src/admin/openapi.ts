import { z } from 'zod';
import { REASONS } from '../errors/index.js';
import type { AdminRoute } from './route.js';

// The OpenAPI 3.1 document is generated from the same route table that
// Fastify serves, so the two cannot drift apart.

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

function parameters(route: AdminRoute) {
  const path = [...route.path.matchAll(/\{([a-z]+)\}/g)].map((match) => ({
    name: match[1]!, in: 'path', required: true, schema: { type: 'string' },
  }));
  if (route.query === undefined) return path;
  const shape = jsonSchema(route.query) as { properties?: Record<string, unknown>; required?: string[] };
  const query = Object.entries(shape.properties ?? {}).map(([name, schema]) => ({
    name, in: 'query', required: (shape.required ?? []).includes(name) && !(schema as { default?: unknown }).default, schema,
  }));
  return [...path, ...query];
}

const errorResponse = { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };

export function buildOpenApi(routes: readonly AdminRoute[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const operation: Record<string, unknown> = {
      operationId: `${route.method.toLowerCase()}${route.path.replace(/[{}]/g, '').split('/').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('')}`,
      summary: route.summary,
      tags: [route.tag],
      ...(route.selfOnly === true
        ? { 'x-latchkey-authentication': 'any-token-about-itself', security: [{ bearer: [] }] }
        : route.ownAuthentication === undefined
        ? { 'x-latchkey-permission': `latchkey:${route.action}`, security: [{ bearer: [] }] }
        : { 'x-latchkey-authentication': route.ownAuthentication.scheme, security: [] }),
      parameters: parameters(route),
      responses: {
        [String(route.status)]: route.status === 204
          ? { description: 'done' }
          : { description: 'success', content: { 'application/json': { schema: { type: 'object' } } } },
        '400': errorResponse, '401': errorResponse, '403': errorResponse, '404': errorResponse,
        '409': errorResponse, '413': errorResponse, '503': errorResponse,
      },
    };
    if (route.body !== undefined) {
      operation.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(route.body) } } };
    }
    (paths[route.path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Latchkey admin API', version, description: 'Every route demands the permission named in x-latchkey-permission.' },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a Latchkey token with latchkey: permissions' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'message'],
          properties: {
            error: { type: 'string', enum: Object.keys(REASONS) },
            message: { type: 'string' },
            field: { type: 'string' },
          },
        },
      },
    },
  };
}
