using Microsoft.DotNet.Interactive.Formatting;

namespace GenSeg.Notebooks;

/// <summary>
/// A piece of HTML that displays as <c>text/html</c>, in the kit's runner and in a real .NET Interactive kernel (through
/// its <see cref="TypeFormatterSourceAttribute"/>): <c>display(new HtmlFragment("&lt;b&gt;done&lt;/b&gt;"))</c>. Notebooks use it
/// instead of the kernel's <c>HTML(...)</c>, whose result type (<c>IHtmlContent</c>) makes the kernel compile the cell
/// against Microsoft.DotNet.Interactive's reference to Microsoft.AspNetCore.Html.Abstractions 2.3 while the kernel runs
/// on ASP.NET Core 10's copy, so every such cell printed warning CS1701; this type involves no ASP.NET Core assembly.
/// </summary>
[TypeFormatterSource(typeof(HtmlFragmentFormatterSource), PreferredMimeTypes = ["text/html"])]
public sealed class HtmlFragment(string html)
{
    /// <summary>The HTML, written as it is.</summary>
    public string Html { get; } = html ?? throw new ArgumentNullException(nameof(html));

    /// <inheritdoc/>
    public override string ToString() => Html;
}

/// <summary>Supplies <see cref="HtmlFragment"/>'s text/html formatter to Microsoft.DotNet.Interactive.Formatting.</summary>
internal sealed class HtmlFragmentFormatterSource : ITypeFormatterSource
{
    public IEnumerable<ITypeFormatter> CreateTypeFormatters() => [new HtmlFragmentFormatter()];

    sealed class HtmlFragmentFormatter : TypeFormatter<HtmlFragment>
    {
        public override string MimeType => "text/html";

        public override bool Format(HtmlFragment value, FormatContext context)
        {
            context.Writer.Write(value.Html);
            return true;
        }
    }
}
