namespace GenSeg.Diffusion.Attention;

/// <summary>Whether an attention layer attends to the image itself or to the conditioning tokens.</summary>
public enum AttentionKind
{
    /// <summary>Self-attention (<c>attn1</c>): keys are the image positions.</summary>
    Self,

    /// <summary>Cross-attention (<c>attn2</c>): keys are the encoder hidden states (text tokens).</summary>
    Cross,
}

/// <summary>The part of the UNet an attention layer belongs to.</summary>
public enum UNetPart
{
    /// <summary>A down block (<c>down_blocks.i</c>).</summary>
    Down,

    /// <summary>The mid block (<c>mid_block</c>).</summary>
    Mid,

    /// <summary>An up block (<c>up_blocks.i</c>).</summary>
    Up,
}

/// <summary>
/// One attention layer of a UNet, as the hooks of <see cref="AttentionControl"/> see it.
/// </summary>
/// <param name="Name">Module path, equal to the checkpoint prefix, e.g. <c>down_blocks.0.attentions.0.transformer_blocks.0.attn2</c>.</param>
/// <param name="Kind">Self- or cross-attention.</param>
/// <param name="Part">Down, mid or up block.</param>
/// <param name="Block">Index of the block within its part (0 for the mid block).</param>
/// <param name="Layer">Index of the Transformer2DModel within the block (<c>attentions.j</c>).</param>
/// <param name="TransformerBlock">Index of the BasicTransformerBlock within it (<c>transformer_blocks.k</c>).</param>
/// <param name="Level">Resolution level: 0 is the latent's own resolution, each level halves it.</param>
/// <param name="Heads">Number of attention heads.</param>
/// <param name="HeadDim">Channels per head.</param>
/// <param name="Height">Query resolution (rows) in the current call; 0 in a template.</param>
/// <param name="Width">Query resolution (columns) in the current call; 0 in a template.</param>
public sealed record AttentionSite(
    string Name,
    AttentionKind Kind,
    UNetPart Part,
    int Block,
    int Layer,
    int TransformerBlock,
    int Level,
    int Heads,
    int HeadDim,
    long Height = 0,
    long Width = 0)
{
    /// <summary>Number of query positions, Height x Width.</summary>
    public long QueryLength => Height * Width;
}
