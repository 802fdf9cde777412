import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { currencyCode } from '../../../catalog/index.js';
import { InvalidRequestError } from '../../../platform/errors.js';
import { breakdownRowView, priceAmount, priceSchema, roundToMinorUnit } from '../../../rater/index.js';
import { errorResponses } from '../schemas.js';

const decimalText = z.string().regex(/^\d+(\.\d+)?$/, 'a non-negative decimal string such as "12.5"');

const previewInput = z.object({
  currency: currencyCode,
  price: priceSchema,
  // Signed: unit and markup prices price a negative quantity as a credit; the others answer 400.
  quantity: z.string().regex(/^-?\d+(\.\d+)?$/, 'a decimal string such as "12.5" or "-3"').optional(),
  events: z.array(decimalText).max(100_000).optional().describe('event values in time order, for percentage prices'),
  fraction: z
    .string()
    .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'a decimal from 0 to 1')
    .optional()
    .describe('share of the period covered, for flat prices'),
});

const previewAnswer = z.object({
  amount: z.string().describe("rounded half-up to the currency's minor unit"),
  preciseAmount: z.string(),
  currency: z.string(),
  breakdown: z.array(breakdownRowView),
  cost: z.string().optional(),
  markup: z.string().optional(),
  margin: z.string().optional(),
});

/** Prices a quantity (or events) with any price model, without storing anything. */
export const priceRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/v1/prices/preview',
    {
      config: { scopes: ['admin', 'read'] },
      schema: {
        tags: ['pricing'],
        summary: 'Price a quantity with a price definition: amount, precise amount and breakdown',
        body: previewInput,
        response: { 200: previewAnswer, ...errorResponses },
      },
    },
    async (request) => {
      const { currency, price, quantity, events, fraction } = request.body;
      let result;
      try {
        result = priceAmount(price, {
          ...(quantity !== undefined ? { quantity } : {}),
          ...(events !== undefined ? { events } : {}),
          ...(fraction !== undefined ? { fraction } : {}),
        });
      } catch (error) {
        if (error instanceof RangeError) {
          const path = price.model === 'percentage' ? 'events' : price.model === 'flat' ? 'fraction' : 'quantity';
          throw new InvalidRequestError(error.message, path);
        }
        throw error;
      }
      return {
        amount: roundToMinorUnit(result.amount, currency),
        preciseAmount: result.amount,
        currency,
        breakdown: result.breakdown,
        ...(result.cost !== undefined ? { cost: result.cost } : {}),
        ...(result.markup !== undefined ? { markup: result.markup } : {}),
        ...(result.margin !== undefined ? { margin: result.margin } : {}),
      };
    },
  );
};
