#!/usr/bin/env bash
# PaintSeg's ablations at full scale on ToyWorld val (notebook 04's cache): one `genseg eval paintseg` per setting,
# 100 objects, T = 5, N = 5, 20 DDIM iterations unless the setting is the one swept. Each setting streams its objects
# to a --results file and resumes it, so the script can be killed and rerun at any time and loses nothing.
# Usage: scripts/ablations/paintseg-val.sh [OUT_DIR]   (default notebooks/cache/paintseg-val)
# Parallel: start it twice with THREADS=1 (each setting is locked by the instance running it); on 2 cores two
# single-threaded runs finish about twice the objects per hour of one run with both threads (the 64 px tensors are too
# small to keep two threads busy).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$here/notebooks/cache/paintseg-val}"
mkdir -p "$out"
# GENSEG_CLI: a copy of the build to run (so rebuilding the repository during a sweep cannot touch the running binaries)
cli="${GENSEG_CLI:-$here/src/GenSeg.Cli/bin/Release/net10.0/GenSeg.Cli.dll}"
[ -f "$cli" ] || dotnet build "$here/src/GenSeg.Cli" -c Release -v q >/dev/null
# OBJECT_BATCH: objects painted in one batch (results identical to one at a time; faster, docs/performance.md)
base=(eval paintseg --split val --count 100 --threads "${THREADS:-0}" --object-batch "${OBJECT_BATCH:-4}")
run() { # name, flags...
  local name=$1; shift
  if [ -f "$out/$name.json" ]; then return; fi
  local lock; exec {lock}>"$out/$name.lock"
  if ! flock -n "$lock"; then exec {lock}>&-; return; fi      # another instance runs this setting
  local args=" $* "
  [[ $args == *" --iterations "* ]] || set -- "$@" --iterations 20     # the defaults every setting not sweeping them pins
  [[ $args == *" --scheduler "* ]] || set -- "$@" --scheduler ddim
  echo "$(date +%T) $name: $*"
  dotnet "$cli" "${base[@]}" "$@" --results "$out/$name.jsonl" --resume --json "$out/$name.json" > "$out/$name.log" 2>&1 \
    || echo "$(date +%T) $name FAILED (see $out/$name.log)"
  exec {lock}>&-
}
# Issue #27: IoU against sampler iterations per scheduler (box prompts, toyworld preset; DDIM 20 is Table 5's box-noise0-toyworld)
run box-noise0-toyworld --prompt box --prompt-noise 0 --preset toyworld
sampler() { run "box-toyworld-$1-it$2" --prompt box --preset toyworld --scheduler "$1" --iterations "$2"; }
for sched in dpm++2m euler ddim; do sampler "$sched" 5; done
sampler ddim 50                                                # the reference: the paper's 50-step DDIM
for it in 10 20 50; do
  for sched in dpm++2m euler ddim; do
    [ "$sched$it" = ddim20 ] || [ "$sched$it" = ddim50 ] || sampler "$sched" "$it"
  done
done
# The paper's ablations use coarse-mask prompts (ECSSD, TokenCut masks); under mask prompts both presets are the same.
run mask-t6          --prompt mask --steps 6                  # base (T = 5 is its 5th step) and Table 6b (T 1-6)
run mask-modules-i   --prompt mask --modules i                # Table 4
run mask-modules-o   --prompt mask --modules o
run mask-modules-io  --prompt mask --modules io
run mask-k3          --prompt mask --k 3                      # Table 6a
run mask-k4          --prompt mask --k 4
run mask-boxrate0.9  --prompt mask --box-rate 0.9             # Table 6d
run mask-boxrate1.0  --prompt mask --box-rate 1.0
run mask-boxrate1.2  --prompt mask --box-rate 1.2
run mask-n1          --prompt mask --paints 1                 # Table A
run mask-n2          --prompt mask --paints 2
run mask-n3          --prompt mask --paints 3
run mask-n4          --prompt mask --paints 4
run mask-n6          --prompt mask --paints 6
run mask-it10        --prompt mask --iterations 10            # Table 6c
run mask-it30        --prompt mask --iterations 30
run mask-it50        --prompt mask --iterations 50
run mask-vae         --prompt mask --features vae             # Table B
run mask-dift        --prompt mask --features dift
run mask-localcolour5 --prompt mask --features local-colour:5
# Table 5: prompt x noise, both presets (they differ for box, scribble and point prompts)
for preset in toyworld paper; do
  for prompt in box scribble point; do
    for noise in 0 0.15 0.3; do
      run "$prompt-noise$noise-$preset" --prompt "$prompt" --prompt-noise "$noise" --preset "$preset"
    done
  done
done
