import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { configSchema, loadConfig, type Role } from '../platform/config.js';

/**
 * The deployment files cannot be run here (no container runtime), so they are read instead:
 * every Meterline container gets only settings the config schema accepts and every setting its
 * role needs, every file they mount exists, the ports they probe and scrape are the port the
 * service listens on, and every image is pinned.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEPLOY = join(ROOT, 'deploy');
const CONFIG_KEYS = new Set(Object.keys(configSchema.shape));
/** What a process needs when it runs one role against shared servers (README, Scale-out mode). */
const SCALE_OUT_NEEDS = ['CLICKHOUSE_URL', 'KAFKA_BROKERS', 'METERLINE_ROLES', 'METERLINE_ADMIN_KEY', 'PORT'];

// The compose and manifest files are untyped YAML; each access below is checked by an assertion.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Yaml = any;

const read = (path: string) => readFileSync(path, 'utf8');

/** An image reference has an explicit tag (or digest) that is not "latest". */
function isPinned(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const lastSegment = image.split('/').pop() ?? '';
  const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.indexOf(':') + 1) : '';
  return tag !== '' && tag !== 'latest' && !tag.includes('$');
}

/** Every key=value of deploy/.env.example: the values compose interpolates in this test. */
function envExample(): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of read(join(DEPLOY, '.env.example')).split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) values[match[1] as string] = match[2] as string;
  }
  return values;
}

/**
 * Compose-style interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message} and $$.
 * A variable without a default must be defined in deploy/.env.example, the template of deploy/.env.
 */
function interpolate(text: string, env: Readonly<Record<string, string>>, missing: Set<string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (whole, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (whole === '$$') return '$';
    const value = env[name as string];
    if (op === ':-' || op === '-') return value === undefined || (op === ':-' && value === '') ? (arg ?? '') : value;
    if (value === undefined) missing.add(name as string);
    return value ?? '';
  });
}

function loadCompose(): { compose: Yaml; missing: Set<string> } {
  const missing = new Set<string>();
  const text = interpolate(read(join(DEPLOY, 'compose.yaml')), envExample(), missing);
  return { compose: parseYaml(text, { merge: true }), missing };
}

/** Stringified environment of a compose service, whichever of the two syntaxes it uses. */
function composeEnv(service: Yaml): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry: string) => {
        const index = entry.indexOf('=');
        return index < 0 ? [entry, ''] : [entry.slice(0, index), entry.slice(index + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value ?? '')]));
}

/** Host side of a compose bind mount, or undefined for a named volume. */
function bindSource(volume: Yaml): { source: string; target: string } | undefined {
  if (typeof volume === 'string') {
    const [source, target] = volume.split(':');
    if (source === undefined || target === undefined) return undefined;
    return source.startsWith('.') || source.startsWith('/') ? { source, target } : undefined;
  }
  return volume.type === 'bind' ? { source: String(volume.source), target: String(volume.target) } : undefined;
}

/** The port a URL such as http://127.0.0.1:8080/readyz names. */
function urlPort(text: string): number | undefined {
  const match = /https?:\/\/[^/:\s'"]+:(\d+)/.exec(text);
  return match ? Number(match[1]) : undefined;
}

function expectValidConfig(env: Record<string, string>, role: Role, where: string): void {
  for (const key of Object.keys(env)) expect(CONFIG_KEYS.has(key), `${where}: ${key} is not a Meterline setting`).toBe(true);
  for (const key of SCALE_OUT_NEEDS) expect(env[key], `${where}: ${key} must be set`).toBeTruthy();
  const config = loadConfig(env);
  expect(config.store.kind, where).toBe('server');
  expect(config.kafka, `${where}: a single role needs Kafka`).toBeDefined();
  expect([...config.roles], where).toEqual([role]);
}

describe('docker compose file', () => {
  const { compose, missing } = loadCompose();
  const services: Record<string, Yaml> = compose.services ?? {};
  const meterline = Object.entries(services).filter(([, service]) => String(service.image ?? '').startsWith('meterline:'));

  it('interpolates only variables that deploy/.env.example defines', () => {
    expect([...missing]).toEqual([]);
  });

  it('runs Kafka 4.4.0 (KRaft), ClickHouse, api ×2, an aggregator, a rater, alerts, Prometheus, Grafana and a mail catcher', () => {
    expect(services.kafka?.image).toBe('apache/kafka:4.4.0');
    expect(composeEnv(services.kafka).KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(String(services.clickhouse?.image)).toMatch(/^clickhouse\/clickhouse-server:/);
    expect(services.api?.deploy?.replicas).toBeGreaterThanOrEqual(2);
    expect(services.aggregator?.deploy?.replicas ?? 1).toBeGreaterThanOrEqual(1);
    expect(String(services.prometheus?.image)).toMatch(/^prom\/prometheus:/);
    expect(String(services.grafana?.image)).toMatch(/^grafana\/grafana(-oss)?:/);
    expect(String(services.mailpit?.image)).toMatch(/^axllent\/mailpit:/);
    expect(meterline.map(([name]) => name).sort()).toEqual(['aggregator', 'alerts', 'api', 'rater']);
    expect(services.alerts?.deploy?.replicas ?? 1).toBe(1);
    expect(composeEnv(services.alerts).SMTP_HOST).toBe('mailpit');
  });

  it('pins every image to an explicit tag', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(service.image, `${name} has no image`).toBeTruthy();
      expect(isPinned(String(service.image)), `${name}: ${service.image}`).toBe(true);
    }
  });

  it('builds the Meterline image from the repository Dockerfile', () => {
    for (const [name, service] of meterline) {
      const context = resolve(DEPLOY, String(service.build?.context));
      expect(existsSync(join(context, String(service.build?.dockerfile ?? 'Dockerfile'))), name).toBe(true);
      expect(existsSync(join(context, 'package.json')), `${name}: the context is the repository`).toBe(true);
    }
  });

  it('gives each Meterline role only accepted settings and every setting it needs', () => {
    for (const [name, service] of meterline) expectValidConfig(composeEnv(service), name as Role, `compose ${name}`);
  });

  it('checks health, publishes and is scraped on the port the service listens on', () => {
    const prometheus = parseYaml(read(join(DEPLOY, 'prometheus/prometheus.yml')));
    const scraped = new Map<string, number>();
    for (const job of prometheus.scrape_configs ?? []) {
      for (const sd of job.dns_sd_configs ?? []) for (const host of sd.names ?? []) scraped.set(String(host), Number(sd.port));
    }
    for (const [name, service] of meterline) {
      const port = loadConfig(composeEnv(service)).port;
      const test = [service.healthcheck?.test ?? []].flat().join(' ');
      expect(test, `${name} healthcheck`).toMatch(/\/readyz/);
      expect(urlPort(test), `${name} healthcheck port`).toBe(port);
      for (const mapping of service.ports ?? []) expect(Number(String(mapping).split(':').pop()), `${name} ports`).toBe(port);
      expect(scraped.get(name), `prometheus scrapes ${name}`).toBe(port);
    }
  });

  it('mounts only files that exist in the repository', () => {
    let mounts = 0;
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const bind = bindSource(volume);
        if (!bind) continue;
        mounts += 1;
        expect(existsSync(resolve(DEPLOY, bind.source)), `${name}: ${bind.source}`).toBe(true);
      }
    }
    expect(mounts).toBeGreaterThanOrEqual(6);
  });

  it('loads the alert rules into Prometheus', () => {
    const prometheus = parseYaml(read(join(DEPLOY, 'prometheus/prometheus.yml')));
    const mounts = (services.prometheus.volumes ?? []).map(bindSource).filter(Boolean) as Array<{ source: string; target: string }>;
    const config = mounts.find((mount) => mount.source.endsWith('prometheus/prometheus.yml'));
    expect(config).toBeDefined();
    for (const ruleFile of prometheus.rule_files ?? []) {
      const inContainer = resolve(dirname(config?.target ?? '/'), String(ruleFile));
      const mount = mounts.find((candidate) => candidate.target === inContainer);
      expect(mount, `rule file ${inContainer} is mounted`).toBeDefined();
      expect(resolve(DEPLOY, mount?.source ?? '')).toBe(join(DEPLOY, 'prometheus/rules.yml'));
    }
    const command = [services.prometheus.command ?? []].flat().join(' ');
    expect(command).toContain(`--config.file=${config?.target}`);
  });

  it('provisions Grafana with the ClickHouse plugin, both data sources and the dashboards folder', () => {
    const grafana = services.grafana;
    const env = composeEnv(grafana);
    expect(env.GF_INSTALL_PLUGINS).toMatch(/^grafana-clickhouse-datasource \d+\.\d+\.\d+$/);
    const mounts = (grafana.volumes ?? []).map(bindSource).filter(Boolean) as Array<{ source: string; target: string }>;
    const target = (source: string) => mounts.find((mount) => resolve(DEPLOY, mount.source) === join(ROOT, source))?.target;
    expect(target('dashboards/provisioning/datasources')).toBe('/etc/grafana/provisioning/datasources');
    expect(target('dashboards/provisioning/dashboards')).toBe('/etc/grafana/provisioning/dashboards');
    const providers = parseYaml(read(join(ROOT, 'dashboards/provisioning/dashboards/dashboards.yaml'))).providers as Yaml[];
    expect(providers.map((provider) => provider.options?.path)).toEqual([target('dashboards')]);
    // The data source file reads its hosts and credentials from Grafana's environment.
    const datasources = read(join(ROOT, 'dashboards/provisioning/datasources/datasources.yaml'));
    const referenced = [...datasources.matchAll(/\$\{(\w+)\}/g)].map(([, name]) => name as string);
    expect(referenced.length).toBeGreaterThan(0);
    for (const name of referenced) expect(env[name], `grafana needs ${name}`).toBeTruthy();
    expect(urlPort(env.PROMETHEUS_URL ?? '')).toBe(9090);
    expect(services[env.CLICKHOUSE_HOST ?? '']).toBeDefined();
  });

  it('gives Grafana a read-only ClickHouse user that cannot read API keys', () => {
    const users = read(join(DEPLOY, 'clickhouse/users.d/grafana.xml'));
    const env = composeEnv(services.grafana);
    expect(users).toContain(`<${env.CLICKHOUSE_GRAFANA_USER}>`);
    expect(users).toMatch(/<readonly>[12]<\/readonly>/);
    const grants = [...users.matchAll(/<query>([^<]*)<\/query>/g)].map(([, query]) => (query as string).trim());
    expect(grants.length).toBeGreaterThan(0);
    for (const grant of grants) expect(grant).toMatch(/^GRANT SELECT ON meterline\.(events|meters|customers|tenants|rated_charges|alerts|alert_deliveries|alert_rules)$/);
    const passwordVar = /from_env="(\w+)"/.exec(users)?.[1] ?? '';
    expect(composeEnv(services.clickhouse)[passwordVar]).toBeTruthy();
  });
});

interface Manifest {
  readonly file: string;
  readonly doc: Yaml;
}

function loadManifests(): Manifest[] {
  const dir = join(DEPLOY, 'kubernetes');
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name) && name !== 'kustomization.yaml')
    .sort()
    .flatMap((file) =>
      parseAllDocuments(read(join(dir, file)))
        .map((document) => {
          expect(document.errors, file).toEqual([]);
          return { file, doc: document.toJS() as Yaml };
        })
        .filter(({ doc }) => doc !== null && doc !== undefined),
    );
}

describe('kubernetes manifests', () => {
  const manifests = loadManifests();
  const byKind = (kind: string) => manifests.filter(({ doc }) => doc.kind === kind).map(({ doc }) => doc);
  const deployments = byKind('Deployment');
  const configMaps = new Map(byKind('ConfigMap').map((doc) => [doc.metadata.name, doc.data ?? {}]));
  const secrets = new Map(byKind('Secret').map((doc) => [doc.metadata.name, { ...(doc.stringData ?? {}) }]));

  /** The environment a container sees: envFrom first, then env (which wins), as Kubernetes does. */
  const containerEnv = (container: Yaml): Record<string, string> => {
    const env: Record<string, string> = {};
    for (const source of container.envFrom ?? []) {
      const values = source.configMapRef ? configMaps.get(source.configMapRef.name) : secrets.get(source.secretRef?.name);
      expect(values, `envFrom ${JSON.stringify(source)} names a manifest in this folder`).toBeDefined();
      Object.assign(env, values);
    }
    for (const entry of container.env ?? []) {
      expect(entry.value, `${entry.name}: literal values only, so they can be checked`).toBeDefined();
      env[entry.name] = String(entry.value);
    }
    return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value)]));
  };

  const meterlineContainers = deployments.flatMap((deployment) =>
    (deployment.spec.template.spec.containers as Yaml[])
      .filter((container) => String(container.image).startsWith('meterline'))
      .map((container) => ({ deployment, container })),
  );

  it('has one Deployment per role', () => {
    const roles = meterlineContainers.map(({ container }) => containerEnv(container).METERLINE_ROLES).sort();
    expect(roles).toEqual(['aggregator', 'alerts', 'api', 'rater']);
  });

  it('gives each role only accepted settings and every setting it needs', () => {
    for (const { deployment, container } of meterlineContainers) {
      const env = containerEnv(container);
      expectValidConfig(env, env.METERLINE_ROLES as Role, `kubernetes ${deployment.metadata.name}`);
    }
  });

  it('probes /readyz and /healthz on the port the service listens on', () => {
    for (const { deployment, container } of meterlineContainers) {
      const port = loadConfig(containerEnv(container)).port;
      const named = new Map((container.ports ?? []).map((entry: Yaml) => [entry.name, entry.containerPort]));
      const probePort = (probe: Yaml) => {
        const value = probe?.httpGet?.port;
        return typeof value === 'number' ? value : named.get(value);
      };
      const where = deployment.metadata.name;
      expect(container.readinessProbe?.httpGet?.path, where).toBe('/readyz');
      expect(container.livenessProbe?.httpGet?.path, where).toBe('/healthz');
      for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe].filter(Boolean)) {
        expect(probePort(probe), `${where} probe port`).toBe(port);
      }
      const annotations = deployment.spec.template.metadata.annotations ?? {};
      expect(Number(annotations['prometheus.io/port']), `${where} scrape port`).toBe(port);
      expect(annotations['prometheus.io/path'], where).toBe('/metrics');
    }
  });

  it('sets resource requests and a memory limit on every container', () => {
    for (const { deployment, container } of meterlineContainers) {
      const where = deployment.metadata.name;
      expect(container.resources?.requests?.cpu, where).toBeTruthy();
      expect(container.resources?.requests?.memory, where).toBeTruthy();
      expect(container.resources?.limits?.memory, where).toBeTruthy();
    }
  });

  it('runs as the non-root user the Dockerfile sets, and outlasts the shutdown grace on termination', () => {
    const user = /^USER\s+(\d+)/m.exec(read(join(ROOT, 'Dockerfile')))?.[1];
    for (const { deployment, container } of meterlineContainers) {
      const pod = deployment.spec.template.spec;
      expect(pod.securityContext?.runAsNonRoot, deployment.metadata.name).toBe(true);
      expect(String(pod.securityContext?.runAsUser), deployment.metadata.name).toBe(user);
      const graceMs = loadConfig(containerEnv(container)).shutdownGraceMs;
      expect((pod.terminationGracePeriodSeconds ?? 30) * 1000, deployment.metadata.name).toBeGreaterThan(graceMs);
    }
  });

  it('covers every Deployment with a PodDisruptionBudget and autoscales the api', () => {
    const matches = (selector: Yaml, labels: Yaml) =>
      Object.entries(selector?.matchLabels ?? {}).every(([key, value]) => labels?.[key] === value);
    for (const deployment of deployments) {
      const labels = deployment.spec.template.metadata.labels;
      expect(matches(deployment.spec.selector, labels), `${deployment.metadata.name} selects its own pods`).toBe(true);
      expect(byKind('PodDisruptionBudget').some((pdb) => matches(pdb.spec.selector, labels)), deployment.metadata.name).toBe(true);
    }
    const hpas = byKind('HorizontalPodAutoscaler');
    const api = meterlineContainers.find(({ container }) => containerEnv(container).METERLINE_ROLES === 'api')?.deployment;
    expect(hpas.map((hpa) => hpa.spec.scaleTargetRef.name)).toContain(api?.metadata.name);
    for (const hpa of hpas) expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
  });

  it('routes the api Service to the api pods on the container port', () => {
    for (const service of byKind('Service')) {
      const target = deployments.find((deployment) =>
        Object.entries(service.spec.selector ?? {}).every(([key, value]) => deployment.spec.template.metadata.labels[key] === value),
      );
      expect(target, service.metadata.name).toBeDefined();
      const containerPorts = (target.spec.template.spec.containers as Yaml[]).flatMap((container) => container.ports ?? []);
      for (const port of service.spec.ports) {
        expect(containerPorts.some((entry: Yaml) => entry.name === port.targetPort || entry.containerPort === port.targetPort), service.metadata.name).toBe(true);
      }
    }
  });

  it('pins every image to an explicit tag', () => {
    const images = deployments.flatMap((deployment) =>
      [...(deployment.spec.template.spec.containers ?? []), ...(deployment.spec.template.spec.initContainers ?? [])].map((container: Yaml) => String(container.image)),
    );
    expect(images.length).toBeGreaterThan(0);
    for (const image of images) expect(isPinned(image), image).toBe(true);
  });

  it('lists every manifest in the kustomization, and nothing else', () => {
    const dir = join(DEPLOY, 'kubernetes');
    const kustomization = parseYaml(read(join(dir, 'kustomization.yaml')));
    const files = readdirSync(dir).filter((name) => /\.ya?ml$/.test(name) && name !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    for (const image of kustomization.images ?? []) expect(image.newTag ?? image.digest, image.name).toBeTruthy();
  });
});

describe('Dockerfile', () => {
  const dockerfile = read(join(ROOT, 'Dockerfile'));

  it('builds from pinned base images', () => {
    const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map(([, image]) => image as string);
    expect(bases.length).toBeGreaterThanOrEqual(2);
    for (const image of bases) expect(isPinned(image), image).toBe(true);
  });

  it('installs the runtime without dev dependencies or the embedded engine, and runs as a non-root user', () => {
    const stages = dockerfile.split(/^FROM\s+/m);
    const runtime = stages[stages.length - 1] ?? '';
    expect(runtime).toMatch(/npm ci[^\n]*--omit=dev/);
    expect(runtime).toMatch(/npm ci[^\n]*--omit=optional/);
    expect(/^USER\s+(\d+)/m.exec(runtime)?.[1]).not.toBe('0');
    expect(/^USER\s+\d+/m.test(runtime)).toBe(true);
  });

  it('starts the compiled entry point that npm start runs, and exposes the default port', () => {
    const pkg = JSON.parse(read(join(ROOT, 'package.json'))) as { scripts: Record<string, string> };
    const entry = /node\s+(\S+\.js)/.exec(pkg.scripts.start ?? '')?.[1];
    expect(entry).toBeDefined();
    expect(dockerfile).toMatch(new RegExp(`^CMD \\["node", "${entry}"\\]`, 'm'));
    const buildConfig = JSON.parse(read(join(ROOT, 'tsconfig.json'))) as { compilerOptions: { outDir: string } };
    expect(entry?.startsWith(`${buildConfig.compilerOptions.outDir}/`)).toBe(true);
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${loadConfig({}).port}$`, 'm'));
  });

  it('keeps in the build context everything the build needs', () => {
    const ignored = read(join(ROOT, '.dockerignore'))
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    const build = JSON.parse(read(join(ROOT, 'tsconfig.build.json'))) as { include: string[] };
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', ...build.include]) {
      expect(ignored.some((pattern) => pattern === needed || pattern === `${needed}/` || pattern === `/${needed}`), needed).toBe(false);
    }
    expect(ignored).toContain('node_modules');
  });
});
