#!/bin/sh
# Stand-in for Prisma's native schema engine, which `prisma generate` insists on
# locating but does not need. Migrations are applied by scripts/migrate.ts instead.
echo "schema engine stub: not available here" >&2
exit 1
