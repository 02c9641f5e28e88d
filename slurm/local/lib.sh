# Shared by up.sh, down.sh and status.sh (sourced, not run). The local test cluster keeps every file
# it writes (configs, munge key and socket, pid files, logs, spool, state, MariaDB datadir) under
# $SLURM_LOCAL_DIR = <repo>/.slurm-local, and stops only the daemons whose pid files it wrote there.

SLURM_LOCAL_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SLURM_LOCAL_DIR=$SLURM_LOCAL_REPO/.slurm-local
ETC=$SLURM_LOCAL_DIR/etc
RUN=$SLURM_LOCAL_DIR/run
LOGDIR=$SLURM_LOCAL_DIR/log
MUNGE_DIR=$SLURM_LOCAL_DIR/munge
MUNGE_SOCKET=$MUNGE_DIR/munge.socket
DB_DIR=$SLURM_LOCAL_DIR/db
DB_RUN=$SLURM_LOCAL_DIR/dbrun
DB_SOCKET=$DB_RUN/mariadbd.sock
DB_PORT=3307
CLUSTER=sslvideo
PARTITION=debug
PARTITION_MAX_TIME_MIN=120
NODE=localhost
# Slurm's clients (sbatch, squeue, sacct, scontrol) and daemons all read this file.
export SLURM_CONF=$ETC/slurm.conf

# name|pid file: the daemons, in start order.
DAEMONS="munged|$MUNGE_DIR/munged.pid mariadbd|$DB_RUN/mariadbd.pid slurmdbd|$RUN/slurmdbd.pid
slurmctld|$RUN/slurmctld.pid slurmd|$RUN/slurmd.pid"

say() { echo "slurm-local: $*"; }

die() {
  echo "slurm-local: ERROR: $*" >&2
  exit 1
}

need_root() {
  if [ "$(id -u)" != 0 ]; then
    die "the local test cluster must be started as root (it installs packages with apt-get and slurmd runs as root); run: sudo bash slurm/local/$1"
  fi
}

pidfile_of() { # NAME -> its pid file
  local entry
  for entry in $DAEMONS; do
    if [ "${entry%%|*}" = "$1" ]; then
      echo "${entry#*|}"
      return 0
    fi
  done
  return 1
}

# recorded_pid NAME: the pid in NAME's pid file when that process is alive, is not a zombie and is
# really NAME (a pid file left by a killed run may name a reused pid); prints nothing otherwise.
recorded_pid() {
  local file pid
  file=$(pidfile_of "$1") || return 1
  [ -s "$file" ] || return 1
  pid=$({ tr -dc "0-9" <"$file"; } 2>/dev/null)
  [ -n "$pid" ] && [ -r "/proc/$pid/status" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 1
  grep -q '^State:[[:space:]]*[ZX]' "/proc/$pid/status" 2>/dev/null && return 1
  echo "$pid"
}

alive() { recorded_pid "$1" >/dev/null; }

# stop_daemon NAME: SIGTERM the recorded pid, wait up to 15 s, then SIGKILL; removes the pid file.
stop_daemon() {
  local name=$1 pid i
  if pid=$(recorded_pid "$name"); then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 150); do
      alive "$name" || break
      sleep 0.1
    done
    if alive "$name"; then
      say "$name (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    say "stopped $name (pid $pid)"
  fi
  rm -f "$(pidfile_of "$name")"
}

# One up.sh / down.sh at a time (test sessions may start the cluster concurrently). The daemons are
# started with fd 9 closed, so the lock ends with the script.
take_lock() {
  mkdir -p "$SLURM_LOCAL_DIR"
  exec 9>"$SLURM_LOCAL_DIR/.lock"
  flock -w 900 9 || die "another slurm/local script holds $SLURM_LOCAL_DIR/.lock"
}

log_tail() { # FILE: its last lines, indented, for error messages
  if [ -s "$1" ]; then
    echo "--- last lines of $1:"
    tail -n 8 "$1" | sed 's/^/    /'
  else
    echo "--- $1 is empty or missing"
  fi
}
