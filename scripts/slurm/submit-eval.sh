#!/usr/bin/env bash
# Runs a genseg evaluation as N shards on N GPUs and merges them, on a Slurm cluster:
#   scripts/slurm/submit-eval.sh N OUT -- g4seg|paintseg ARGS...
# submits eval-array.sbatch as an array of N tasks (task I runs --shard I/N, writing OUT/shard-I.jsonl) and
# merge.sbatch after all of them succeed (writing OUT/summary.json). Extra sbatch flags (partition, account, time):
# SBATCH_FLAGS="--partition=gpu --account=lab". Build once first: dotnet build Research.sln -c Release -p:TorchBackend=cuda
set -euo pipefail

if [[ $# -lt 4 || "$3" != "--" ]]; then
    echo "usage: submit-eval.sh N OUT -- g4seg|paintseg ARGS..." >&2
    exit 2
fi
n="$1"
out="$2"
shift 3
if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
    echo "submit-eval.sh: N '$n': expected a positive number of shards" >&2
    exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$out"
read -r -a flags <<< "${SBATCH_FLAGS:-}"
array=$(sbatch --parsable "${flags[@]}" --array="0-$((n - 1))" --output="$out/eval-%A_%a.out" "$here/eval-array.sbatch" "$out" -- "$@")
array="${array%%;*}"
merge=$(sbatch --parsable "${flags[@]}" --dependency="afterok:$array" --output="$out/merge-%j.out" "$here/merge.sbatch" "$out")
echo "submitted the evaluation as array job $array ($n shards) and the merge as job ${merge%%;*}; the summary will be $out/summary.json"
