// The Kubernetes manifests, checked without a cluster: each overlay is rendered by `kubectl kustomize`
// (as an operator would) and every rendered object is validated against the JSON schemas kept in
// deploy/k8s/schemas (Kubernetes kinds from kubernetes-types 1.30, the two operators' CRDs trimmed),
// then against the invariants the deployment relies on.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

const ROOT = path.resolve(__dirname, '..', '..');
const K8S = path.join(ROOT, 'deploy', 'k8s');
const SERVICES = ['addin-gateway', 'routing-worker', 'history-service', 'notification-service'] as const;
// @mcms/platform's onShutdown gives the drain 25 s; the kubelet's grace must outlast it.
const DRAIN_SECONDS = 25;

// Loose on purpose: the schemas decide what an object may hold; the invariants below read only a few fields.
/* eslint-disable @typescript-eslint/no-explicit-any */
type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [key: string]: any;
};

function render(dir: string): K8sObject[] {
  const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(
      "kubectl is not installed: `apt-get install kubectl` (or Debian's `apt-get install kubernetes-client`); .ci/run installs it",
    );
  }
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((document) => document.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
}

function nameOf(object: K8sObject): string {
  return `${object.kind}/${object.metadata?.name ?? '<unnamed>'}`;
}

function loadValidators(): Map<string, ValidateFunction> {
  // strict: false — the schemas carry keywords (titles, formats) Ajv would otherwise refuse.
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validators = new Map<string, ValidateFunction>();
  const dir = path.join(K8S, 'schemas');
  for (const file of fs.readdirSync(dir).filter((name) => name.endsWith('.json'))) {
    const schema = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    const key = `${schema.properties.apiVersion.const}/${schema.properties.kind.const}`;
    validators.set(key, ajv.compile(schema));
  }
  return validators;
}

const validators = loadValidators();

/** Every problem of every object, each naming the object; empty when all are valid. */
function schemaProblems(objects: K8sObject[]): string[] {
  return objects.flatMap((object) => {
    const validate = validators.get(`${object.apiVersion}/${object.kind}`);
    if (!validate)
      return [`${nameOf(object)}: no schema for ${object.apiVersion} ${object.kind} in deploy/k8s/schemas`];
    if (validate(object)) return [];
    return (validate.errors ?? []).map(
      (error) =>
        `${nameOf(object)}: ${error.instancePath || '/'} ${error.message} ${JSON.stringify(error.params)}`,
    );
  });
}

const ofKind = (objects: K8sObject[], kind: string) => objects.filter((object) => object.kind === kind);
const named = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((object) => object.kind === kind && object.metadata.name === name);

describe.each(['production', 'dev'])('the %s overlay', (overlay) => {
  const objects = render(path.join(K8S, 'overlays', overlay));
  const deployments = ofKind(objects, 'Deployment');

  it('renders, and every object matches its schema', () => {
    expect(objects.length).toBeGreaterThan(20);
    expect(schemaProblems(objects)).toEqual([]);
  });

  it('runs the four services, each with probes, resources, a non-root read-only container and a grace period beyond the drain', () => {
    expect(deployments.map((deployment) => deployment.metadata.name).sort()).toEqual([...SERVICES].sort());
    for (const deployment of deployments) {
      const pod = deployment.spec.template.spec;
      const [container] = pod.containers;
      const where = nameOf(deployment);
      expect({ where, grace: pod.terminationGracePeriodSeconds > DRAIN_SECONDS }).toEqual({
        where,
        grace: true,
      });
      expect({ where, liveness: container.livenessProbe?.httpGet?.path }).toEqual({
        where,
        liveness: '/healthz',
      });
      expect({ where, readiness: container.readinessProbe?.httpGet?.path }).toEqual({
        where,
        readiness: '/readyz',
      });
      expect({ where, startup: container.startupProbe?.httpGet?.path }).toEqual({
        where,
        startup: '/healthz',
      });
      expect({ where, requests: container.resources?.requests, limits: container.resources?.limits }).toEqual(
        {
          where,
          requests: { cpu: expect.anything(), memory: expect.anything() },
          limits: { cpu: expect.anything(), memory: expect.anything() },
        },
      );
      expect({ where, nonRoot: pod.securityContext?.runAsNonRoot }).toEqual({ where, nonRoot: true });
      expect({ where, readOnly: container.securityContext?.readOnlyRootFilesystem }).toEqual({
        where,
        readOnly: true,
      });
      expect({
        where,
        antiAffinity:
          pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm
            ?.topologyKey,
      }).toEqual({ where, antiAffinity: 'kubernetes.io/hostname' });
      expect({ where, label: deployment.metadata.labels?.['app.kubernetes.io/name'] }).toEqual({
        where,
        label: deployment.metadata.name,
      });
    }
  });

  it('commits no Secret and takes every credential from a Secret reference', () => {
    expect(ofKind(objects, 'Secret').map(nameOf)).toEqual([]);
    const credentials = ['AMQP_URL', 'DATABASE_URL', 'MCMS_JWT_SECRET', 'ADDIN_BOOTSTRAP_KEY'];
    for (const workload of [...deployments, ...ofKind(objects, 'Job'), ...ofKind(objects, 'StatefulSet')]) {
      for (const container of workload.spec.template.spec.containers) {
        for (const variable of container.env ?? []) {
          if (credentials.includes(variable.name) || /PASS|SECRET/.test(variable.name)) {
            expect({
              where: `${nameOf(workload)} ${variable.name}`,
              secretKeyRef: variable.valueFrom?.secretKeyRef !== undefined,
            }).toEqual({ where: `${nameOf(workload)} ${variable.name}`, secretKeyRef: true });
          }
        }
      }
    }
    for (const map of ofKind(objects, 'ConfigMap')) {
      expect({
        where: nameOf(map),
        keys: Object.keys(map.data ?? {}).filter(
          (key) => /URL$|SECRET|PASS|KEY$/.test(key) && !/_SERVICE_URL$|_WORKER_URL$/.test(key),
        ),
      }).toEqual({ where: nameOf(map), keys: [] });
    }
  });

  it('mounts the ReadWriteMany shared drive into routing-worker only', () => {
    const claim = named(objects, 'PersistentVolumeClaim', 'mcms-shared-drive');
    expect(claim?.spec.accessModes).toEqual(['ReadWriteMany']);
    const mounting = [...deployments, ...ofKind(objects, 'Job'), ...ofKind(objects, 'StatefulSet')]
      .filter((workload) =>
        (workload.spec.template.spec.volumes ?? []).some(
          (volume: any) => volume.persistentVolumeClaim?.claimName === 'mcms-shared-drive',
        ),
      )
      .map(nameOf);
    expect(mounting).toEqual(['Deployment/routing-worker']);
    const worker = named(objects, 'Deployment', 'routing-worker')!;
    const config = named(objects, 'ConfigMap', 'routing-worker-config')!;
    const mount = worker.spec.template.spec.containers[0].volumeMounts.find(
      (m: any) => m.name === 'shared-drive',
    );
    expect(mount.mountPath).toBe(config.data.SHARED_DRIVE_ROOT);
  });

  it('denies all traffic by default and gives every service a NetworkPolicy of its own', () => {
    const policies = ofKind(objects, 'NetworkPolicy');
    const denyAll = policies.find((policy) => policy.metadata.name === 'mcms-default-deny');
    expect(denyAll?.spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'mcms' } },
      policyTypes: ['Ingress', 'Egress'],
    });
    for (const service of SERVICES) {
      const own = policies.filter(
        (policy) => policy.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === service,
      );
      expect({ service, policies: own.length }).toEqual({ service, policies: 1 });
    }
    // notification-service is the one that calls others: routing-worker and history-service, nothing else.
    const notification = named(objects, 'NetworkPolicy', 'notification-service')!;
    const called = notification.spec.egress.map(
      (rule: any) => rule.to[0].podSelector.matchLabels['app.kubernetes.io/name'],
    );
    expect(called.sort()).toEqual(['history-service', 'routing-worker']);
    // Only notification-service (and the metrics scraper) may call routing-worker and history-service.
    for (const callee of ['routing-worker', 'history-service']) {
      const from = named(objects, 'NetworkPolicy', callee)!.spec.ingress.flatMap((rule: any) =>
        rule.from.map((peer: any) => peer.podSelector.matchLabels['app.kubernetes.io/name']),
      );
      expect(from.sort()).toEqual(['notification-service', 'prometheus']);
    }
  });

  it('gives every service a PodDisruptionBudget and a migration Job, and the gateway and worker an autoscaler', () => {
    expect(
      ofKind(objects, 'PodDisruptionBudget')
        .map((budget) => budget.metadata.name)
        .sort(),
    ).toEqual([...SERVICES].sort());
    expect(
      ofKind(objects, 'HorizontalPodAutoscaler')
        .map((hpa) => hpa.spec.scaleTargetRef.name)
        .sort(),
    ).toEqual(['addin-gateway', 'routing-worker']);
    const jobs = ofKind(objects, 'Job');
    for (const service of SERVICES) {
      const job = jobs.find((candidate) => candidate.metadata.name === `${service}-migrate`);
      expect({ service, command: job?.spec.template.spec.containers[0].command.slice(2, 5) }).toEqual({
        service,
        command: ['migrate', '--service', service],
      });
    }
  });
});

describe('the production overlay', () => {
  const objects = render(path.join(K8S, 'overlays', 'production'));

  it('runs a 3-node RabbitMQ cluster and a 3-instance PostgreSQL through their operators, with quorum queues and 2+ replicas', () => {
    expect(ofKind(objects, 'RabbitmqCluster').map((cluster) => cluster.spec.replicas)).toEqual([3]);
    expect(ofKind(objects, 'Cluster').map((cluster) => cluster.spec.instances)).toEqual([3]);
    expect(named(objects, 'ConfigMap', 'mcms-config')?.data.MCMS_QUEUE_TYPE).toBe('quorum');
    expect(named(objects, 'ConfigMap', 'mcms-config')?.data.NODE_ENV).toBe('production');
    for (const deployment of ofKind(objects, 'Deployment')) {
      expect({ where: nameOf(deployment), replicas: deployment.spec.replicas >= 2 }).toEqual({
        where: nameOf(deployment),
        replicas: true,
      });
    }
    for (const hpa of ofKind(objects, 'HorizontalPodAutoscaler'))
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(ofKind(objects, 'StatefulSet')).toEqual([]);
  });
});

describe('the dev overlay', () => {
  const objects = render(path.join(K8S, 'overlays', 'dev'));

  it('runs one replica of everything with a single RabbitMQ and PostgreSQL and no operator', () => {
    expect(ofKind(objects, 'StatefulSet').map((set) => [set.metadata.name, set.spec.replicas])).toEqual([
      ['mcms-db', 1],
      ['mcms-rabbitmq', 1],
    ]);
    expect(ofKind(objects, 'RabbitmqCluster')).toEqual([]);
    expect(ofKind(objects, 'Cluster')).toEqual([]);
    for (const deployment of ofKind(objects, 'Deployment')) expect(deployment.spec.replicas).toBe(1);
    // The services find the stores under the Service names production's operators create.
    expect(named(objects, 'Service', 'mcms-rabbitmq')).toBeDefined();
    expect(named(objects, 'Service', 'mcms-db-rw')).toBeDefined();
  });
});

describe('a broken manifest', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcms-k8s-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function overlay(extra: string, patch: string): K8sObject[] {
    // bases + patchesStrategicMerge: what our overlays use, so the check runs on both kustomize generations.
    const base = path.relative(dir, path.join(K8S, 'base'));
    fs.writeFileSync(path.join(dir, 'patch.yaml'), patch);
    fs.writeFileSync(path.join(dir, 'extra.yaml'), extra);
    fs.writeFileSync(
      path.join(dir, 'kustomization.yaml'),
      `bases:\n  - ${base}\nresources:\n  - extra.yaml\npatchesStrategicMerge:\n  - patch.yaml\n`,
    );
    return render(dir);
  }

  it('fails validation naming the object and the bad field', () => {
    const objects = overlay(
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: harmless\ndata: {}\n',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: routing-worker\nspec:\n  replicas: "two"\n  template:\n    spec:\n      terminationGracePeriodSecond: 40\n',
    );
    expect(schemaProblems(objects)).toEqual([
      'Deployment/routing-worker: /spec/replicas must be number {"type":"number"}',
      'Deployment/routing-worker: /spec/template/spec must NOT have additional properties {"additionalProperty":"terminationGracePeriodSecond"}',
    ]);
  });

  it('fails on a kind it has no schema for', () => {
    const objects = overlay(
      'apiVersion: example.com/v1\nkind: Frobnicator\nmetadata:\n  name: odd\nspec: {}\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mcms-config\ndata:\n  LOG_LEVEL: warn\n',
    );
    expect(schemaProblems(objects)).toEqual([
      'Frobnicator/odd: no schema for example.com/v1 Frobnicator in deploy/k8s/schemas',
    ]);
  });

  it('fails on an operator resource that breaks its CRD schema', () => {
    const objects = overlay(
      'apiVersion: rabbitmq.com/v1beta1\nkind: RabbitmqCluster\nmetadata:\n  name: bad\nspec:\n  replica: 3\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mcms-config\ndata:\n  LOG_LEVEL: warn\n',
    );
    expect(schemaProblems(objects)).toEqual([
      expect.stringMatching(/^RabbitmqCluster\/bad: \/spec must NOT have additional properties .*replica/),
    ]);
  });
});
