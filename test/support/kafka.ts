import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { waitFor } from './process.js';

const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'deploy', 'local', 'kafka', 'kafka.sh');

export interface KafkaHandle {
  readonly brokers: string[];
  /** True when this process launched the broker (a fresh start, not a reuse). */
  readonly startedHere: boolean;
  /** Releases this caller's use; safe to call more than once. */
  stop(): Promise<void>;
}

interface LocalBroker {
  readonly brokers: string[];
  readonly startedHere: boolean;
  users: number;
}

// Several suites in one process share one lease; kafka.sh only sees the process.
let local: Promise<LocalBroker> | undefined;

/**
 * A Kafka broker for integration tests.
 *
 * With KAFKA_BROKERS set, that cluster is used as is and never stopped. Otherwise
 * deploy/local/kafka/kafka.sh start reuses the broker on 127.0.0.1:$KAFKA_PORT (default
 * 9092) or starts one. Test files run in parallel processes, so each process holds a
 * lease (KAFKA_LEASE_HOLDER) rather than owning the broker: stop() lets go of it, and
 * the broker goes down only when the last process lets go and the broker was started
 * for the tests, never one a developer started.
 */
export async function ensureKafka(): Promise<KafkaHandle> {
  const configured = process.env.KAFKA_BROKERS?.trim();
  if (configured) {
    const brokers = configured
      .split(',')
      .map((broker) => broker.trim())
      .filter((broker) => broker.length > 0);
    if (!(await answers(brokers))) throw new Error(`KAFKA_BROKERS=${configured}: no Kafka broker answers there`);
    return { brokers, startedHere: false, stop: async () => undefined };
  }

  local ??= startLocal();
  let broker: LocalBroker;
  try {
    broker = await local;
  } catch (error) {
    local = undefined;
    throw error;
  }
  broker.users += 1;
  let released = false;
  return {
    brokers: broker.brokers,
    startedHere: broker.startedHere,
    async stop() {
      if (released) return;
      released = true;
      broker.users -= 1;
      if (broker.users > 0) return;
      local = undefined;
      await runScript('stop');
    },
  };
}

/** A topic name no other test or earlier run uses; Kafka allows [a-zA-Z0-9._-]. */
export function uniqueTopic(prefix: string): string {
  const safe = prefix.replace(/[^a-zA-Z0-9._-]/g, '-');
  return `${safe}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

async function startLocal(): Promise<LocalBroker> {
  const outcome = (await runScript('start')).trim().split('\n').pop();
  return {
    brokers: [`127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`],
    startedHere: outcome === 'started',
    users: 0,
  };
}

/** Runs kafka.sh; its progress goes to this process's stderr, its stdout is returned. */
function runScript(command: 'start' | 'stop'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, command], {
      env: { ...process.env, KAFKA_LEASE_HOLDER: String(process.pid) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${script} ${command} exited with ${code ?? 'a signal'} (its messages are above)`));
    });
  });
}

async function answers(brokers: string[]): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'meterline-test-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    retry: { retries: 2 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Reads dead letters from the start of a topic until `count` have arrived, as a fresh consumer
 * group, and answers each letter's headers as text.
 */
export async function readDeadLetters(kafka: Kafka, topic: string, groupId: string, count: number): Promise<Record<string, string>[]> {
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const letters: Record<string, string>[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        letters.push(Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)])));
      },
    });
    await waitFor(async () => (letters.length >= count ? true : undefined), `${count} dead letters on ${topic}`);
    return letters;
  } finally {
    await consumer.disconnect();
  }
}
