# syntax=docker/dockerfile:1
# The history-service image. Build from the repository root: docker build -f deploy/docker/history-service.Dockerfile .
# (deploy/compose.yaml does). The build stage needs the npm registry, or a mirror (--build-arg NPM_REGISTRY=<url>),
# and nothing else; the runtime stage downloads nothing, at build or at start. deploy/README.md has the details.

# ---- build: the same steps as CI — install from the lock file, generate, compile, bundle (scripts/bundle.mjs)
FROM node:22-slim AS build
ARG NPM_REGISTRY=
ENV CI=true
RUN if [ -n "$NPM_REGISTRY" ]; then npm config set registry "$NPM_REGISTRY"; fi \
 && npm install --global pnpm@12.4.2
WORKDIR /src
# The lock file alone decides what is fetched: this layer stays cached until a dependency changes.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch
COPY . .
RUN pnpm install --frozen-lockfile
RUN node_modules/.bin/tsc -b packages/db \
 && node packages/db/dist/cli.js generate --service history-service \
 && node_modules/.bin/tsc -b services/history-service \
 && node scripts/bundle.mjs --out /bundles history-service

# ---- runtime: only the bundle (dist/ without the generated Prisma client, prisma/migrations, production node_modules)
FROM node:22-slim AS runtime
# V8's heap sized for a service, not for the node's memory: old space capped at 128 MB (the live heap under load
# is 30–45 MB; uncapped, V8 lets garbage pile up to 100+ MB) and 16 MB per semi-space of the young generation
# (2 MB cost ~5 % more CPU per result in scavenges). ~95–125 MB RSS per service under load, under the 200 MB
# target (docs/performance.md, 2026-12-03; decisions 0012, 0017). The benchmark runs the services the same way.
ENV NODE_ENV=production \
    PORT=8082 \
    NODE_OPTIONS="--max-semi-space-size=16 --max-old-space-size=128"
WORKDIR /app
COPY --from=build /bundles/history-service /app
# Not root: the app files stay root-owned, so the process can't change its own code.
USER node
EXPOSE 8082
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Migrations are a separate step, never part of a replica's start (compose: migrate-history-service; Kubernetes: a Job):
#   node node_modules/@mcms/db/dist/cli.js migrate --service history-service --migrations-dir prisma/migrations
# Exec form: node is PID 1 and gets SIGTERM itself, so it drains in-flight work before it exits.
CMD ["node", "dist/main.js"]
