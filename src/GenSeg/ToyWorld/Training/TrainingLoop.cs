using System.Diagnostics;
using System.Text;
using System.Text.Json;
using GenSeg.Common;
using GenSeg.Diffusion.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace GenSeg.ToyWorld.Training;

/// <summary>Settings of one training run of an embedded-model component.</summary>
public sealed record TrainingOptions
{
    /// <summary>Optimizer steps in total (a resumed run continues up to this number).</summary>
    public int Steps { get; init; } = 4000;

    /// <summary>Images per step.</summary>
    public int Batch { get; init; } = 16;

    /// <summary>Peak AdamW learning rate (linear warm-up, then cosine decay to 10% of it).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Linear warm-up steps.</summary>
    public int WarmupSteps { get; init; } = 100;

    /// <summary>AdamW weight decay.</summary>
    public double WeightDecay { get; init; } = 1e-2;

    /// <summary>Save a resumable checkpoint every this many steps.</summary>
    public int CheckpointEvery { get; init; } = 200;

    /// <summary>Seed: data order, noise and initialisation all derive from it, so a run is reproducible.</summary>
    public int Seed { get; init; }

    /// <summary>The run's folder (checkpoint/, losses.csv, the exported component).</summary>
    public required string OutDir { get; init; }

    /// <summary>Continue from the checkpoint in <see cref="OutDir"/> when there is one.</summary>
    public bool Resume { get; init; }

    /// <summary>Gradient-norm clipping threshold.</summary>
    public double ClipGradNorm { get; init; } = 1.0;

    /// <summary>
    /// How many times a run may roll back to its last checkpoint after a fault (a non-finite weight or figure, or a
    /// native error) before it gives up. Faults seen here came from libtorch's vectorised CPU kernels (see
    /// <c>TorchRuntime.SafeCpuKernelVariables</c>) and, under an artificial collecting thread, from TorchSharp freeing a
    /// temporary Scalar mid-call; a rollback repeats that stretch exactly (data and noise depend only on the seed and the step).
    /// </summary>
    public int MaxRecoveries { get; init; } = 5;

    /// <summary>Checks the values; errors name the option.</summary>
    public void Validate()
    {
        if (Steps < 1) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "--steps: expected at least 1");
        if (Batch < 1) throw new ArgumentOutOfRangeException(nameof(Batch), Batch, "--batch: expected at least 1");
        if (!(LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "--lr: expected a positive learning rate");
        if (WarmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(WarmupSteps), WarmupSteps, "--warmup: expected 0 or more steps");
        if (CheckpointEvery < 1) throw new ArgumentOutOfRangeException(nameof(CheckpointEvery), CheckpointEvery, "--checkpoint-every: expected at least 1");
        if (MaxRecoveries < 0) throw new ArgumentOutOfRangeException(nameof(MaxRecoveries), MaxRecoveries, "expected 0 or more recoveries");
    }

    /// <summary>The learning rate at a step: linear warm-up, then cosine decay to 10%.</summary>
    public double LearningRateAt(int step)
    {
        if (step < WarmupSteps) return LearningRate * (step + 1) / WarmupSteps;
        double p = Math.Min(1.0, (double)(step - WarmupSteps) / Math.Max(1, Steps - WarmupSteps));
        return LearningRate * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * p)));
    }
}

/// <summary>What a training run reports after each step.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="Steps">Steps in all.</param>
/// <param name="Loss">This step's loss.</param>
/// <param name="AverageLoss">Mean loss over the last 50 steps.</param>
/// <param name="ImagesPerSecond">Throughput of this run so far.</param>
/// <param name="Extra">Task-specific figures of the last evaluation (e.g. PSNR), or empty.</param>
/// <param name="Recoveries">Rollbacks to the last checkpoint after a fault so far (see <see cref="TrainingOptions.MaxRecoveries"/>).</param>
/// <param name="LastFault">What caused the last repeated step or rollback, or null.</param>
/// <param name="RepeatedSteps">Steps repeated after a non-finite loss or gradient (the weights untouched) so far.</param>
public sealed record TrainingProgress(int Step, int Steps, double Loss, double AverageLoss, double ImagesPerSecond, IReadOnlyDictionary<string, double> Extra,
    int Recoveries = 0, string? LastFault = null, int RepeatedSteps = 0);

/// <summary>A component being trained: its modules, its loss on a batch, and how it is exported.</summary>
public interface ITrainingTask
{
    /// <summary>Name used in checkpoint keys and logs (e.g. "vae").</summary>
    string Name { get; }

    /// <summary>The modules whose parameters are trained, by key prefix (their states are checkpointed under "prefix.").</summary>
    IReadOnlyDictionary<string, nn.Module> Trainable { get; }

    /// <summary>
    /// The loss for step <paramref name="step"/>: data and noise must come only from <paramref name="generator"/> and
    /// the step number, so a resumed run repeats exactly what an uninterrupted one does.
    /// </summary>
    Tensor Loss(int step, int batch, Generator generator);

    /// <summary>Figures to log at checkpoints (no gradients); may be empty.</summary>
    IReadOnlyDictionary<string, double> Evaluate();

    /// <summary>Writes the trained component(s) in the diffusers layout to <paramref name="folder"/>.</summary>
    void Export(string folder);
}

/// <summary>
/// The training loop shared by every embedded-model component: AdamW with warm-up and cosine decay, gradient clipping,
/// a resumable checkpoint written atomically (a new folder swapped in by rename), and a loss log (losses.csv).
/// Memory is flat: every step runs inside its own dispose scope.
/// </summary>
public static class TrainingLoop
{
    sealed record State(int Step, int Seed, List<double[]> Losses, Dictionary<string, double>? LastEval);

    /// <summary>Runs (or resumes) training; returns the mean loss of the last 50 steps.</summary>
    public static double Run(ITrainingTask task, TrainingOptions options, IProgress<TrainingProgress>? progress = null, CancellationToken cancel = default)
    {
        options.Validate();
        Directory.CreateDirectory(options.OutDir);
        // Only the weights that are trained: a frozen weight (e.g. the text encoder with --freeze-text, the encoder in a
        // decoder-only fine-tune) has no gradient, so it needs neither optimizer state (two copies of it) nor clipping.
        var parameters = task.Trainable.Values.SelectMany(m => m.parameters()).Where(p => p.requires_grad).ToList();
        var optimizer = optim.AdamW(parameters, lr: options.LearningRate, weight_decay: options.WeightDecay);
        var state = new State(0, options.Seed, new List<double[]>(), null);
        string ckpt = Path.Combine(options.OutDir, "checkpoint");
        if (options.Resume)
        {
            var found = Directory.Exists(ckpt) ? ckpt : Directory.Exists(ckpt + ".old") ? ckpt + ".old" : null;
            if (found is not null) state = LoadCheckpoint(found, task, optimizer, options);
        }
        else if (Directory.Exists(ckpt))
        {
            throw new ArgumentException($"--out {options.OutDir}: holds a checkpoint already; pass --resume to continue it or choose another folder");
        }

        // A checkpoint to roll back to from the first step on (also for a run started from --init weights).
        if (!Directory.Exists(ckpt)) SaveCheckpoint(ckpt, task, optimizer, state);
        var recent = new Queue<double>(state.Losses.TakeLast(50).Select(r => r[1]));
        var clock = Stopwatch.StartNew();
        int images = 0, recoveries = 0, retries = 0;
        string? lastFault = null;
        var lastEval = state.LastEval ?? new Dictionary<string, double>();
        for (int step = state.Step; step < options.Steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            double lr = options.LearningRateAt(step);
            foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
            double lossValue;
            bool last = step + 1 == options.Steps, checkpoint = (step + 1) % options.CheckpointEvery == 0 || last;
            string? fault;
            try
            {
                // A step whose loss or gradient is not finite has not touched the weights: it is repeated with the same
                // data and noise (as a mixed-precision loss scaler skips a step); only a repeated fault rolls back.
                fault = Step(task, options, optimizer, parameters, step, out lossValue);
                for (int retry = 0; fault is not null && retry < 2; retry++)
                {
                    retries++;
                    lastFault = $"step {step}: {fault} (repeated)";
                    fault = Step(task, options, optimizer, parameters, step, out lossValue);
                }
                if (fault is null && checkpoint)
                {
                    foreach (var m in task.Trainable.Values) m.eval();
                    lastEval = new Dictionary<string, double>(task.Evaluate());
                    foreach (var m in task.Trainable.Values) m.train();
                    // never save a corrupted state: every weight and every figure must be finite
                    fault = NonFinite(task) ?? lastEval.Where(kv => !double.IsFinite(kv.Value)).Select(kv => $"{kv.Key} became {kv.Value}").FirstOrDefault();
                }
            }
            catch (System.Runtime.InteropServices.ExternalException e)
            {
                // a native error outside the step's own checks (the evaluation, or an unrecognised error in the step):
                // the weights may be corrupted, so roll back
                lossValue = double.NaN;
                fault = $"native error: {e.Message.Split('\n')[0]}";
            }
            if (fault is not null)
            {
                if (recoveries >= options.MaxRecoveries)
                    throw new InvalidOperationException($"{task.Name}: {fault} at step {step}, after {recoveries} rollbacks to the last checkpoint; lower --lr or resume from the last checkpoint");
                recoveries++;
                lastFault = $"step {step}: {fault}";
                state = LoadCheckpoint(ckpt, task, optimizer, options);
                lastEval = state.LastEval ?? new Dictionary<string, double>();
                recent = new Queue<double>(state.Losses.TakeLast(50).Select(r => r[1]));
                step = state.Step - 1; // the loop's increment continues at the checkpoint's step
                continue;
            }
            images += options.Batch;
            state.Losses.Add(new[] { step + 1, lossValue, lr });
            recent.Enqueue(lossValue);
            while (recent.Count > 50) recent.Dequeue();
            state = state with { Step = step + 1 };
            if (checkpoint)
            {
                state = state with { LastEval = lastEval };
                SaveCheckpoint(ckpt, task, optimizer, state);
                WriteLossLog(Path.Combine(options.OutDir, "losses.csv"), state.Losses);
            }
            progress?.Report(new TrainingProgress(step + 1, options.Steps, lossValue, recent.Average(),
                images / Math.Max(1e-9, clock.Elapsed.TotalSeconds), lastEval, recoveries, lastFault, retries));
        }
        foreach (var m in task.Trainable.Values) m.eval();
        task.Export(Path.Combine(options.OutDir, "export"));
        return recent.Count > 0 ? recent.Average() : double.NaN;
    }

    /// <summary>One optimizer step inside its own dispose scope; returns what went wrong (a non-finite loss or gradient
    /// norm, in which case the weights are left untouched), or null.</summary>
    static string? Step(ITrainingTask task, TrainingOptions options, optim.Optimizer optimizer, IReadOnlyList<TorchSharp.Modules.Parameter> parameters, int step, out double lossValue)
    {
        try
        {
            return UncheckedStep(task, options, optimizer, parameters, step, out lossValue);
        }
        catch (System.Runtime.InteropServices.ExternalException e) when (e.Message.Contains("Scalar", StringComparison.Ordinal) || e.Message.Contains("Expected", StringComparison.Ordinal))
        {
            // a corrupted Scalar is detected before the update is applied (native checks run as the op starts)
            lossValue = double.NaN;
            return $"native error: {e.Message.Split('\n')[0]}";
        }
    }

    static string? UncheckedStep(ITrainingTask task, TrainingOptions options, optim.Optimizer optimizer, IReadOnlyList<TorchSharp.Modules.Parameter> parameters, int step, out double lossValue)
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(StepSeed(options.Seed, step));
        optimizer.zero_grad();
        var loss = task.Loss(step, options.Batch, gen);
        lossValue = loss.item<float>();
        if (!double.IsFinite(lossValue)) return $"loss became {lossValue}";
        loss.backward();
        double norm = ClipGradNorm(parameters, options.ClipGradNorm);
        if (!double.IsFinite(norm)) return $"gradient norm became {norm}";
        optimizer.step();
        return null;
    }

    /// <summary>
    /// Scales the gradients so that their global L2 norm is at most <paramref name="maxNorm"/> (as PyTorch's
    /// <c>clip_grad_norm_</c>); returns the norm before clipping. TorchSharp 0.107's <c>clip_grad_norm_</c> returned NaN
    /// for finite gradients here (measured on the VAE decoder, before the safe CPU kernels, so possibly the same fault),
    /// which turned every weight into NaN on the first step; the norm is computed here in float64.
    /// </summary>
    public static double ClipGradNorm(IEnumerable<TorchSharp.Modules.Parameter> parameters, double maxNorm)
    {
        using var scope = NewDisposeScope();
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToArray();
        if (grads.Length == 0) return 0;
        double total = Math.Sqrt(stack(grads.Select(g => g.detach().to_type(ScalarType.Float64).pow(2).sum()).ToArray()).sum().item<double>());
        if (double.IsFinite(total) && total > maxNorm)
        {
            var factor = tensor(maxNorm / (total + 1e-6), dtype: grads[0].dtype);
            using var noGrad = no_grad();
            foreach (var g in grads) g.mul_(factor);
        }
        return total;
    }

    /// <summary>The first trainable weight with a non-finite value, as a message, or null.</summary>
    static string? NonFinite(ITrainingTask task)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (prefix, module) in task.Trainable)
            foreach (var (name, p) in module.named_parameters())
                if (!isfinite(p).all().item<bool>()) return $"weight {prefix}.{name} became non-finite";
        return null;
    }

    /// <summary>The generator seed of one step (independent of where a run was resumed).</summary>
    public static ulong StepSeed(int seed, int step) => unchecked((ulong)seed * 1_000_003UL + (ulong)step * 7_919UL + 17UL);

    static void SaveCheckpoint(string dir, ITrainingTask task, TorchSharp.Modules.AdamW optimizer, State state)
    {
        string tmp = dir + ".tmp";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        var weights = new Dictionary<string, Tensor>();
        foreach (var (prefix, module) in task.Trainable)
            foreach (var (k, v) in StateDict.Export(module)) weights[$"{prefix}.{k}"] = v;
        SafeTensors.Save(Path.Combine(tmp, "weights.safetensors"), weights);
        AtomicFile.Write(Path.Combine(tmp, "optimizer.bin"), s =>
        {
            using var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
            optimizer.save_state_dict(w);
        });
        AtomicFile.WriteAllText(Path.Combine(tmp, "state.json"), JsonSerializer.Serialize(state));
        string old = dir + ".old";
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(dir)) Directory.Move(dir, old);
        Directory.Move(tmp, dir);
        if (Directory.Exists(old)) Directory.Delete(old, true);
    }

    static State LoadCheckpoint(string dir, ITrainingTask task, TorchSharp.Modules.AdamW optimizer, TrainingOptions options)
    {
        var statePath = Path.Combine(dir, "state.json");
        var state = JsonSerializer.Deserialize<State>(File.ReadAllText(statePath))
                    ?? throw new InvalidDataException($"{statePath}: empty checkpoint state");
        if (state.Seed != options.Seed)
            throw new ArgumentException($"--seed {options.Seed}: the checkpoint in {dir} was trained with seed {state.Seed}");
        var weights = SafeTensors.Load(Path.Combine(dir, "weights.safetensors"));
        foreach (var (prefix, module) in task.Trainable)
        {
            var mine = weights.Where(kv => kv.Key.StartsWith(prefix + ".", StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[(prefix.Length + 1)..], kv => kv.Value);
            StateDict.Load(module, mine, $"{dir} ({prefix})");
        }
        using (var fs = File.OpenRead(Path.Combine(dir, "optimizer.bin")))
        using (var r = new BinaryReader(fs))
            optimizer.load_state_dict(r);
        return state;
    }

    static void WriteLossLog(string path, List<double[]> losses)
    {
        var sb = new StringBuilder("step,loss,lr\n");
        foreach (var r in losses)
            sb.Append(FormattableString.Invariant($"{r[0]:0},{r[1]:G6},{r[2]:G6}\n"));
        AtomicFile.WriteAllText(path, sb.ToString());
    }
}
