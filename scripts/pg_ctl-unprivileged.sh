#!/usr/bin/env bash
# pg_ctl for the test suite's throwaway PostgreSQL (pytest-postgresql's process fixture), usable as root.
#
# PostgreSQL refuses to run as root, so root runs pg_ctl as an unprivileged user (postgres, else nobody).
# pytest's temp folders are private to root (mode 0700), which that user cannot enter, so the data
# directory is made in a fresh folder of its own under /tmp; the path pytest-postgresql asked for becomes
# a small folder whose file `real` names it. The server log is opened here, by root, at the asked path.
# `stop` removes the real data directory. Not root: plain pg_ctl.
set -euo pipefail
real_pg_ctl=$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$real_pg_ctl" ] || real_pg_ctl=$(command -v pg_ctl || true)
if [ -z "$real_pg_ctl" ]; then
  echo "pg_ctl not found: install the PostgreSQL server (apt-get install postgresql)" >&2
  exit 127
fi
[ "$(id -u)" -eq 0 ] || exec "$real_pg_ctl" "$@"

user=postgres
id -u "$user" >/dev/null 2>&1 || user=nobody
action=${1:-}
asked="" log=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -D|--pgdata) asked=$2; args+=("$1" "@DATA@"); shift 2 ;;
    -l) log=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

data=/nonexistent
if [ -n "$asked" ]; then
  if [ "$action" = initdb ]; then
    mkdir -p "$asked"
    data=$(mktemp -d /tmp/mammokit-pg.XXXXXXXX)
    chown "$user:" "$data"
    printf '%s\n' "$data" >"$asked/real"
  elif [ -f "$asked/real" ]; then
    data=$(cat "$asked/real")
  fi
fi
args=("${args[@]/#@DATA@/$data}")
cd /tmp  # the unprivileged user may not be allowed into the caller's working directory

as_user() { setpriv --reuid="$user" --regid="$user" --init-groups -- "$real_pg_ctl" "$@"; }
if [ -n "$log" ]; then
  as_user "${args[@]}" >>"$log" 2>&1 || { rc=$?; cat "$log" >&2; exit "$rc"; }
elif [ "$action" = stop ]; then
  rc=0
  as_user "${args[@]}" || rc=$?
  case "$data" in /tmp/mammokit-pg.*) [ -e "$data/postmaster.pid" ] || rm -rf "$data" ;; esac
  exit "$rc"
else
  as_user "${args[@]}"
fi
