# The cells the notebook generators (make_0N.py) write: markdown, and C# code for the .NET Interactive kernel.
def md(s): return {"cell_type": "markdown", "metadata": {}, "source": s.strip("\n").splitlines(True)}


def code(s, tags=None):
    m = {"dotnet_interactive": {"language": "csharp"}, "polyglot_notebook": {"kernelName": "csharp"}}
    if tags: m["tags"] = tags
    return {"cell_type": "code", "execution_count": None, "metadata": m, "outputs": [], "source": s.strip("\n").splitlines(True)}


# The lines that bring the kit into the kernel: the kernel folder every Release build writes, then the kit's set-up.
KIT_LINES = '''#r "../src/GenSeg.Notebooks/bin/Release/kernel/GenSeg.dll"
#r "../src/GenSeg.Notebooks/bin/Release/kernel/GenSeg.Notebooks.dll"
GenSeg.Notebooks.NotebookKit.Start()'''


def kit_cell(comment):
    """The reference cell: the comment (C# // lines) above the kit's lines."""
    return code(comment.strip("\n") + "\n" + KIT_LINES)


# The .NET Interactive kernel's metadata, for notebooks written from scratch.
KERNEL_METADATA = {
    "kernelspec": {"display_name": ".NET (C#)", "language": "C#", "name": ".net-csharp"},
    "language_info": {"name": "C#", "file_extension": ".cs", "mimetype": "text/x-csharp", "pygments_lexer": "csharp"},
    "polyglot_notebook": {"kernelInfo": {"defaultKernelName": "csharp", "items": [{"aliases": [], "name": "csharp"}]}}}


def write(cells, out, metadata=None):
    """Writes the notebook (nbformat 4.5) to out, as the committed copies are formatted."""
    import json
    nb = {"cells": cells, "metadata": metadata if metadata is not None else KERNEL_METADATA, "nbformat": 4, "nbformat_minor": 5}
    with open(out, "w") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write("\n")
