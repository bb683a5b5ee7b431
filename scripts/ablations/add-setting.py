#!/usr/bin/env python3
"""Adds a setting a results file predates to every record's settings (each row's), at its place in the table, so the
file resumes under a build whose settings table gained the setting. Use it only with the value the records were
computed with (a new setting's default reproduces the old behaviour: e.g. scheduler=ddim, the only sampler before).

    scripts/ablations/add-setting.py --after iterations --key scheduler --value ddim notebooks/cache/paintseg-val/*.jsonl
"""
import argparse, json, os, shutil, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--after", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--value", required=True)
ap.add_argument("files", nargs="+")
a = ap.parse_args()
for path in a.files:
    out, changed = [], 0
    for line in open(path):
        if not line.strip():
            continue
        rec = json.loads(line)
        for row in rec.get("rows", []):
            s = row["settings"]
            if a.key in s:
                continue
            if a.after not in s:
                raise SystemExit(f"{path}: a record's settings lack '{a.after}'")
            row["settings"] = {k2: v2 for k, v in s.items() for k2, v2 in ([(k, v), (a.key, a.value)] if k == a.after else [(k, v)])}
            changed += 1
        out.append(json.dumps(rec, separators=(",", ":")) + "\n")
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".")
    with os.fdopen(fd, "w") as f:
        f.writelines(out)
    shutil.copymode(path, tmp)  # mkstemp creates 0600; keep the file's own mode
    os.replace(tmp, path)
    print(f"{path}: {changed} rows given {a.key}={a.value}")
