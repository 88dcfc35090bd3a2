# syntax=docker/dockerfile:1
# malt: serve precomputed player data over HTTP (8080) and gRPC (50051).
#
#   docker build -t malt .
#   docker run --rm -p 8080:8080 -p 50051:50051 \
#     -e REDIS_URL=redis://redis.internal:6379 \
#     -v "$PWD/malt.yaml:/app/malt.yaml:ro" -v "$PWD/lake:/app/lake:ro" malt
#
# The image has no redis-server, so set REDIS_URL (or redis.url in the config). Other commands
# run the same way: `docker run ... malt node bin/malt.js load`. docker-compose.yml and
# deploy/k8s/ run it as serve, sync, consume and load (deploy/README.md).

# ---- build: compile TypeScript to dist/ ----
# Node 24 is the current LTS; malt also supports Node >= 20.19 outside the image.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the "prepare" script would compile before src/ is copied; the build runs below.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and compiled code only ----
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" needs TypeScript (a devDependency); dist/ comes from the build stage.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY lua ./lua
COPY proto ./proto
# Inside a container malt must listen on all interfaces: its default, 127.0.0.1, is reachable
# only from inside the container itself, not through published ports.
ENV MALT_HOST=0.0.0.0
EXPOSE 8080 50051
# The app files stay owned by root (and can stay read-only: malt writes nothing under /app when
# it has a REDIS_URL); it runs as the node image's unprivileged `node` user, named by its uid so
# Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 1000:1000
# Liveness of `malt serve` (/healthz answers while the process is up; readiness is /readyz).
# Slim images have no curl; use node's fetch. Follows MALT_HTTP_PORT if it is overridden.
# Containers that serve no HTTP (sync, consume, load) turn it off (docker-compose.yml does).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.MALT_HTTP_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# Node/V8 flags go in MALT_NODE_FLAGS (e.g. -e MALT_NODE_FLAGS=--max-semi-space-size=32): bin/malt.js
# re-runs node with them and relays SIGTERM. None are set by default: a larger young generation
# did not lower gRPC p99 in bench/tails.mjs (BENCHMARKS.md "gRPC tail latency").
CMD ["node", "bin/malt.js", "serve"]
