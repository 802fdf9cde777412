import { z } from 'zod';

export const errorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

/** The error answers every authenticated route may give, for the OpenAPI document. */
export const errorResponses = {
  400: errorBody,
  401: errorBody,
  403: errorBody,
  404: errorBody,
  409: errorBody,
} as const;

/** The further answer of a route bounded by a tenant limit (a list page, the meters a tenant defines). */
export const limitErrorResponses = { ...errorResponses, 422: errorBody } as const;

/** The further answers of a heavy query route: a limit passed (422), no slot free (429), the query timeout (504). */
export const queryErrorResponses = {
  ...errorResponses,
  422: errorBody,
  429: errorBody,
  504: errorBody,
} as const;
