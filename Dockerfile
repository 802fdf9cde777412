# syntax=docker/dockerfile:1
#
# Meterline in server mode: the image talks to a ClickHouse server (CLICKHOUSE_URL) and, for
# the scale-out roles, to Kafka (KAFKA_BROKERS). It does not contain the embedded engine.
#
#   docker build -t meterline:local .
#   docker run -e CLICKHOUSE_URL=http://clickhouse:8123 -e METERLINE_ADMIN_KEY=... -p 8080:8080 meterline:local

# ---- build: compile TypeScript with the dev dependencies -------------------------------------
FROM node:20.20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The full install, optional engine included: platform/store.ts type-checks against chdb's
# declarations. This stage is thrown away, so its 540 MB never reach the runtime image.
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# ---- runtime -----------------------------------------------------------------------------------
FROM node:20.20-bookworm-slim AS runtime
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional leaves out the embedded engine (chdb): the image always runs against a
# ClickHouse server, and without CLICKHOUSE_URL it stops at start with a message saying so.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --omit=optional --no-audit --no-fund
COPY --from=build /app/dist ./dist
# Numeric, so Kubernetes can verify runAsNonRoot; uid 1000 is the image's "node" user.
USER 1000:1000
EXPOSE 8080
# node runs as PID 1 and gets SIGTERM itself: Meterline handles it (drains in-flight requests,
# closes the store) rather than relying on the default action PID 1 does not have.
CMD ["node", "dist/server/main.js"]
