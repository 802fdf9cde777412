import { ConfigError, loadConfig, type Config } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { startService } from './service.js';

/** `--role api|aggregator|all` (repeatable or comma-separated) overrides METERLINE_ROLES. */
function rolesFromArgs(args: readonly string[]): string | undefined {
  const roles: string[] = [];
  args.forEach((arg, index) => {
    if (arg === '--role' && args[index + 1] !== undefined) roles.push(args[index + 1] as string);
    else if (arg.startsWith('--role=')) roles.push(arg.slice('--role='.length));
  });
  return roles.length > 0 ? roles.join(',') : undefined;
}

let config: Config;
try {
  const roles = rolesFromArgs(process.argv.slice(2));
  config = loadConfig(roles ? { ...process.env, METERLINE_ROLES: roles } : process.env);
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
    roles: [...config.roles],
    store: config.store.kind === 'embedded' ? `embedded: chDB in-process at ${config.store.dataDir}` : 'server: CLICKHOUSE_URL',
    eventLog: config.kafka
      ? `kafka: topic ${config.kafka.topic} on ${config.kafka.brokers.join(',')}`
      : 'embedded: events are inserted before the request is answered',
    port: config.port,
  },
  'meterline starting',
);

// Test-only fault injection: die, as a crash would, between an insert and its offset commit.
const crashAfter = Number(process.env.METERLINE_TEST_CRASH_AFTER_INSERTS ?? 0);
let inserts = 0;
const service = await startService(config, log, {
  ...(crashAfter > 0
    ? {
        afterInsert: () => {
          inserts += 1;
          if (inserts >= crashAfter) process.kill(process.pid, 'SIGKILL');
        },
      }
    : {}),
});
if (service.generatedOperatorKey) {
  // Printed once to stderr, apart from the JSON log on stdout, so a log shipper never carries it:
  // only its hash is stored.
  process.stderr.write(
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
