# The cells the notebook generators (make_0N.py) write: markdown, and C# code for the .NET Interactive kernel.
def md(s): return {"cell_type": "markdown", "metadata": {}, "source": s.strip("\n").splitlines(True)}


def code(s, tags=None):
    m = {"dotnet_interactive": {"language": "csharp"}, "polyglot_notebook": {"kernelName": "csharp"}}
    if tags: m["tags"] = tags
    return {"cell_type": "code", "execution_count": None, "metadata": m, "outputs": [], "source": s.strip("\n").splitlines(True)}
