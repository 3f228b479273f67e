# .ci/slurm-cluster.sh: a private single-node Slurm cluster on loopback, for tests (sourced, bash).
#
#   slurm_cluster_start DIR   starts munged (its own key, socket, pid and log files), slurmctld and
#                             slurmd, all configured in DIR (slurm.conf exported as SLURM_CONF),
#                             on free loopback ports; waits until the node is idle. Returns 1,
#                             with the daemons' logs on stderr, when it does not come up.
#   slurm_cluster_stop        stops every daemon it started, by the pid it recorded (TERM, then
#                             KILL after 5 s); safe to call twice, and from an EXIT trap.
#   slurm_cluster_missing     prints the commands that are missing (empty: all there).
#
# Nothing under /etc, /run or /var is read or written: the daemons run as the current user (root
# in CI), Slurm's state, spool and logs are in DIR, and munged's key is a fresh one in DIR.

SLURM_CLUSTER_PIDS=""

slurm_cluster_missing() {
    local c missing=""
    for c in munged mungekey slurmctld slurmd sbatch squeue scontrol sinfo srun scancel; do
        command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || missing="$missing $c"
    done
    echo "${missing# }"
}

# A TCP port nothing listens on, on loopback (the kernel's choice, then released).
_slurm_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

_slurm_pid_of() { # the pid in a pid file, once the daemon has written it
    [ -s "$1" ] && cat "$1"
}

_slurm_wait() { # _slurm_wait SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds
    local n=$(($1 * 10))
    shift
    until "$@" >/dev/null 2>&1; do
        n=$((n - 1))
        [ $n -gt 0 ] || return 1
        sleep 0.1
    done
}

_slurm_dump_logs() {
    local f
    for f in "$SLURM_CLUSTER_DIR"/munged.log "$SLURM_CLUSTER_DIR"/slurmctld.log \
        "$SLURM_CLUSTER_DIR"/slurmd.log; do
        [ -f "$f" ] && { echo "== $f" >&2; tail -n 30 "$f" >&2; }
    done
}

slurm_cluster_start() {
    local dir=$1 sbin=/usr/sbin cpus ctld_port slurmd_port pid
    SLURM_CLUSTER_DIR=$dir
    PATH=$PATH:$sbin
    mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
    chmod 0700 "$dir/munge"
    cpus=$(nproc)

    # munge: a new key of our own, and a socket in DIR (the system's munged, if any, is not used).
    mungekey --create --keyfile="$dir/munge/munge.key" --force >/dev/null 2>&1 ||
        dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 0600 "$dir/munge/munge.key"
    munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munged.log" \
        --seed-file="$dir/munge/munged.seed" || { _slurm_dump_logs; return 1; }
    _slurm_wait 10 _slurm_pid_of "$dir/munge/munged.pid" || { _slurm_dump_logs; return 1; }
    SLURM_CLUSTER_PIDS="$SLURM_CLUSTER_PIDS $(cat "$dir/munge/munged.pid")"

    ctld_port=$(_slurm_free_port)
    slurmd_port=$(_slurm_free_port)
    while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(_slurm_free_port); done
    cat >"$dir/slurm.conf" <<EOF
ClusterName=tranche-ci
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1,sched_min_interval=100000
ReturnToService=2
MpiDefault=none
MaxArraySize=1001
MinJobAge=300
InactiveLimit=0
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF=$dir/slurm.conf

    # -i: ignore any state (there is none); -D would keep it in the foreground: they daemonize
    # and write their pid files, which is what they are stopped by.
    slurmctld -i || { _slurm_dump_logs; return 1; }
    _slurm_wait 10 _slurm_pid_of "$dir/slurmctld.pid" || { _slurm_dump_logs; return 1; }
    SLURM_CLUSTER_PIDS="$SLURM_CLUSTER_PIDS $(cat "$dir/slurmctld.pid")"
    slurmd -N localhost || { _slurm_dump_logs; return 1; }
    _slurm_wait 10 _slurm_pid_of "$dir/slurmd.pid" || { _slurm_dump_logs; return 1; }
    SLURM_CLUSTER_PIDS="$SLURM_CLUSTER_PIDS $(cat "$dir/slurmd.pid")"

    # up when the node is idle
    _slurm_wait 20 sh -c 'sinfo -h -N -o %t | grep -qx idle' || {
        echo "slurm_cluster_start: the node did not become idle in 20 s" >&2
        sinfo -N >&2
        _slurm_dump_logs
        return 1
    }
}

slurm_cluster_stop() {
    local pids pid n group
    # the Slurm daemons together, then munged (recorded first): TERM, then KILL after 5 s
    pids=$(echo $SLURM_CLUSTER_PIDS)
    for group in "${pids#* }" "${pids%% *}"; do
        [ -n "$group" ] || continue
        for pid in $group; do kill -TERM "$pid" 2>/dev/null || true; done
        for pid in $group; do
            n=50
            while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do
                sleep 0.1
                n=$((n - 1))
            done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        done
    done
    SLURM_CLUSTER_PIDS=""
}
