# syntax=docker/dockerfile:1
# Relais FHIR R4 server. Multi-stage: build with dev dependencies, run with
# production dependencies only, as a non-root user, data in a volume.
# Node.js 24, the current LTS. The `relais` command is on the PATH
# (dist/cli.js): `docker exec <container> relais token --role coordinator`,
# `relais register-client ...`, `relais reindex`, `relais import <files>`,
# `relais export --out <folder>` (README, "Docker").
#
# The default AUTH_MODE=dev signs tokens with a key made in /data/dev-auth on
# first start: for several replicas, mount one shared folder and set
# AUTH_DEV_DIR to it. In production, run AUTH_MODE=oidc with your identity
# provider (AUTH_ISSUER, AUTH_JWKS_URL; README, "Access control") and keep
# /metrics behind METRICS_TOKEN or off the public network.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
RUN ln -s /app/dist/cli.js /usr/local/bin/relais
COPY --from=build /app/dist ./dist
COPY profiles ./profiles
# FHIR packages loaded at start (FHIR_PACKAGES_DIR=./fhir-packages, relative to WORKDIR): FR Core 2.2.0 (CC0).
COPY fhir-packages ./fhir-packages
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node itself is PID 1 (not npm), so SIGTERM reaches the server and triggers its graceful shutdown.
CMD ["node", "dist/cli.js", "serve"]
