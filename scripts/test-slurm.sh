#!/usr/bin/env bash
# scripts/slurm-batch.sh on a real Slurm cluster: a one-node cluster on this machine
# (munged, slurmctld and slurmd from Debian's slurm-wlm, every file in a temporary
# directory, removed on exit with the daemons stopped), the array script submitted with
# sbatch as the README says over 6 Hindi articles on the tiny random model, the shards
# merged by a dependent job, and the result compared with a single-machine `anuvad batch`
# of the same feed: the same records per id, byte for byte but for timings. Then a
# re-submitted task must resume its own shard, a requeued one must keep its log, an
# array that is not 0-(N-1) must fail, and a merge with a shard missing must say so.
#
# Installs munge and Slurm when missing (apt-get, as root). Where they cannot be
# installed or the daemons cannot start here it says why and exits 0 with SKIP on its
# last line, unless ANUVAD_REQUIRE_SLURM=1 (then it fails). ANUVAD_SLURM_TIMEOUT bounds
# the wait for each round of jobs (seconds, default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
timeout_s=${ANUVAD_SLURM_TIMEOUT:-300}

skip() {
  echo "test-slurm: $1" >&2
  if [ "${ANUVAD_REQUIRE_SLURM:-0}" = 1 ]; then exit 1; fi
  echo "test-slurm: SKIP (the Slurm test did not run)"
  exit 0
}

tools=(munged mungekey munge unmunge slurmctld slurmd sbatch squeue scontrol scancel jq)
missing() {
  for t in "${tools[@]}"; do command -v "$t" >/dev/null || return 0; done
  return 1
}
if missing; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test-slurm: installing munge and Slurm (Debian's slurmctld, slurmd, slurm-client)"
    pkgs=(munge slurmctld slurmd slurm-client jq)
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2 ||
      { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2; } ||
      skip "apt-get could not install ${pkgs[*]}"
  else
    skip "needs munge, slurmctld, slurmd, slurm-client and jq (Debian packages; installed automatically as root with apt-get)"
  fi
fi

# The binary and the tiny model's writer; already built by `cargo test --all-targets`.
cargo build --quiet --profile ci --bin anuvad --example write_tiny_model
anuvad=$repo/target/ci/anuvad

work=$(mktemp -d /tmp/anuvad-slurm.XXXXXX)
pids=()  # the daemons we start, stopped on exit
jobs_submitted=()
cleanup() {
  set +e
  if [ ${#jobs_submitted[@]} -gt 0 ] && [ -n "${SLURM_CONF:-}" ]; then
    scancel "${jobs_submitted[@]}" 2>/dev/null
    # Let slurmd finish off the job steps before it is stopped itself.
    for _ in $(seq 20); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 1
    done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null && wait "${pids[i]}" 2>/dev/null
  done
  if [ "${ANUVAD_SLURM_KEEP:-0}" = 1 ]; then
    echo "test-slurm: kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

show_logs() {
  for f in "$work"/log/* "$work"/run/*.log; do
    [ -f "$f" ] || continue
    echo "----- $f (last 40 lines)" >&2
    tail -n 40 "$f" >&2
  done
}
fail() {
  echo "test-slurm: FAIL: $1" >&2
  show_logs
  exit 1
}

# A free TCP port on this machine (nothing answers on it).
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  return 1
}

mkdir -p "$work"/{munge,state,spool,log,run}
chmod 700 "$work/munge"

# munge: a fresh key and our own socket, so nothing of this machine's munge is used.
mungekey --create --keyfile="$work/munge/munge.key" ||
  skip "mungekey could not create a key"
munged --foreground --force --key-file="$work/munge/munge.key" \
  --socket="$work/munge/socket" --pid-file="$work/munge/munged.pid" \
  --seed-file="$work/munge/seed" --log-file="$work/log/munged.log" >>"$work/log/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$work/munge/socket" ] && break; sleep 0.1; done
munge -n -S "$work/munge/socket" | unmunge -S "$work/munge/socket" >/dev/null 2>&1 ||
  { show_logs; skip "munged does not start here (see its log above)"; }

# slurm.conf: this host as controller and the only node, with the CPUs and memory slurmd
# sees; loopback addresses so no name lookup is needed; no cgroups (often unavailable in
# containers): linuxproc tracking and no task plugin.
node_line=$(slurmd -C | head -n 1)
node=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$node_line")
[ -n "$node" ] || skip "slurmd -C did not describe this node: $node_line"
ctld_port=$(free_port) || skip "no free TCP port found"
slurmd_port=$ctld_port
while [ "$slurmd_port" = "$ctld_port" ]; do
  slurmd_port=$(free_port) || skip "no free TCP port found"
done
export SLURM_CONF=$work/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=anuvad-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=3600
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
$node_line NodeAddr=127.0.0.1
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -f "$SLURM_CONF" >>"$work/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$node" >>"$work/log/slurmd.out" 2>&1 &
pids+=($!)
up=
for _ in $(seq 60); do
  if [ "$(sinfo -h -n "$node" -o %T 2>/dev/null)" = idle ]; then up=1; break; fi
  sleep 0.5
done
[ -n "$up" ] || { show_logs; skip "slurmctld and slurmd did not bring node $node up within 30 s (logs above)"; }
echo "test-slurm: one-node cluster up (node $node, slurmctld on port $ctld_port)"

# Six short articles (two paragraphs each of a test article) as a JSONL feed, and the
# tiny model with its card in an ANUVAD_HOME; jobs inherit this environment (sbatch's
# default --export=ALL).
cd "$work"
jq -Rs -c 'split("\n\n") | map(select(test("\\S"))) as $p
  | range(0; 6) as $i | {id: "news-\($i + 1)", text: ($p[2 * $i : 2 * $i + 2] | join("\n\n"))}' \
  "$repo/tests/fixtures/articles/long.hi.txt" >feed.jsonl
"$repo/target/ci/examples/write_tiny_model" "$work/home" >/dev/null
export ANUVAD_HOME=$work/home ANUVAD_MODEL=tiny HF_HUB_OFFLINE=1 ANUVAD_BIN=$anuvad

# Wait for jobs to leave the queue, at most $timeout_s seconds.
wait_jobs() {
  local waited=0
  while [ -n "$(squeue -h -j "$(IFS=,; echo "$*")" -o %i 2>/dev/null)" ]; do
    if [ "$waited" -ge "$timeout_s" ]; then
      squeue >&2
      fail "jobs $* still queued or running after ${timeout_s} s (ANUVAD_SLURM_TIMEOUT)"
    fi
    sleep 1
    waited=$((waited + 1))
  done
}
# "TASK STATE EXIT" per array task (or "- STATE EXIT" for a plain job), sorted.
job_states() {
  scontrol -o show job "$1" | sed -n 's/.*ArrayTaskId=\([^ ]*\).*JobState=\([^ ]*\).*ExitCode=\([^ ]*\).*/\1 \2 \3/p; t; s/.*JobState=\([^ ]*\).*ExitCode=\([^ ]*\).*/- \1 \2/p' | sort
}
# articles.jsonl and every per-article file of an output directory, one line per file,
# keyed by id and file name, without the timing fields that differ between runs.
normalized() {
  jq -S -c 'del(.timings)' "$1/articles.jsonl" | sort
  for f in "$1"/articles/*.json; do
    printf '%s ' "${f##*/}"
    jq -S -c 'del(.timings)' "$f"
  done
}
submit() {
  local id
  id=$(sbatch --parsable "$@") || fail "sbatch $* was refused"
  jobs_submitted+=("${id%%;*}")
  echo "${id%%;*}"
}

# The README's commands: the array (3 shards; 1 CPU each so two run at once on a small
# machine, and little memory), then a merge that waits for it.
root=$work/nightly
echo "test-slurm: sbatch --array=0-2 scripts/slurm-batch.sh feed.jsonl $root"
jid=$(submit --array=0-2 --cpus-per-task=1 --mem=1G "$repo/scripts/slurm-batch.sh" feed.jsonl "$root")
mid=$(submit --dependency="afterany:$jid" --output="$work/run/merge.log" \
  --wrap "$repo/scripts/slurm-batch.sh --merge $root")
# Meanwhile, the same feed on this machine in one run (all cores).
"$anuvad" batch feed.jsonl --out "$work/single" --progress none 2>"$work/run/single.log" ||
  fail "the single-machine run failed"
wait_jobs "$jid" "$mid"
cp anuvad-"$jid"_*.log "$work/run/" 2>/dev/null || true

states=$(job_states "$jid")
expected=$(printf '%s COMPLETED 0:0\n' 0 1 2)
[ "$states" = "$expected" ] || fail "array tasks ended as
$states
instead of
$expected"
[ "$(job_states "$mid")" = "- COMPLETED 0:0" ] || fail "the merge job ended as $(job_states "$mid")"
for k in 0 1 2; do
  shard=$(jq -c .shards "$root/shard-$k/report.json")
  [ "$shard" = "[\"$k/3\"]" ] || fail "shard-$k/report.json says shards $shard, not [\"$k/3\"]"
done
[ "$(jq .articles.done "$root/all/report.json")" = 6 ] || fail "the merged report does not count 6 articles done"
diff <(normalized "$work/single") <(normalized "$root/all") >&2 ||
  fail "the merged shards differ from the single-machine run (diff above)"
echo "test-slurm: 3 array tasks merged equal a single-machine run, byte for byte but timings"

# Re-submitting one task (as after it failed) resumes its shard of the original split:
# its own SLURM_ARRAY_TASK_COUNT is 1, which must not re-slice the feed.
rid=$(submit --array=1 --cpus-per-task=1 --mem=1G "$repo/scripts/slurm-batch.sh" feed.jsonl "$root")
wait_jobs "$rid"
cp anuvad-"$rid"_1.log "$work/run/" 2>/dev/null || true
[ "$(job_states "$rid")" = "1 COMPLETED 0:0" ] || fail "the re-submitted task ended as $(job_states "$rid")"
shard=$(jq -c .shards "$root/shard-1/report.json")
[ "$shard" = '["1/3"]' ] || fail "the re-submitted task 1 ran shard $shard, not [\"1/3\"]"
grep -q "batch: 0 articles to process, 2 already done" "anuvad-${rid}_1.log" ||
  fail "the re-submitted task 1 did work again instead of resuming (anuvad-${rid}_1.log)"
echo "test-slurm: a re-submitted task resumed its shard (1/3) with nothing to redo"

# A requeued task (#SBATCH --requeue: node failure, preemption, scontrol requeue) runs
# again into the same log, which must keep what the first attempt wrote.
scontrol requeue "${rid}_1" || fail "scontrol requeue ${rid}_1 was refused"
# Slurm holds a requeued job back for a while; start it now.
scontrol update jobid="${rid}_1" StartTime=now || fail "scontrol could not start ${rid}_1 now"
wait_jobs "$rid"
cp anuvad-"$rid"_1.log "$work/run/" 2>/dev/null || true
[ "$(job_states "$rid")" = "1 COMPLETED 0:0" ] || fail "the requeued task ended as $(job_states "$rid")"
attempts=$(grep -c "articles to process" "anuvad-${rid}_1.log" || true)
[ "$attempts" = 2 ] || fail "the requeued task's log holds $attempts attempts, not 2 (anuvad-${rid}_1.log)"
echo "test-slurm: a requeued task ran again and its log kept both attempts"

# An array that does not number its tasks 0-(N-1) would leave a shard out: every task
# must refuse it with a message, before doing any work.
bid=$(submit --array=1-3 --cpus-per-task=1 --mem=1G "$repo/scripts/slurm-batch.sh" feed.jsonl "$work/bad")
wait_jobs "$bid"
cp anuvad-"$bid"_*.log "$work/run/" 2>/dev/null || true
states=$(job_states "$bid")
expected=$(printf '%s FAILED 2:0\n' 1 2 3)
[ "$states" = "$expected" ] || fail "tasks of --array=1-3 ended as
$states
instead of
$expected"
grep -q -- "--array=0-2" "anuvad-${bid}_1.log" ||
  fail "task 1 of --array=1-3 did not say to use --array=0-2 (anuvad-${bid}_1.log)"
[ ! -e "$work/bad/shard-1" ] || fail "a task of --array=1-3 wrote a shard"
echo "test-slurm: an array numbered 1-3 was refused by every task"

# A shard whose task never ran: the merge must name it and the command that runs it,
# not merge the others as if they were all; once it has run, the merge is whole.
part=$work/partial
pid_=$(ANUVAD_SHARDS=3 submit --array=0,2 --cpus-per-task=1 --mem=1G "$repo/scripts/slurm-batch.sh" feed.jsonl "$part")
pm=$(submit --dependency="afterany:$pid_" --output="$work/run/partial-merge.log" \
  --wrap "$repo/scripts/slurm-batch.sh --merge $part")
wait_jobs "$pid_" "$pm"
[ "$(job_states "$pm")" = "- FAILED 2:0" ] || fail "the merge with shard 1 of 3 missing ended as $(job_states "$pm")"
grep -q -- "--array=1 scripts/slurm-batch.sh" "$work/run/partial-merge.log" ||
  fail "the merge did not say how to run the missing shard 1 (partial-merge.log)"
[ ! -e "$part/all" ] || fail "the merge wrote $part/all with a shard missing"
p1=$(submit --array=1 --cpus-per-task=1 --mem=1G "$repo/scripts/slurm-batch.sh" feed.jsonl "$part")
pm=$(submit --dependency="afterany:$p1" --output="$work/run/partial-merge2.log" \
  --wrap "$repo/scripts/slurm-batch.sh --merge $part")
wait_jobs "$p1" "$pm"
[ "$(job_states "$pm")" = "- COMPLETED 0:0" ] || fail "the merge after shard 1 ran ended as $(job_states "$pm")"
diff <(normalized "$work/single") <(normalized "$part/all") >&2 ||
  fail "shards run in two submissions merge to something else than the single-machine run (diff above)"
echo "test-slurm: a missing shard stopped the merge with the command to run it; run, the merge was whole"
echo "test-slurm: PASS"
