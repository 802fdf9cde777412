/**
 * npm run bench: every benchmark, or those named in BENCH_SUITES (embedded, kafka).
 * Figures are printed as Markdown; bench/README.md records them.
 */
import { benchEmbedded } from './embedded.js';
import { benchKafka } from './kafka.js';

const suites = new Set((process.env.BENCH_SUITES ?? 'embedded,kafka').split(','));
if (suites.has('embedded')) await benchEmbedded();
if (suites.has('kafka')) await benchKafka();
