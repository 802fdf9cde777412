import { z } from 'zod';
import { isJsonPath, compileJsonPath, JsonPathError } from '../platform/json-path.js';
import { parseRfc3339 } from '../platform/time.js';
import { isValidTimeZone } from './billing-period.js';
import { API_KEY_SCOPES } from './api-key.js';
import { hasControlCharacter, isBlank } from '../platform/text.js';

// Matched exactly against an event's type or subject, so held to the same rules as those.
const eventKey = z
  .string()
  .min(1)
  .max(256)
  .refine((text) => !isBlank(text), 'must not be only whitespace')
  .refine((text) => !hasControlCharacter(text), 'must not hold control characters (NUL, U+0001-U+001F, U+007F-U+009F)');

export const AGGREGATIONS = ['SUM', 'COUNT', 'MAX', 'MIN', 'UNIQUE_COUNT', 'LATEST', 'AVG'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters');

const jsonPath = z.string().superRefine((value, ctx) => {
  if (isJsonPath(value)) return;
  try {
    compileJsonPath(value);
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: error instanceof JsonPathError ? `not a supported JSONPath: ${error.message}` : 'not a supported JSONPath',
    });
  }
});

export const tenantInput = z.object({
  id: slug,
  name: z.string().min(1).max(200),
  operationsEmail: z.email().max(254).optional().describe("The tenant's operations address: alert emails go here."),
});
export type TenantInput = z.infer<typeof tenantInput>;

export const meterInput = z
  .object({
    key: slug,
    name: z.string().min(1).max(200),
    eventType: eventKey,
    aggregation: z.enum(AGGREGATIONS),
    valueProperty: jsonPath.optional(),
    groupBy: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a dimension name: letters, digits and "_"'), jsonPath)
      .refine((dims) => Object.keys(dims).length <= 16, 'at most 16 group-by dimensions')
      .default({}),
  })
  .superRefine((meter, ctx) => {
    if (meter.aggregation === 'COUNT' && meter.valueProperty !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['valueProperty'], message: 'COUNT meters count events and take no valueProperty' });
    }
    if (meter.aggregation !== 'COUNT' && meter.valueProperty === undefined) {
      ctx.addIssue({ code: 'custom', path: ['valueProperty'], message: `${meter.aggregation} meters need a valueProperty` });
    }
  });
export type MeterInput = z.infer<typeof meterInput>;

export const meterView = z.object({
  key: z.string(),
  name: z.string(),
  eventType: z.string(),
  aggregation: z.enum(AGGREGATIONS),
  valueProperty: z.string().optional(),
  groupBy: z.record(z.string(), z.string()),
  createdAt: z.string(),
});
export type Meter = z.infer<typeof meterView>;

const currencies = new Set(Intl.supportedValuesOf('currency'));

export const currencyCode = z
  .string()
  .refine((code) => currencies.has(code), 'an ISO 4217 currency code in upper case, such as USD');

export const customerId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/, 'letters, digits and . _ : @ -, at most 128 characters');

export const customerInput = z.object({
  id: customerId,
  name: z.string().min(1).max(200),
  timezone: z.string().refine(isValidTimeZone, 'an IANA time zone such as Europe/Berlin or Asia/Kathmandu'),
  currency: currencyCode,
  billingAnchorDay: z.number().int().min(1).max(28).default(1),
  subjects: z
    .array(eventKey)
    .min(1)
    .max(1000)
    .refine((subjects) => new Set(subjects).size === subjects.length, 'subjects must be unique')
    .optional(),
  billingContacts: z.array(z.email().max(254)).max(20).default([]).describe('Addresses that receive this customer’s alert emails.'),
});
export type CustomerInput = z.infer<typeof customerInput>;

export const customerView = z.object({
  id: z.string(),
  name: z.string(),
  timezone: z.string(),
  currency: z.string(),
  billingAnchorDay: z.number(),
  subjects: z.array(z.string()),
  billingContacts: z.array(z.string()),
  createdAt: z.string(),
});
export type Customer = z.infer<typeof customerView>;

export const apiKeyInput = z.object({
  scope: z.enum(API_KEY_SCOPES),
  customerId: customerId.optional(),
  expiresAt: z
    .string()
    .refine((text) => parseRfc3339(text) !== undefined, 'an RFC 3339 date-time with an offset')
    .optional()
    .describe('RFC 3339 date-time in the future; from then on the key answers 401.'),
});
export type ApiKeyInput = z.infer<typeof apiKeyInput>;

export const apiKeyIssued = z.object({
  id: z.string(),
  key: z.string().describe('The key itself. Shown once; Meterline stores only its hash.'),
  scope: z.enum(API_KEY_SCOPES),
  tenantId: z.string(),
  customerId: z.string().optional(),
  expiresAt: z.string().optional(),
});
export type ApiKeyIssued = z.infer<typeof apiKeyIssued>;

export const apiKeyView = z.object({
  id: z.string(),
  scope: z.enum(API_KEY_SCOPES),
  customerId: z.string().optional(),
  operator: z.boolean().describe('The operator key: replaced through METERLINE_ADMIN_KEY, never revoked.'),
  createdAt: z.string(),
  lastUsedAt: z.string().optional().describe('Written in batches: other processes may show it up to about 10 s late.'),
  expiresAt: z.string().optional(),
  revokedAt: z.string().optional(),
  status: z.enum(['active', 'expired', 'revoked']),
});
export type ApiKeyView = z.infer<typeof apiKeyView>;
