# Replaces the first (markdown) cell of an executed notebook with the first cell its make script writes, so a corrected
# introduction (e.g. a measured run time) reaches the committed copy without executing it again.
# Usage: python3 scripts/notebooks/set_intro.py scripts/notebooks/make_03.py notebooks/03-correspondence-maps.ipynb
import json, subprocess, sys, tempfile, os
make, notebook = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory() as d:
    fresh = os.path.join(d, "fresh.ipynb")
    subprocess.run([sys.executable, make, fresh], check=True)
    first = json.load(open(fresh))["cells"][0]
nb = json.load(open(notebook))
if nb["cells"][0]["cell_type"] != "markdown" or first["cell_type"] != "markdown":
    raise SystemExit(f"{notebook}: the first cell is not the introduction")
nb["cells"][0]["source"] = first["source"]
json.dump(nb, open(notebook, "w"), indent=1, ensure_ascii=False)
open(notebook, "a").write("\n")
