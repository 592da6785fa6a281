using Functional;
using Xunit;

namespace Functional.Facade.Tests;

public class EinsumTests
{
    [Fact]
    public void Contract_evaluates_any_number_of_operands()
    {
        var a = Tensor.Random(1, 2, 3);
        var b = Tensor.Random(2, 3, 4);
        var c = Tensor.Random(3, 4);
        var viaEinsum = Einsum.Contract("ij,jk,k->i", a, b, c);
        var viaMatMul = a.MatMul(b).MatMul(c.Reshape(4, 1)).Reshape(2);
        Assert.Equal(viaMatMul.ToArray()[0], viaEinsum.ToArray()[0], 12);
        Assert.Equal(viaMatMul.ToArray()[1], viaEinsum.ToArray()[1], 12);
    }

    [Fact]
    public void Explain_gives_the_seed_notation()
    {
        var text = Einsum.Explain("ij,jk->ik");
        Assert.Contains("∂L/∂A[i,j] = Σ_k ∂L/∂C[i,k] · B[j,k]", text);
        Assert.Contains(@"\frac{\partial L}{\partial B_{jk}}", Einsum.ExplainLatex("ij,jk->ik"));
    }

    /// <summary>Derivations and plans compare by value, their lists element by element, as records of values do.</summary>
    [Fact]
    public void Derivations_and_plans_are_equal_by_value()
    {
        var d = Einsum.Derive("bij,bjk->bik");
        Assert.Equal(d, Einsum.Derive("bij,bjk->bik"));
        Assert.True(d == Einsum.Derive("bij,bjk->bik"));
        Assert.Equal(d.GetHashCode(), Einsum.Derive("bij,bjk->bik").GetHashCode());
        Assert.Equal(d.Operands[0], Einsum.Derive("bij,bjk->bik").Operands[0]);
        Assert.NotEqual(d, Einsum.Derive("bij,bjk->bki"));
        Assert.NotEqual(d.Operands[0], d.Operands[1]);
        // Differing only inside a list.
        Assert.NotEqual(d, d with { Operands = d.Operands.Reverse().ToArray() });
        Assert.NotEqual(d.Operands[0], d.Operands[0] with { Cases = d.Operands[0].Cases.Append("another case").ToArray() });
        var p = Einsum.Plan("ij,jk,kl->il", new[] { 2, 3 }, new[] { 3, 4 }, new[] { 4, 5 });
        Assert.Equal(p, Einsum.Plan("ij,jk,kl->il", new[] { 2, 3 }, new[] { 3, 4 }, new[] { 4, 5 }));
        Assert.Equal(p.GetHashCode(), Einsum.Plan("ij,jk,kl->il", new[] { 2, 3 }, new[] { 3, 4 }, new[] { 4, 5 }).GetHashCode());
        Assert.NotEqual(p, Einsum.Plan("ij,jk,kl->il", new[] { 20, 3 }, new[] { 3, 4 }, new[] { 4, 5 }));
        Assert.True(p.Steps.Count >= 2);
        Assert.NotEqual(p, p with { Steps = p.Steps.Reverse().ToArray() });
    }

    [Fact]
    public void Derive_is_structured()
    {
        var d = Einsum.Derive("bij,bjk->bik");
        Assert.Equal("bij,bjk->bik", d.Equation);
        Assert.Equal(2, d.Operands.Count);
        var a = d.Operands[0];
        Assert.Equal("A", a.Name);
        Assert.Equal("bik,bjk->bij", a.Contraction);
        Assert.Equal(LabelRole.Batch, a.Labels.Single(l => l.Label == "b").Role);
        Assert.Equal(LabelRole.Free, a.Labels.Single(l => l.Label == "i").Role);
        Assert.Equal(LabelRole.Contracted, a.Labels.Single(l => l.Label == "j").Role);
        Assert.Equal(LabelRole.Other, a.Labels.Single(l => l.Label == "k").Role);
        Assert.Contains(a.Cases, c => c.Contains("batch"));
    }

    [Fact]
    public void Operand_names_never_take_the_output_s_name()
    {
        // 24 operands are A…X beside the output Y; from 25 (where a letter would reach Y) they are numbered.
        foreach (int n in new[] { 2, 3, 24, 25, 30 })
        {
            string equation = string.Join(",", Enumerable.Range(0, n).Select(k => "i")) + "->i";
            var d = Einsum.Derive(equation);
            var names = d.Operands.Select(o => o.Name).ToArray();
            string output = n <= 2 ? "C" : "Y";
            Assert.Equal(n, names.Distinct().Count());
            Assert.DoesNotContain(output, names);
            Assert.StartsWith(output + "[i] =", d.Forward);
        }
        Assert.Equal("X24", Einsum.Derive(string.Join(",", Enumerable.Range(0, 25).Select(k => "i")) + "->i").Operands[24].Name);
    }

    [Fact]
    public void Plan_reports_order_and_flops()
    {
        var p = Einsum.Plan("ij,jk,k->i", new[] { 100, 200 }, new[] { 200, 300 }, new[] { 300 });
        Assert.Equal("optimal", p.Method);
        Assert.Equal("jk,k->j", p.Steps[0].Contraction);
        Assert.Equal(160000.0, p.Flops);
    }

    [Fact]
    public void The_exception_is_public_and_exposes_label_operand_and_position()
    {
        var e = Assert.Throws<EinsumException>(() => Einsum.Contract("ij,jk->ik", Tensor.Zeros(2, 3), Tensor.Zeros(4, 5)));
        Assert.IsAssignableFrom<ArgumentException>(e);
        Assert.Equal('j', e.Label);
        Assert.Equal(1, e.Operand);
        Assert.Equal(3, e.Position);
        Assert.Equal("equation", e.ParamName);
        Assert.Contains("size 3", e.Message);
        Assert.Contains("size 4", e.Message);
    }

    [Fact]
    public void Derivations_name_no_operand_L_and_say_a_repeated_summed_label_is_a_diagonal()
    {
        // Operand 11 of 12 was named L, the loss's letter: ∂L/∂L[…].
        var twelve = Einsum.Derive(string.Join(",", Enumerable.Range(0, 12).Select(_ => "i")) + "->i");
        Assert.DoesNotContain(twelve.Operands, o => o.Name == "L" || o.Name == "Y");
        Assert.Equal(12, twelve.Operands.Select(o => o.Name).Distinct().Count());
        // The trace's gradient is G·δ, written onto the diagonal: it was also said to be broadcast.
        var trace = Einsum.Derive("ii->").Operands[0].Cases;
        Assert.Contains(trace, c => c.Contains("diagonal"));
        Assert.DoesNotContain(trace, c => c.Contains("broadcast along"));
        Assert.Contains(Einsum.Derive("ij->i").Operands[0].Cases, c => c.Contains("broadcast along"));
        // The ellipsis case only for an operand that has '...'.
        var d = Einsum.Derive("...i,i->...i");
        Assert.Contains(d.Operands[0].Cases, c => c.Contains("'...'"));
        Assert.DoesNotContain(d.Operands[1].Cases, c => c.Contains("'...'"));
    }

    [Fact]
    public void Result_records_built_with_null_parts_still_print()
    {
        Assert.Contains("Steps = [null]", new ContractionPlan("greedy", new PlanStep[] { null! }, 0, 0).ToString());
        Assert.Contains("Steps = []", new ContractionPlan("greedy", null!, 0, 0).ToString());
        Assert.Contains("Operands = [null]", new EinsumDerivation("i->", "C = Σ_i A[i]", new OperandDerivation[] { null! }).ToString());
        Assert.Contains("Operands = []", new EinsumDerivation("i->", "C = Σ_i A[i]", null!).ToString());
    }
}
