import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The service's Prometheus metrics, one registry per process (never the global one, so tests
 * and several app instances stay apart). Labels are bounded sets: never a tenant or customer id.
 */
export function buildMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'meterline_' });
  // prom-client also exports these sums of the per-type gauges under a counter's "_total"
  // suffix, which Prometheus' own lint (promtool check metrics) flags; the per-type gauges
  // (meterline_nodejs_active_handles{type} and its siblings) carry the same figures.
  for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) {
    registry.removeSingleMetric(`meterline_nodejs_${name}`);
  }
  return {
    registry,
    ingestEvents: new Counter({
      name: 'meterline_ingest_events_total',
      help: 'Events received by POST /v1/events, by outcome.',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    httpRequestDuration: new Histogram({
      name: 'meterline_http_request_duration_seconds',
      help: 'HTTP request latency by route and status class.',
      labelNames: ['method', 'route', 'status_class'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    httpRequestBodyBytes: new Histogram({
      name: 'meterline_http_request_body_bytes',
      help: 'Size of request bodies by route.',
      labelNames: ['route'] as const,
      buckets: [256, 1024, 16384, 131072, 1048576, 4194304, 10485760],
      registers: [registry],
    }),
    insertBatchEvents: new Histogram({
      name: 'meterline_aggregator_insert_batch_events',
      help: 'Events per insert into the store.',
      buckets: [1, 10, 100, 1000, 5000, 20000, 100000],
      registers: [registry],
    }),
    insertDuration: new Histogram({
      name: 'meterline_aggregator_insert_duration_seconds',
      help: 'Time to check duplicates and insert one batch.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    insertFailures: new Counter({
      name: 'meterline_aggregator_insert_failures_total',
      help: 'Batches the store refused after every retry.',
      registers: [registry],
    }),
    insertRetries: new Counter({
      name: 'meterline_aggregator_insert_retries_total',
      help: 'Insert attempts beyond the first.',
      registers: [registry],
    }),
    dedupeHits: new Counter({
      name: 'meterline_aggregator_dedupe_hits_total',
      help: 'Events recognised as duplicates of events already stored or in the same batch.',
      registers: [registry],
    }),
    produceDuration: new Histogram({
      name: 'meterline_ingest_produce_duration_seconds',
      help: 'Time for the broker to acknowledge (acks=all) one request\'s events.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    produceErrors: new Counter({
      name: 'meterline_ingest_produce_errors_total',
      help: 'Produce requests the broker did not acknowledge in time (answered 503).',
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'meterline_aggregator_consumer_lag_messages',
      help: 'Messages behind the end of each events-topic partition this process consumes, as of its last batch.',
      labelNames: ['partition'] as const,
      registers: [registry],
    }),
    consumedMessages: new Counter({
      name: 'meterline_aggregator_consumed_messages_total',
      help: 'Messages read from the events topic.',
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'meterline_aggregator_dead_letters_total',
      help: 'Messages sent to the dead-letter topic, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    ratingCycleDuration: new Histogram({
      name: 'meterline_rater_cycle_duration_seconds',
      help: 'Time for one rating cycle over the customers whose usage or terms changed.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    customersRated: new Counter({
      name: 'meterline_rater_customers_rated_total',
      help: 'Customer periods rated and stored as snapshots.',
      registers: [registry],
    }),
    ratingFailures: new Counter({
      name: 'meterline_rater_failures_total',
      help: 'Customer ratings that failed and stay queued for the next cycle.',
      registers: [registry],
    }),
    customerRatingFailures: new Counter({
      name: 'meterline_rater_customer_failures_total',
      help: 'Failed rating attempts of one customer, by reason (price: a price cannot price the usage; terms: the contract or plan is incomplete; other: the store or anything else).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    customersFailing: new Gauge({
      name: 'meterline_rater_customers_failing',
      help: 'Customers whose latest rating failed and which are retried with backoff.',
      registers: [registry],
    }),
    eventToRatedLag: new Histogram({
      name: 'meterline_rater_event_to_rated_seconds',
      help: 'From the ingestion of the oldest unrated event of a customer to its rated snapshot.',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    alertsEvaluationDuration: new Histogram({
      name: 'meterline_alerts_evaluation_duration_seconds',
      help: 'Time for one alert evaluation cycle over the newly rated customers.',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    alertTransitions: new Counter({
      name: 'meterline_alerts_total',
      help: 'Alert transitions by rule kind: fired or resolved.',
      labelNames: ['kind', 'transition'] as const,
      registers: [registry],
    }),
    alertsFiring: new Gauge({
      name: 'meterline_alerts_firing',
      help: 'Alerts currently firing, by rule kind.',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    alertEvaluationFailures: new Counter({
      name: 'meterline_alerts_evaluation_failures_total',
      help: 'Rule evaluations that failed and are retried with the next rated figure.',
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'meterline_alert_deliveries_total',
      help: 'Delivery attempts of alert notifications by channel and outcome (succeeded, retry, failed, cancelled).',
      labelNames: ['channel', 'outcome'] as const,
      registers: [registry],
    }),
    webhookRetries: new Counter({
      name: 'meterline_webhook_retries_total',
      help: 'Webhook deliveries scheduled for another attempt after a failure.',
      registers: [registry],
    }),
    webhookEndpointsDisabled: new Counter({
      name: 'meterline_webhook_endpoints_disabled_total',
      help: 'Webhook endpoints disabled because their deliveries kept failing.',
      registers: [registry],
    }),
    deliveryLatency: new Histogram({
      name: 'meterline_alert_delivery_latency_seconds',
      help: 'From an alert being recorded to its notification delivered, by channel.',
      labelNames: ['channel'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
      registers: [registry],
    }),
    outboxPending: new Gauge({
      name: 'meterline_alert_outbox_pending',
      help: 'Notifications waiting in the outbox (due now or scheduled for a retry).',
      registers: [registry],
    }),
    storeRetries: new Counter({
      name: 'meterline_aggregator_store_retries_total',
      help: 'Consumer insert attempts that failed and were retried with backoff.',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof buildMetrics>;
