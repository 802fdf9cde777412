/**
 * npm run bench: every benchmark, or those named in BENCH_SUITES (embedded, kafka, rating, alerts, readyz).
 * Figures are printed as Markdown; bench/README.md records them.
 */
import { benchAlerts } from './alerts.js';
import { benchEmbedded } from './embedded.js';
import { benchKafka } from './kafka.js';
import { benchRating } from './rating.js';
import { benchReadyz } from './readyz.js';

const suites = new Set((process.env.BENCH_SUITES ?? 'embedded,kafka,rating,alerts,readyz').split(','));
if (suites.has('embedded')) await benchEmbedded();
if (suites.has('kafka')) await benchKafka();
if (suites.has('rating')) await benchRating();
if (suites.has('alerts')) await benchAlerts();
if (suites.has('readyz')) await benchReadyz();
