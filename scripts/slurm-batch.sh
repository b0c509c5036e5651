#!/usr/bin/env bash
# One shard of a nightly anuvad batch per Slurm array task; merge them afterwards.
#
#   jid=$(sbatch --parsable scripts/slurm-batch.sh feed.jsonl /shared/anuvad/2026-11-25)
#   sbatch --dependency=afterany:$jid --wrap \
#     "anuvad batch merge /shared/anuvad/2026-11-25/shard-* --out /shared/anuvad/2026-11-25/all"
#
# Task K of an --array=0-(N-1) job takes the articles whose id hashes to K mod N, so the
# shards never overlap and together cover the feed; no coordinator is needed. A task
# that is requeued or re-submitted resumes: what its shard already did is skipped.
# Extra arguments after OUT_ROOT go to `anuvad batch` (e.g. --task both).
#
#SBATCH --job-name=anuvad-batch
#SBATCH --array=0-7
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=06:00:00
#SBATCH --requeue
#SBATCH --output=anuvad-%A_%a.log
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

# --progress plain: one line per article, readable in the job log.
exec "$anuvad" --threads "${SLURM_CPUS_PER_TASK:-2}" --progress plain \
    batch "$input" --out "$out_root/shard-$SLURM_ARRAY_TASK_ID" \
    --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" "$@"
