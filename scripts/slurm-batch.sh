#!/usr/bin/env bash
# One shard of a nightly anuvad batch per Slurm array task; merge them afterwards.
#
#   jid=$(sbatch --parsable scripts/slurm-batch.sh feed.jsonl /shared/anuvad/2026-11-25)
#   sbatch --dependency=afterany:$jid --wrap "scripts/slurm-batch.sh --merge /shared/anuvad/2026-11-25"
#
# Task K of an --array=0-(N-1) job takes the articles whose id hashes to K mod N, so the
# shards never overlap and together cover the feed; no coordinator is needed. A task
# that is requeued or re-submitted resumes: what its shard already did is skipped. N is
# recorded in OUT_ROOT/.anuvad-shards by the first task, so re-submitting some tasks
# (sbatch --array=3,5 …) resumes shards 3 and 5 of N rather than re-slicing the feed by
# the new array's size; ANUVAD_SHARDS=N says N explicitly (to run some of N shards).
# Extra arguments after OUT_ROOT go to `anuvad batch` (e.g. --task both).
#
# `--merge OUT_ROOT` (run, not submitted: from --wrap or a shell) merges shards 0 to N-1
# into OUT_ROOT/all, or names the shards that have no report yet and how to re-run them:
# a glob like shard-* would merge whatever is there, silently short of a shard whose task
# never ran.
#
#SBATCH --job-name=anuvad-batch
#SBATCH --array=0-7
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=06:00:00
#SBATCH --requeue
#SBATCH --output=anuvad-%A_%a.log
# A requeued task writes the same log: keep the first attempt's lines (why it stopped).
#SBATCH --open-mode=append
set -euo pipefail

anuvad=${ANUVAD_BIN:-anuvad}
die() {
    echo "slurm-batch.sh: $*" >&2
    exit 2
}
if [[ $# -lt 2 || ( ${1:-} == --merge && $# -ne 2 ) ]]; then
    echo "usage: sbatch scripts/slurm-batch.sh INPUT OUT_ROOT [anuvad batch options…]" >&2
    echo "       scripts/slurm-batch.sh --merge OUT_ROOT" >&2
    exit 2
fi

if [[ $1 == --merge ]]; then
    out_root=$2
    record=$out_root/.anuvad-shards
    [[ -s $record ]] || die "$record is missing: is $out_root the OUT_ROOT of an array job of this script?"
    shards=$(<"$record")
    [[ $shards =~ ^[1-9][0-9]*$ ]] || die "$record should hold the number of shards, not ${shards@Q}"
    dirs=()
    missing=()
    for ((k = 0; k < shards; k++)); do
        # A shard's report is written when its run ends (or is interrupted), not before.
        if [[ -f $out_root/shard-$k/report.json ]]; then
            dirs+=("$out_root/shard-$k")
        else
            missing+=("$k")
        fi
    done
    if ((${#missing[@]} > 0)); then
        list=$(IFS=,; echo "${missing[*]}")
        die "shard(s) $list of $shards in $out_root have no report.json: their tasks never ran, or stopped before writing it (see their logs); re-submit them with \`sbatch --array=$list scripts/slurm-batch.sh INPUT $out_root\` and merge again"
    fi
    exec "$anuvad" batch merge "${dirs[@]}" --out "$out_root/all"
fi

input=$1
out_root=$2
shift 2
: "${SLURM_ARRAY_TASK_ID:?run this as a Slurm array job (sbatch --array=0-N)}"
: "${SLURM_ARRAY_TASK_COUNT:?run this as a Slurm array job (sbatch --array=0-N)}"
task=$SLURM_ARRAY_TASK_ID

mkdir -p "$out_root"
record=$out_root/.anuvad-shards
if [[ -s $record ]]; then
    shards=$(<"$record")
    [[ $shards =~ ^[1-9][0-9]*$ ]] || die "$record should hold the number of shards, not ${shards@Q}"
else
    shards=${ANUVAD_SHARDS:-$SLURM_ARRAY_TASK_COUNT}
    [[ $shards =~ ^[1-9][0-9]*$ ]] || die "ANUVAD_SHARDS should be a number of shards, not ${shards@Q}"
    # Without ANUVAD_SHARDS the array is the whole split, tasks 0 to N-1: --array=1-8 or
    # --array=0-14:2 (8 tasks, not numbered 0-7) would leave shards out.
    if [[ -z ${ANUVAD_SHARDS:-} && ( ${SLURM_ARRAY_TASK_MIN:-0} != 0 ||
        ${SLURM_ARRAY_TASK_MAX:-$((shards - 1))} != $((shards - 1)) ) ]]; then
        die "this array has $shards tasks numbered ${SLURM_ARRAY_TASK_MIN:-?}-${SLURM_ARRAY_TASK_MAX:-?}; submit one task per shard as --array=0-$((shards - 1)), or set ANUVAD_SHARDS=N to run some of N shards"
    fi
    # The first task to get here records N (a hard link is created atomically, also on
    # NFS); the others read it back and must agree.
    # (Not mktemp: its 0600 would hide the record from other users; this follows umask.)
    tmp=$out_root/.anuvad-shards.$(hostname).$$
    echo "$shards" >"$tmp"
    ln "$tmp" "$record" 2>/dev/null || true
    rm -f "$tmp"
    recorded=$(<"$record")
    [[ $recorded == "$shards" ]] || die "$out_root is split $recorded ways ($record), not $shards"
fi
if [[ -n ${ANUVAD_SHARDS:-} && $ANUVAD_SHARDS != "$shards" ]]; then
    die "ANUVAD_SHARDS=$ANUVAD_SHARDS, but $out_root is split $shards ways ($record): use another OUT_ROOT for another split"
fi
if ((task >= shards)); then
    die "task $task is not a shard of $out_root, which is split $shards ways (0-$((shards - 1)))"
fi
if ((shards != SLURM_ARRAY_TASK_COUNT)); then
    echo "slurm-batch.sh: $out_root is split $shards ways ($record); running shard $task/$shards" >&2
fi

# --progress plain: one line per article, readable in the job log.
exec "$anuvad" batch "$input" --out "$out_root/shard-$SLURM_ARRAY_TASK_ID" \
    --shard "$task/$shards" --threads "${SLURM_CPUS_PER_TASK:-2}" --progress plain "$@"
