using System.Diagnostics;
using System.Text.Json.Nodes;
using GenSeg.Tests.Support;

namespace GenSeg.Tests.Cli;

/// <summary>
/// The Slurm scripts under scripts/slurm, run end to end with a stand-in for <c>sbatch</c> that runs each array task in
/// turn with the environment Slurm gives it: N shards on a dataset and their merge give the summary of one run.
/// </summary>
[Collection(CliCollection.Name)]
[Trait(Categories.Name, Categories.Integration)]
public sealed class SlurmScriptTests : IClassFixture<TinyPipeline>, IDisposable
{
    readonly TinyPipeline tiny;
    readonly string dir = Directory.CreateTempSubdirectory("genseg-slurm-").FullName;

    public SlurmScriptTests(TinyPipeline tiny) => this.tiny = tiny;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    const string FakeSbatch = """
        #!/usr/bin/env bash
        set -euo pipefail
        array=""; args=()
        while [[ $# -gt 0 ]]; do
          case "$1" in
            --parsable|--dependency=*|--output=*) shift ;;
            --array=*) array="${1#--array=}"; shift ;;
            *) args+=("$1"); shift ;;
          esac
        done
        export SLURM_SUBMIT_DIR="$PWD"
        if [[ -n "$array" ]]; then
          lo="${array%-*}"; hi="${array#*-}"
          for ((i = lo; i <= hi; i++)); do
            SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_MIN=$lo SLURM_ARRAY_TASK_COUNT=$((hi - lo + 1)) bash "${args[@]}" >> "$FAKE_SLURM_LOG" 2>&1
          done
        else
          bash "${args[@]}" >> "$FAKE_SLURM_LOG" 2>&1
        fi
        echo 42
        """;

    static int Bash(string script, IReadOnlyList<string> args, IDictionary<string, string> env, string workDir)
    {
        var psi = new ProcessStartInfo("bash") { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode;
    }

    [Fact]
    public void SubmitEvalRunsTheShardsAndMergesThemIntoTheUnshardedSummary()
    {
        var voc = Path.Combine(dir, "voc");
        Assert.Equal(0, CliRun.Run("toyworld", "--format", "voc", "--split", "val", "--count", "3", "--size", "40", "--out", voc));
        var bin = Directory.CreateDirectory(Path.Combine(dir, "bin")).FullName;
        File.WriteAllText(Path.Combine(bin, "sbatch"), FakeSbatch.Replace("\r\n", "\n") + "\n");
        if (!OperatingSystem.IsWindows()) // Slurm clusters run Linux; the scripts are bash
            File.SetUnixFileMode(Path.Combine(bin, "sbatch"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var cli = Path.Combine(AppContext.BaseDirectory, "GenSeg.Cli.dll");
        var env = new Dictionary<string, string>
        {
            ["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH"),
            ["FAKE_SLURM_LOG"] = Path.Combine(dir, "slurm.log"),
            ["GENSEG"] = $"dotnet {cli}",
            ["GENSEG_DEVICE"] = "cpu",
        };
        var run = Path.Combine(dir, "run");
        var evalArgs = new[] { "g4seg", "--model", tiny.Folder, "--dataset", $"voc:{voc}", "--split", "val", "--coarse-dir", Path.Combine(voc, "coarse"), "--timestep", "300" };
        var script = Path.Combine(Parity.RepoRoot(), "scripts", "slurm", "submit-eval.sh");
        Assert.Equal(0, Bash(script, new[] { "2", run, "--" }.Concat(evalArgs).ToArray(), env, dir));
        Assert.True(File.Exists(Path.Combine(run, "summary.json")), File.ReadAllText(Path.Combine(dir, "slurm.log")));
        Assert.Equal(new[] { "shard-0.jsonl", "shard-1.jsonl" }, Directory.GetFiles(run, "shard-*.jsonl").Select(Path.GetFileName).Order());

        var single = Path.Combine(dir, "single.json");
        Assert.Equal(0, CliRun.Run(new[] { "eval" }.Concat(evalArgs).Concat(new[] { "--json", single }).ToArray()));
        Assert.Equal(ResultJson.Comparable(single, withoutModel: true), ResultJson.Comparable(Path.Combine(run, "summary.json"), withoutModel: true));
        Assert.Equal(2, Bash(script, new[] { "0", run, "--", "g4seg" }, env, dir)); // a bad shard count is refused
    }
}
