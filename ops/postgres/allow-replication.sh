#!/bin/sh
# Run once by the postgres image when it creates the cluster (docker-entrypoint-initdb.d):
# lets the streaming replica of docker-compose.yml connect for replication.
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
