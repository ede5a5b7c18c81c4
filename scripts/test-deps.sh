#!/usr/bin/env bash
# The Debian packages `make test` needs besides Python's: Chromium (browser tests) and the PostgreSQL
# server binaries (the tests start their own throwaway server). Root installs what is missing with
# apt-get; anyone else is told the exact command. Present packages are left alone (fast second run).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || command -v pg_ctl >/dev/null 2>&1 || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$EUID" -ne 0 ]; then
  echo "make test needs ${need[*]}: run  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing ${need[*]} (apt-get) for the browser and PostgreSQL tests"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
