# One image for every process role; ROLE (api, projector or all) picks what runs. Node.js 24
# (LTS), the same release CI runs the suite on besides Node.js 20.
FROM node:24.22.3-slim

WORKDIR /app

# Dependencies first, so the install layer is cached until the lockfile changes. The
# postinstall step generates the Prisma client from prisma/schema.prisma, so that and
# its script come along; it needs the dev dependencies (the Prisma CLI) to do so.
COPY package.json package-lock.json ./
COPY scripts/prisma-generate.mjs scripts/schema-engine-stub.sh scripts/
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci && npm cache clean --force

COPY . .

ENV NODE_ENV=production \
    PORT=4000
EXPOSE 4000

# Migrations are applied at start (under PostgreSQL's migration lock, so replicas may start together).
# node itself (not a wrapper) is PID 1's child process, so SIGTERM reaches the service's
# graceful shutdown: current batch finished, leases released, subscriptions completed.
CMD ["node", "--import", "tsx", "src/main.ts"]
