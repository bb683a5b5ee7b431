namespace GenSeg.Evaluation;

/// <summary>A band of initial IoU (the coarse mask's IoU with the truth), as the G4Seg paper stratifies its results.</summary>
public enum IouStratum
{
    /// <summary>Initial IoU below 40.</summary>
    Below40,

    /// <summary>Initial IoU from 40 up to (not including) 80.</summary>
    From40To80,

    /// <summary>Initial IoU of 80 or more.</summary>
    From80,
}

/// <summary>Binning of items by initial IoU into &lt;40, 40-80 and 80-100 (IoU given as a fraction in [0, 1]).</summary>
public static class Strata
{
    /// <summary>The strata in order.</summary>
    public static IReadOnlyList<IouStratum> All { get; } = new[] { IouStratum.Below40, IouStratum.From40To80, IouStratum.From80 };

    /// <summary>The stratum of an IoU in [0, 1]: [0, 0.4), [0.4, 0.8) or [0.8, 1].</summary>
    public static IouStratum Of(double iou)
    {
        if (double.IsNaN(iou) || iou < 0 || iou > 1)
            throw new ArgumentOutOfRangeException(nameof(iou), iou, "initial IoU: expected a fraction in [0, 1]");
        return iou < 0.4 ? IouStratum.Below40 : iou < 0.8 ? IouStratum.From40To80 : IouStratum.From80;
    }

    /// <summary>The paper's label: "&lt;40", "40-80" or "80-100".</summary>
    public static string Label(IouStratum stratum) => stratum switch
    {
        IouStratum.Below40 => "<40",
        IouStratum.From40To80 => "40-80",
        IouStratum.From80 => "80-100",
        _ => throw new ArgumentOutOfRangeException(nameof(stratum)),
    };

    /// <summary>Groups items by the stratum of their initial IoU; every stratum is present (possibly empty), in order.</summary>
    public static IReadOnlyDictionary<IouStratum, IReadOnlyList<T>> Group<T>(IEnumerable<T> items, Func<T, double> initialIou)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(initialIou);
        var groups = All.ToDictionary(s => s, _ => new List<T>());
        foreach (var item in items) groups[Of(initialIou(item))].Add(item);
        return groups.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<T>)kv.Value);
    }
}
