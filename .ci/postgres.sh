#!/usr/bin/env bash
# Start Debian's PostgreSQL cluster on 127.0.0.1 and create the test role and database (idempotent).
set -euo pipefail
ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | grep -q online; then
  pg_lsclusters -h | grep -q . || pg_createcluster "$ver" main >/dev/null
  pg_ctlcluster "$ver" main start
fi
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='mammokit'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE mammokit LOGIN PASSWORD 'mammokit'\""
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='mammokit_test'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE DATABASE mammokit_test OWNER mammokit\""
echo "postgres ready on 127.0.0.1:5432"
