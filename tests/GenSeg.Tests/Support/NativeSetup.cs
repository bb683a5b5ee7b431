using System.Runtime.CompilerServices;
using GenSeg.Runtime;

namespace GenSeg.Tests.Support;

static class NativeSetup
{
    /// <summary>Runs before any test touches a tensor: the same native set-up the CLI does.</summary>
    [ModuleInitializer]
    internal static void Initialise() => TorchRuntime.EnsureNativeLoaded();
}
