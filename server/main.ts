import { ConfigError, loadConfig, type Config } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { startService } from './service.js';

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`meterline: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}

const log = createLogger(config.logLevel);
log.info(
  {
    mode: config.store.kind === 'embedded' ? 'embedded' : 'server',
    store: config.store.kind === 'embedded' ? `chDB in-process at ${config.store.dataDir}` : 'ClickHouse server (CLICKHOUSE_URL)',
    eventLog: 'embedded: events are inserted before the request is answered',
    port: config.port,
  },
  'meterline starting',
);

const service = await startService(config, log);
if (service.generatedOperatorKey) {
  // Printed once to the terminal, never to the structured log: only its hash is stored.
  process.stdout.write(
    `\n  Operator key (admin of tenant "${config.defaultTenant}", shown once; store it now):\n\n    ${service.generatedOperatorKey}\n\n`,
  );
}
await service.app.listen({ port: config.port, host: config.host });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down: finishing in-flight requests and batches');
  const force = setTimeout(() => {
    log.error('shutdown grace period over; exiting');
    process.exit(1);
  }, config.shutdownGraceMs);
  force.unref();
  try {
    await service.close();
    log.info('stopped');
    process.exit(0);
  } catch (error) {
    log.error({ err: error }, 'shutdown failed');
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
