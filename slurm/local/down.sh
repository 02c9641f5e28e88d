#!/usr/bin/env bash
# Stop the local test cluster started by slurm/local/up.sh.
#
#   sudo bash slurm/local/down.sh           # cancel its jobs, stop its daemons (state is kept)
#   sudo bash slurm/local/down.sh --purge   # also delete .slurm-local/ (configs, logs, database)
#
# Stops only the processes whose pid files up.sh's daemons wrote under .slurm-local/ (checked
# against /proc so that a pid reused after a crash is left alone); never kills by name.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_root down.sh
take_lock
PURGE=0
case "${1:-}" in
  "") ;;
  --purge) PURGE=1 ;;
  *) die "unknown option '$1' (usage: down.sh [--purge])" ;;
esac

if alive slurmctld && [ -e "$SLURM_CONF" ]; then
  # Cancel the cluster's jobs through Slurm, so their job steps end with it.
  if [ -n "$(squeue -h -p "$PARTITION" -o %i 2>/dev/null)" ]; then
    scancel -p "$PARTITION" 2>/dev/null || true
    for _ in $(seq 100); do
      [ -z "$(squeue -h -p "$PARTITION" -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
fi
for d in slurmd slurmctld slurmdbd mariadbd munged; do
  stop_daemon "$d"
done
if [ $PURGE = 1 ]; then
  rm -rf "$SLURM_LOCAL_DIR"
  say "removed $SLURM_LOCAL_DIR"
fi
say "down"
