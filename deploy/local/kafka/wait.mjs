#!/usr/bin/env node
// Readiness probe for kafka.sh.
//
// It speaks the Kafka wire protocol with node:net instead of using kafkajs so that
// kafka.sh works on a fresh checkout before `npm ci`, and so that "the port is open"
// is never mistaken for "the broker can serve a consumer group": a KRaft broker accepts
// connections before it is unfenced, and the group and transaction coordinators load
// their internal topics only on first use. Each request below uses an old, fixed
// version that every broker from 3.x through 4.4 accepts (the same or lower versions
// than kafkajs 2.2.4 itself sends).
//
//   node wait.mjs [--broker host:port] [--timeout seconds] [--pid n] [--once]
//
// --once: one quick look, no warm-up. Exit 0 a Kafka broker answered, 2 nothing is
//         listening, 3 something is listening that does not answer like Kafka.
// default: wait until the broker lists itself in Metadata and both coordinators and the
//         producer-id allocator answer without error. Exit 0 ready, 1 timed out,
//         4 the process given by --pid exited first.
import net from 'node:net';

const args = parseArgs(process.argv.slice(2));
const [host, portText] = splitHostPort(args.broker ?? '127.0.0.1:9092');
const port = Number(portText);

const API_METADATA = 3;
const API_FIND_COORDINATOR = 10;
const API_INIT_PRODUCER_ID = 22;

// Retriable while a fresh broker settles: COORDINATOR_LOAD_IN_PROGRESS,
// COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR.
const SETTLING_ERRORS = new Set([14, 15, 16]);

class NotKafkaError extends Error {}

async function probeOnce() {
  try {
    await metadataBrokers(2000);
    return 0;
  } catch (error) {
    return error instanceof NotKafkaError ? 3 : isConnectError(error) ? 2 : 3;
  }
}

async function waitUntilReady(timeoutMs, pid) {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer yet';
  const steps = [
    ['broker registered', async () => {
      const brokers = await metadataBrokers(3000);
      if (brokers === 0) throw new Error('Metadata lists no live broker yet (still fenced)');
    }],
    ['group coordinator', () => findCoordinator('meterline-readiness-probe', 0)],
    ['transaction coordinator', () => findCoordinator('meterline-readiness-probe', 1)],
    ['producer ids', () => initProducerId()],
  ];
  for (const [name, step] of steps) {
    for (;;) {
      if (pid !== undefined && !alive(pid)) {
        console.error(`wait: broker process ${pid} exited (last: ${lastError})`);
        return 4;
      }
      try {
        await step();
        break;
      } catch (error) {
        lastError = `${name}: ${error instanceof Error ? error.message : String(error)}`;
      }
      if (Date.now() > deadline) {
        console.error(`wait: ${host}:${port} not ready after ${timeoutMs / 1000}s (last: ${lastError})`);
        return 1;
      }
      await sleep(250);
    }
  }
  return 0;
}

/** Metadata v1 for no topics; returns how many live brokers the cluster lists. */
async function metadataBrokers(timeoutMs) {
  const body = int32(0); // an empty topic array, not null: null would mean "all topics"
  const reader = await request(API_METADATA, 1, body, timeoutMs);
  return reader.int32();
}

/** FindCoordinator v1; keyType 0 is a group, 1 a transactional id. */
async function findCoordinator(key, keyType) {
  const reader = await request(API_FIND_COORDINATOR, 1, Buffer.concat([string(key), Buffer.from([keyType])]), 3000);
  reader.int32(); // throttle_time_ms
  checkError(reader.int16());
}

/** InitProducerId v0 without a transactional id: what an idempotent producer asks first. */
async function initProducerId() {
  const reader = await request(API_INIT_PRODUCER_ID, 0, Buffer.concat([int16(-1), int32(60_000)]), 3000);
  reader.int32(); // throttle_time_ms
  checkError(reader.int16());
}

function checkError(code) {
  if (code === 0) return;
  throw new Error(SETTLING_ERRORS.has(code) ? `coordinator not ready (error ${code})` : `error code ${code}`);
}

/** One request on a fresh connection; resolves to a reader positioned after the correlation id. */
function request(apiKey, apiVersion, body, timeoutMs) {
  const correlationId = Math.floor(Math.random() * 0x7fffffff);
  const header = Buffer.concat([int16(apiKey), int16(apiVersion), int32(correlationId), string('meterline-kafka-sh')]);
  const frame = Buffer.concat([int32(header.length + body.length), header, body]);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let received = Buffer.alloc(0);
    const fail = (error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`no answer within ${timeoutMs} ms`)));
    socket.on('error', fail);
    socket.on('connect', () => socket.write(frame));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4) return;
      const size = received.readInt32BE(0);
      // Anything that is not a sane Kafka frame means another kind of server holds the port.
      if (size < 4 || size > 64 * 1024 * 1024) return fail(new NotKafkaError(`unexpected reply (frame size ${size})`));
      if (received.length < 4 + size) return;
      socket.destroy();
      const reader = new Reader(received.subarray(4, 4 + size));
      if (reader.int32() !== correlationId) return reject(new NotKafkaError('reply does not match the request'));
      resolve(reader);
    });
    socket.on('end', () => fail(new NotKafkaError('connection closed without a Kafka reply')));
  });
}

class Reader {
  constructor(buffer) {
    this.buffer = buffer;
    this.offset = 0;
  }
  int16() {
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  int32() {
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
}

function int16(value) {
  const buffer = Buffer.alloc(2);
  buffer.writeInt16BE(value);
  return buffer;
}

function int32(value) {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

function string(value) {
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([int16(bytes.length), bytes]);
}

function isConnectError(error) {
  return ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'EADDRNOTAVAIL'].includes(error?.code);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function splitHostPort(value) {
  const at = value.lastIndexOf(':');
  if (at <= 0) throw new Error(`--broker wants host:port, got ${value}`);
  return [value.slice(0, at), value.slice(at + 1)];
}

function parseArgs(argv) {
  const result = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--once') result.once = true;
    else if (arg === '--broker' || arg === '--timeout' || arg === '--pid') result[arg.slice(2)] = argv[++i];
    else throw new Error(`unknown argument ${arg}`);
  }
  return result;
}

// Last, so that every class and constant above is initialised before the first await.
process.exitCode = args.once
  ? await probeOnce()
  : await waitUntilReady(Number(args.timeout ?? 60) * 1000, args.pid ? Number(args.pid) : undefined);
