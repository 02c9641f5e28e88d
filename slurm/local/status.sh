#!/usr/bin/env bash
# Report the local test cluster's daemons and node state; exit 0 only when all are up and the node
# accepts jobs (what up.sh waits for). Read-only: starts and stops nothing.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
ok=0
for entry in $DAEMONS; do
  name=${entry%%|*}
  file=$(pidfile_of "$name")
  if pid=$(recorded_pid "$name"); then
    echo "$name: running (pid $pid)"
  elif [ -e "$file" ] && [ ! -r "$file" ]; then
    echo "$name: pid file not readable as $(id -un) (the node state below tells whether the cluster works)"
  else
    echo "$name: not running"
    ok=1
  fi
done
if [ -e "$SLURM_CONF" ] && state=$(scontrol show node "$NODE" -o 2>/dev/null | grep -o 'State=[^ ]*'); then
  echo "node $NODE: ${state#State=}"
  case "$state" in *DRAIN* | *DOWN* | *NOT_RESPONDING*) ok=1 ;; esac
else
  echo "node $NODE: slurmctld does not answer"
  ok=1
fi
echo "SLURM_CONF=$SLURM_CONF"
exit $ok
