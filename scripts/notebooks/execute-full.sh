#!/usr/bin/env bash
# Executes notebooks at full scale in the real .NET Interactive kernel and commits-ready copies them back:
# the parameters cell gets scale="full" (and compute=false where the notebook has it, so only finished caches show),
# jupyter nbconvert runs it in the kernel (the caches under notebooks/cache/ are read back, not recomputed), then
# `genseg notebook figures` puts a static image after every chart and the executed copy replaces notebooks/NAME.ipynb.
# Fill the caches first with the kit's runner: ./genseg notebook run notebooks/NAME.ipynb -p scale=full
# Usage: scripts/notebooks/execute-full.sh notebooks/02-g4seg-ablations.ipynb [...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH="$PATH:$HOME/.dotnet/tools"
work=$(mktemp -d)
for nb in "$@"; do
  name=$(basename "$nb" .ipynb)
  python3 - "$nb" "$here/notebooks/$name.full.ipynb" <<'PY'
import json, re, sys
nb = json.load(open(sys.argv[1]))
for c in nb["cells"]:
    if "parameters" in c.get("metadata", {}).get("tags", []):
        src = "".join(c["source"])
        src = re.sub(r'var scale = "[a-z]+";', 'var scale = "full";', src)
        src = re.sub(r'var compute = (true|false);', 'var compute = false;', src)
        c["source"] = src.splitlines(True)
json.dump(nb, open(sys.argv[2], "w"), indent=1, ensure_ascii=False)
PY
  start=$(date +%s)
  (cd "$here/notebooks" && /usr/bin/jupyter nbconvert --to notebook --execute "$name.full.ipynb" --output-dir "$work" --ExecutePreprocessor.timeout=-1)
  echo "$name: executed in the kernel in $(( $(date +%s) - start )) s"
  dotnet "$here/src/GenSeg.Cli/bin/Release/net10.0/GenSeg.Cli.dll" notebook figures "$work/$name.full.ipynb"
  # the committed copy keeps its CI-sized defaults in the parameters cell; its outputs are the full run's
  python3 - "$nb" "$work/$name.full.ipynb" <<'PY'
import json, sys
original, executed = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for c, e in zip(original["cells"], executed["cells"]):
    if "parameters" in c.get("metadata", {}).get("tags", []):
        e["source"] = c["source"]
json.dump(executed, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
open(sys.argv[1], "a").write("\n")
PY
  rm -f "$here/notebooks/$name.full.ipynb"
done
rm -rf "$work"
