#!/usr/bin/env bash
# One shard of a nightly anuvad batch per Slurm array task; merge them afterwards.
#
#   jid=$(sbatch --parsable scripts/slurm-batch.sh feed.jsonl /shared/anuvad/2026-11-25)
#   sbatch --dependency=afterany:$jid --wrap \
#     "anuvad batch merge /shared/anuvad/2026-11-25/shard-* --out /shared/anuvad/2026-11-25/all"
#
# Task K of an --array=0-(N-1) job takes the articles whose id hashes to K mod N, so the
# shards never overlap and together cover the feed; no coordinator is needed. A task
# that is requeued or re-submitted resumes: what its shard already did is skipped. N is
# recorded in OUT_ROOT/.anuvad-shards by the first task, so re-submitting some tasks
# (sbatch --array=3,5 …) resumes shards 3 and 5 of N rather than re-slicing the feed by
# the new array's size; ANUVAD_SHARDS=N says N explicitly (to run some of N shards).
# Extra arguments after OUT_ROOT go to `anuvad batch` (e.g. --task both).
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

if [[ $# -lt 2 ]]; then
    echo "usage: sbatch scripts/slurm-batch.sh INPUT OUT_ROOT [anuvad batch options…]" >&2
    exit 2
fi
input=$1
out_root=$2
shift 2
: "${SLURM_ARRAY_TASK_ID:?run this as a Slurm array job (sbatch --array=0-N)}"
: "${SLURM_ARRAY_TASK_COUNT:?run this as a Slurm array job (sbatch --array=0-N)}"
anuvad=${ANUVAD_BIN:-anuvad}
task=$SLURM_ARRAY_TASK_ID
die() {
    echo "slurm-batch.sh: $*" >&2
    exit 2
}

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
    tmp=$(mktemp "$out_root/.anuvad-shards.XXXXXX")
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
exec "$anuvad" --threads "${SLURM_CPUS_PER_TASK:-2}" --progress plain \
    batch "$input" --out "$out_root/shard-$SLURM_ARRAY_TASK_ID" \
    --shard "$task/$shards" "$@"
