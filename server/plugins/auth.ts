import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyScope, Catalog, Principal } from '../../catalog/index.js';
import { ForbiddenError } from '../../platform/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Key scopes allowed on this route; absent means the route is public. */
    scopes?: readonly ApiKeyScope[];
    /** Only the operator key may call this route. */
    operatorOnly?: boolean;
  }
}

export class UnauthorizedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnauthorizedError';
  }
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * Resolves the caller's key on every route that declares scopes. The tenant of every request
 * comes from here and nowhere else.
 */
export const authPlugin = fp<{ catalog: Pick<Catalog, 'authenticate'> }>(
  async (app, { catalog }) => {
    app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
      const { scopes, operatorOnly } = request.routeOptions.config;
      if (!scopes && !operatorOnly) return;
      const key = presentedKey(request);
      if (!key) throw new UnauthorizedError('an API key is required: Authorization: Bearer <key>');
      const authentication = await catalog.authenticate(key);
      if ('refused' in authentication) throw new UnauthorizedError(authentication.refused);
      const { principal } = authentication;
      if (operatorOnly && !principal.operator) throw new ForbiddenError('only the operator key may do this');
      if (scopes && !scopes.includes(principal.scope)) {
        throw new ForbiddenError(`a ${principal.scope} key may not do this; it needs one of: ${scopes.join(', ')}`);
      }
      request.principal = principal;
    });
  },
  { name: 'meterline-auth' },
);

/** The authenticated principal of a route that declares scopes. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new UnauthorizedError('an API key is required');
  return request.principal;
}

/** A read key bound to one customer may only see that customer. */
export function assertCustomerVisible(principal: Principal, customerId: string): void {
  if (principal.customerId !== undefined && principal.customerId !== customerId) {
    throw new ForbiddenError('this key may only read its own customer');
  }
}
