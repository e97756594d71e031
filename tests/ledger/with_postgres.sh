#!/usr/bin/env bash
# Runs COMMAND [ARG...] against a fresh PostgreSQL server, with
# FLOPSMETER_TEST_PG_URL naming it:
#
#   postgresql://flopsmeter_test:PASSWORD@127.0.0.1:PORT/postgres
#
#   bash tests/ledger/with_postgres.sh build/tests/flopsmeter_tests --gtest_filter='*/postgresql'
#
# The server is a cluster of its own (initdb) in a temporary directory,
# listening on 127.0.0.1 only, at a free port, with password (SCRAM)
# authentication over TCP so that a wrong password is refused. As root it
# runs as the unprivileged user "postgres" (the server refuses to run as
# root), otherwise as the current user. It is stopped and its directory
# removed when the command ends, fails or is interrupted; a watchdog does
# the same if this script is killed outright (SIGKILL, when no trap runs).
# The command's exit status is this script's.
set -euo pipefail

if (($# == 0)); then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
die() { echo "with_postgres: $*" >&2; exit 1; }

# The server's binaries: pg_config's, else the newest installed version's.
bindir=$(pg_config --bindir 2>/dev/null || true)
if [[ ! -x $bindir/initdb ]]; then
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
[[ -x $bindir/initdb && -x $bindir/pg_ctl ]] || die "no PostgreSQL server (initdb, pg_ctl); install the postgresql package"

work=$(mktemp -d "${TMPDIR:-/tmp}/flopsmeter-pg-XXXXXX")
data=$work/data
owner=
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || die "running as root needs the user 'postgres' (the postgresql package makes it)"
  owner=postgres
  chown "$owner" "$work"
fi
export bindir data work owner

# Runs a command as the server's owner.
as_owner() {
  if [[ -n $owner ]]; then runuser -u "$owner" -- "$@"; else "$@"; fi
}
stop_server() {
  if [[ -f $data/postmaster.pid ]]; then
    as_owner "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
export -f as_owner stop_server
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Should this script be killed outright (SIGKILL: no trap runs), a watchdog
# outside its process group stops the server and removes the directory.
setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; stop_server' watchdog "$$" \
  </dev/null >/dev/null 2>&1 &

user=flopsmeter_test
password=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" >"$work/password"
[[ -z $owner ]] || chown "$owner" "$work/password"
as_owner "$bindir/initdb" -D "$data" -U "$user" --pwfile="$work/password" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale --no-sync --no-instructions \
  >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; die "initdb failed"; }

# A free port: try random ones until the server binds one.
port=
for _ in 1 2 3 4 5 6 7 8; do
  candidate=$((20000 + RANDOM % 40000))
  if as_owner "$bindir/pg_ctl" -D "$data" -l "$work/server.log" -w -t 60 \
      -o "-k $work -p $candidate -c listen_addresses=127.0.0.1" start >/dev/null 2>&1; then
    port=$candidate
    break
  fi
done
[[ -n $port ]] || { cat "$work/server.log" >&2 2>/dev/null; die "the server did not start"; }

export FLOPSMETER_TEST_PG_URL="postgresql://$user:$password@127.0.0.1:$port/postgres"
# In the background, so that a signal to this script is handled at once:
# the command is stopped first, then the server.
"$@" &
command_pid=$!
trap 'kill -TERM "$command_pid" 2>/dev/null; wait "$command_pid"; exit 130' INT
trap 'kill -TERM "$command_pid" 2>/dev/null; wait "$command_pid"; exit 143' TERM HUP
status=0
wait "$command_pid" || status=$?
exit "$status"
