using System.Reflection;
using GenSeg.Tests.Support;

namespace GenSeg.Tests.Architecture;

/// <summary>
/// Every test class carries exactly one of <see cref="Categories.All"/> as a class-level trait, and no test method
/// carries one of its own, so the four <c>--filter Category=...</c> runs partition the suite.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class TestCategoryTests
{
    [Fact]
    public void EveryTestClassHasExactlyOneCategory()
    {
        var classes = TestClasses(typeof(TestCategoryTests).Assembly).ToList();
        Assert.True(classes.Count > 50, $"only {classes.Count} test classes found");
        var problems = classes.SelectMany(c => Problems(c, TestMethods(c))).ToList();
        Assert.True(problems.Count == 0, "test classes without exactly one category:\n" + string.Join("\n", problems));
    }

    [Fact]
    public void AMissingOrUnknownCategoryIsCaught()
    {
        static IEnumerable<string> Check(Type sample) => Problems(sample, sample.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly));
        Assert.Contains("no category", Assert.Single(Check(typeof(Uncategorised))), StringComparison.Ordinal);
        Assert.Contains("'Slow'", Assert.Single(Check(typeof(UnknownCategory))), StringComparison.Ordinal);
        Assert.Contains("two categories", Assert.Single(Check(typeof(TwoCategories))), StringComparison.Ordinal);
        Assert.Contains("MethodCategory.Test: a category on the method", Assert.Single(Check(typeof(MethodCategory))), StringComparison.Ordinal);
        Assert.Empty(Problems(typeof(TestCategoryTests), TestMethods(typeof(TestCategoryTests))));
    }

    /// <summary>The classes xunit runs tests of: public, concrete, with a test method (a [Fact] or anything derived from it).</summary>
    static IEnumerable<Type> TestClasses(Assembly assembly) =>
        assembly.GetTypes().Where(t => t.IsClass && !t.IsAbstract && (t.IsPublic || t.IsNestedPublic) && TestMethods(t).Any());

    static IEnumerable<MethodInfo> TestMethods(Type type) =>
        type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static).Where(m => m.IsDefined(typeof(FactAttribute), inherit: true));

    // The Category traits declared on a member itself (xunit reads a class's traits from its own attributes).
    static IEnumerable<string> CategoriesOf(MemberInfo member) =>
        member.GetCustomAttributesData()
            .Where(a => a.AttributeType == typeof(TraitAttribute) && (string?)a.ConstructorArguments[0].Value == Categories.Name)
            .Select(a => (string?)a.ConstructorArguments[1].Value ?? "");

    static IEnumerable<string> Problems(Type type, IEnumerable<MethodInfo> testMethods)
    {
        var found = CategoriesOf(type).ToList();
        if (found.Count == 0) yield return $"{type.FullName}: no category (add [Trait(Categories.Name, Categories.Unit|Integration|Notebook|Parity)])";
        else if (found.Count > 1) yield return $"{type.FullName}: two categories or more ({string.Join(", ", found)})";
        else if (!Categories.All.Contains(found[0])) yield return $"{type.FullName}: unknown category '{found[0]}' (expected one of {string.Join(", ", Categories.All)})";
        foreach (var method in testMethods.Where(m => CategoriesOf(m).Any()))
            yield return $"{type.FullName}.{method.Name}: a category on the method (categories are per class: split the class)";
    }

    // Samples for the check above (their public methods stand for test methods; xunit runs none of them).
    sealed class Uncategorised
    {
        public void Test() { }
    }

    [Trait(Categories.Name, "Slow")]
    sealed class UnknownCategory
    {
        public void Test() { }
    }

    [Trait(Categories.Name, Categories.Unit), Trait(Categories.Name, Categories.Integration)]
    sealed class TwoCategories
    {
        public void Test() { }
    }

    [Trait(Categories.Name, Categories.Integration)]
    sealed class MethodCategory
    {
        [Trait(Categories.Name, Categories.Unit)]
        public void Test() { }
    }
}
