#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for trying and testing
# `retro-gamer train RUN -m ... hydra/launcher=submitit_slurm` without a real cluster.
#
#   scripts/local_slurm.sh start    install Slurm and munge if missing (Debian/Ubuntu, apt-get),
#                                   write the configuration, start munged, slurmctld and slurmd,
#                                   and wait until `sinfo` shows the node idle
#   scripts/local_slurm.sh stop     stop the three daemons this script started
#   scripts/local_slurm.sh status   say whether the cluster is up
#
# Needs root (the daemons run as root, and Slurm's own packages go to the system).
# `start` is idempotent: on a running cluster it only checks that the node is idle.
# The node has this machine's CPUs and memory and one partition, `local`. There is no
# accounting database (slurmdbd), so `sacct` does not work: `scontrol show job ID`
# and submitit's logs record what happened to a job.
#
# The configuration goes to /etc/slurm/slurm.conf, where every Slurm command finds it.
# An existing slurm.conf that this script did not write is never touched: `start` then
# refuses. The daemons' state, logs and PID files live in $RG_SLURM_DIR
# (default /var/tmp/retro-gamer-slurm).
set -euo pipefail

STATE_DIR="${RG_SLURM_DIR:-/var/tmp/retro-gamer-slurm}"
CONF=/etc/slurm/slurm.conf
MARK="# Written by retro-gamer's scripts/local_slurm.sh"
MUNGE_KEY=/etc/munge/munge.key
MUNGE_PID=/run/munge/munged.pid

say() { echo "local_slurm: $*"; }
fail() { echo "local_slurm: $*" >&2; exit 1; }

alive() {  # alive PIDFILE: the process named in PIDFILE is running
    [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

node_state() {  # the node's state as sinfo reports it ("idle", "mixed", ...), or nothing
    timeout 10 sinfo --noheader --nodes=localhost --format=%T 2>/dev/null | head -n 1 || true
}

install_if_missing() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
            && command -v munged >/dev/null && command -v sbatch >/dev/null; then
        return
    fi
    command -v apt-get >/dev/null \
        || fail "Slurm is not installed and there is no apt-get to install it with. Install the packages slurm-wlm and munge, then run this again."
    say "installing slurm-wlm and munge (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

start_munge() {
    if [[ ! -s "$MUNGE_KEY" ]]; then
        say "creating $MUNGE_KEY"
        install -d -o munge -g munge -m 700 /etc/munge
        dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
        chown munge:munge "$MUNGE_KEY"
        chmod 400 "$MUNGE_KEY"
    fi
    if alive "$MUNGE_PID"; then
        return
    fi
    install -d -o munge -g munge -m 755 /run/munge
    install -d -o munge -g munge -m 700 /var/lib/munge /var/log/munge
    runuser -u munge -- munged
}

write_conf() {
    if [[ -f "$CONF" ]] && ! head -n 1 "$CONF" | grep -qF "$MARK"; then
        fail "$CONF exists and was not written by this script; it is left as it is. This script only sets up a cluster on a machine that has none."
    fi
    # CPUs, sockets, cores and memory exactly as slurmd detects them on this machine.
    local hardware
    hardware="$(slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]* //')"
    mkdir -p "$STATE_DIR/state" "$STATE_DIR/spool" /etc/slurm
    cat >"$CONF.new" <<EOF
$MARK; rewritten on every start.
ClusterName=retrogamer
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
StateSaveLocation=$STATE_DIR/state
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$STATE_DIR/slurmctld.log
SlurmdLogFile=$STATE_DIR/slurmd.log
# Short intervals: a test cluster should start jobs at once and stop them quickly.
# cred_expire is also how long a requeued job waits before it may start again (120 s).
AuthInfo=cred_expire=20
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
KillWait=10
MinJobAge=3600
InactiveLimit=0
# Jobs that ask for no memory get 1 GB per CPU, so that several fit on the node.
DefMemPerCPU=1024
NodeName=localhost NodeAddr=127.0.0.1 $hardware State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.new" "$CONF"
}

wait_until_idle() {
    local state=""
    for _ in $(seq 60); do
        state="$(node_state)"
        case "$state" in
            idle | mixed | allocated) return 0 ;;
        esac
        sleep 1
    done
    fail "the node did not become idle within a minute (sinfo says '${state:-nothing}'). Logs: $STATE_DIR/slurmctld.log, $STATE_DIR/slurmd.log"
}

start() {
    [[ "$(id -u)" == 0 ]] || fail "needs root (it installs packages and runs the Slurm daemons); run it with sudo."
    install_if_missing
    start_munge
    if alive "$STATE_DIR/slurmctld.pid" && alive "$STATE_DIR/slurmd.pid"; then
        wait_until_idle
        say "already running: $(node_state) node 'localhost', partition 'local'"
        return
    fi
    write_conf
    alive "$STATE_DIR/slurmctld.pid" || slurmctld -c  # -c: no jobs left over from an earlier start
    alive "$STATE_DIR/slurmd.pid" || slurmd -N localhost
    wait_until_idle
    say "running: node 'localhost' ($(nproc) CPUs), partition 'local'; stop with $0 stop"
}

stop() {
    [[ "$(id -u)" == 0 ]] || fail "needs root; run it with sudo."
    local pidfile pid
    for pidfile in "$STATE_DIR/slurmd.pid" "$STATE_DIR/slurmctld.pid" "$MUNGE_PID"; do
        alive "$pidfile" || continue
        pid="$(cat "$pidfile")"
        kill "$pid"
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
    done
    say "stopped"
}

status() {
    local state
    state="$(node_state)"
    if [[ -n "$state" ]]; then
        say "running: node 'localhost' is $state"
    else
        say "not running"
        return 1
    fi
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) fail "unknown command '$1'; use start, stop or status." ;;
esac
