import type { Migration } from './migration.js';
import { migration as m0001 } from './0001_catalog.js';
import { migration as m0002 } from './0002_events.js';
import { migration as m0003 } from './0003_plans_contracts.js';
import { migration as m0004 } from './0004_rated_charges.js';
import { migration as m0005 } from './0005_alerts.js';
import { migration as m0007 } from './0007_wide_sums_rating_failures.js';
import { migration as m0009 } from './0009_api_key_expiry_and_use.js';

export type { Migration } from './migration.js';

/** Every migration in order. A released migration is never edited: add the next number. */
export const MIGRATIONS: readonly Migration[] = [m0001, m0002, m0003, m0004, m0005, m0007, m0009];
