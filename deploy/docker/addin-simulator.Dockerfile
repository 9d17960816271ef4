# syntax=docker/dockerfile:1
# Simulated ESPRIT add-ins (packages/addin-client) for demos: compose profile `simulator`, never a plant's
# deployment — a simulated add-in takes real jobs. Build from the repository root like the service images.

# ---- build: install from the lock file, compile, bundle (scripts/bundle.mjs)
FROM node:22-slim AS build
ARG NPM_REGISTRY=
ENV CI=true
RUN if [ -n "$NPM_REGISTRY" ]; then npm config set registry "$NPM_REGISTRY"; fi \
 && npm install --global pnpm@12.4.2
WORKDIR /src
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch
COPY . .
RUN pnpm install --frozen-lockfile
RUN node_modules/.bin/tsc -b packages/addin-client \
 && node scripts/bundle.mjs --out /bundles addin-client

# ---- runtime: only the bundle
FROM node:22-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /bundles/addin-client /app
# The shared drive's mount point, owned by the runtime user: a fresh named volume takes over this ownership.
RUN mkdir -p /shared-drive && chown node:node /shared-drive
USER node
# A client with no port: whether it works shows in its progress lines and in the gateway's metrics.
HEALTHCHECK NONE
# Exec form: node gets SIGTERM itself and finishes the jobs in hand before it exits.
ENTRYPOINT ["node", "dist/cli/simulate.js"]
CMD ["--devices", "4", "--think", "500ms-3s", "--mix", "success=8,failure=1,crash=1"]
