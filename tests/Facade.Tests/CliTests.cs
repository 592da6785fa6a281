using Xunit;

namespace Functional.Facade.Tests;

/// <summary>The CLI in process: exit codes and the first lines of its output.</summary>
[Collection("console")]
public class CliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        Console.SetOut(o);
        Console.SetError(e);
        try { return (Functional.Cli.Program.main(args), o.ToString(), e.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    /// <summary>Runs a command that must be refused: exit code 2 and one line on stderr starting "error: ". Returns what
    /// it printed on stdout.</summary>
    private static string Refused(string[] args)
    {
        var (code, output, err) = Run(args);
        string line = string.Join(" ", args);
        Assert.True(code == 2, $"{line[..Math.Min(60, line.Length)]}: exit code {code}, {err}");
        Assert.StartsWith("error: ", err);
        Assert.Single(err.Trim().Split('\n'));
        return output;
    }

    /// <summary>A writer that fails as a full disk does.</summary>
    private sealed class FullDisk : TextWriter
    {
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;
        public override void Write(char value) => throw new IOException("No space left on device");
        public override void Write(string? value) => throw new IOException("No space left on device");
    }

    [Fact]
    public void Output_that_cannot_be_written_is_an_error_of_the_environment_not_an_internal_one()
    {
        var e = new StringWriter();
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        Console.SetOut(new FullDisk());
        Console.SetError(e);
        int code;
        try { code = Functional.Cli.Program.main(new[] { "derive", "ij,jk->ik" }); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
        Assert.Equal(2, code);
        Assert.StartsWith("error: could not write the output: No space left on device", e.ToString());
    }

    [Fact]
    public void Check_refuses_default_shapes_that_would_not_be_small()
    {
        // Sizes cycling 2 to 5 gave 16 letters (2·3·4·5)⁴ ≈ 2·10⁸ elements; all 2 are 65,536. Eighteen letters of 2 are
        // 262,144: refused, naming --shapes.
        Refused(new[] { "check", "abcdefghijklmnopqr", "--trials", "1" });
        var (_, _, err) = Run("check", "abcdefghijklmnopqr", "--trials", "1");
        Assert.Contains("--shapes", err);
        Assert.Contains("262144", err);
    }

    [Fact]
    public void Derive_explains_the_readme_example()
    {
        var (code, output, _) = Run("derive", "bij,bjk->bik");
        Assert.Equal(0, code);
        Assert.Contains("∂L/∂A[b,i,j] = Σ_k ∂L/∂C[b,i,k] · B[b,j,k]", output);
    }

    [Fact]
    public void Machine_prints_the_report_and_exits_0()
    {
        var (code, output, _) = Run("machine");
        Assert.Equal(0, code);
        Assert.Equal(Functional.Machine.Describe().ToString().Trim(), output.Trim());
        Assert.Contains("GEMM register tile:", output);
    }

    [Fact]
    public void Derive_latex_order_2_and_plan()
    {
        Assert.Contains(@"\frac", Run("derive", "ij,jk->ik", "--latex").Out);
        // V is shaped as A (i, j); the block's result as B (j, k).
        var second = Run("derive", "ij,jk->ik", "--order", "2").Out;
        Assert.Contains("∇_B ⟨∂L/∂A, Δ⟩  =  ij,ik->jk", second);
        // The blocks hold with the output gradient fixed; L's own curvature adds a term (it said ∂²L/∂X∂X = 0).
        Assert.Contains("held fixed", second);
        Assert.DoesNotContain("∂²L/∂X∂X = 0", second);
        var (code, output, _) = Run("derive", "ij,jk,k->i", "--plan", "--shapes", "100x200,200x300,300");
        Assert.Equal(0, code);
        Assert.Contains("160000 flops", output);
    }

    [Fact]
    public void Check_verifies_and_exits_0()
    {
        var (code, output, _) = Run("check", "bij,bjk->bik", "--trials", "2", "--seed", "5");
        Assert.Equal(0, code);
        Assert.Contains("verified", output);
    }

    [Fact]
    public void Bad_arguments_give_one_line_and_exit_2()
    {
        foreach (var args in new[] { new[] { "derive", "ij,jk->ix" }, new[] { "check", "ij,jk", "--shapes", "2x3,4x5" }, new[] { "check", "ij", "--trials", "x" }, new[] { "nonsense" }, new[] { "derive", "ij", "--order", "3" } })
            Refused(args);
    }

    /// <summary>The first hour's bad-input cases: each one line on stderr, exit code 2, nothing on stdout before it.</summary>
    [Fact]
    public void Conflicting_ignored_and_bad_options_are_errors_before_any_output()
    {
        foreach (var args in new[]
        {
            new[] { "derive", "ij,jk->ik", "--plan", "--shapes", "2x3,3x4,4" },   // three shapes for two operands
            new[] { "derive", "ij,jk->ik", "--plan", "--shapes", "2xq,3x4" },     // not a size
            new[] { "derive", "ij,jk->ik", "--shapes", "2x3,3x4" },               // --shapes without --plan
            new[] { "derive", "ij,jk->ik", "--plan" },                            // --plan without --shapes
            new[] { "check", "ij,jk->ik", "--activations" },                      // both
            new[] { "check", "--activations", "--trials", "3" },                  // an option --activations does not use
            new[] { "check", "ij,jk->ik", "--timeout", "0" },
        })
        {
            string output = Refused(args);
            Assert.True(output.Length == 0, $"{string.Join(" ", args)} printed before its error: {output}");
        }
    }

    [Fact]
    public void The_plan_suggestion_fits_the_equation_and_works()
    {
        var (_, _, err) = Run("derive", "ij,jk->ik", "--plan");
        Assert.Contains("--shapes 2x3,3x4", err);
        var (code, output, _) = Run("derive", "ij,jk->ik", "--plan", "--shapes", "2x3,3x4");
        Assert.Equal(0, code);
        Assert.Contains("Plan for shapes", output);
    }

    [Fact]
    public void Ellipsis_labels_print_as_written()
    {
        var (code, output, _) = Run("derive", "...ij,...jk->...ik");
        Assert.Equal(0, code);
        Assert.DoesNotContain("…0", output);
        Assert.Contains("...", output);
        var plan = Run("derive", "...ij,...jk->...ik", "--plan", "--shapes", "2x3x4x5,2x3x5x6").Out;
        Assert.DoesNotContain("…", plan);
    }

    [Fact]
    public void A_long_check_stops_at_its_timeout_and_says_so()
    {
        var (code, output, _) = Run("check", "ij,jk->ik", "--shapes", "300x300,300x300", "--trials", "50", "--timeout", "1");
        Assert.Equal(1, code);
        Assert.Contains("stopped", output);
        Assert.Contains("--timeout 1 s", output);
    }

    [Fact]
    public void A_trial_still_running_at_the_timeout_is_abandoned_not_waited_for()
    {
        // The deadline was checked only between trials and finite-difference elements: one long contraction ran on.
        var deadline = DateTime.UtcNow.AddMilliseconds(200);
        var work = Microsoft.FSharp.Core.FuncConvert.FromFunc(() => { Thread.Sleep(5000); return 1; });
        var stopped = Record.Exception(() => Functional.Cli.Check.untilDeadline(deadline, work));
        Assert.NotNull(stopped);
        Assert.StartsWith("CheckTimedOut", stopped.GetType().Name);
        // Work that ends in time gives its result, and its exception as it was.
        Assert.Equal(2, Functional.Cli.Check.untilDeadline(DateTime.UtcNow.AddSeconds(30), Microsoft.FSharp.Core.FuncConvert.FromFunc(() => 2)));
        Assert.Throws<ArgumentException>(() => Functional.Cli.Check.untilDeadline<int>(DateTime.UtcNow.AddSeconds(30), Microsoft.FSharp.Core.FuncConvert.FromFunc<int>(() => throw new ArgumentException("bad"))));
    }

    [Fact]
    public void Equations_and_shapes_out_of_proportion_are_refused_in_the_commands_terms()
    {
        // 65 operands: the planner and the derivation would run for minutes (hundreds: hours, or out of memory).
        string many = string.Join(",", Enumerable.Repeat("a", 65));
        Refused(new[] { "derive", many });
        Assert.Contains("65 operands; an einsum takes at most 64", Run("check", many).Err);
        Assert.Contains("65 operands; an einsum takes at most 64", Run("trace", "einsum('" + many + "', " + string.Join(", ", Enumerable.Repeat("A", 65)) + ")", "--shapes", "A=2").Err);
        Assert.Equal(0, Run("derive", string.Join(",", Enumerable.Repeat("a", 64))).Code);
        // A count of shapes that does not match the operands, in --shapes terms.
        Assert.Contains("--shapes has 3 shapes; the equation has 2 operands", Run("derive", "ij,jk->ik", "--plan", "--shapes", "2x3,3x4,4").Err);
        Assert.Contains("--shapes has 1 shape; the equation has 2 operands", Run("check", "ij,jk->ik", "--shapes", "2x3").Err);
        // trace runs the expression: a variable of 9·10⁸ elements is refused before anything is made.
        Refused(new[] { "trace", "sum(exp(A)*A)", "--shapes", "A=30000x30000" });
        Assert.Contains("--shapes: A has 900000000 elements", Run("trace", "sum(exp(A)*A)", "--shapes", "A=30000x30000").Err);
    }

    [Fact]
    public void An_equation_with_a_line_break_names_it_without_breaking_the_message()
    {
        // The message was cut at the line break: "error: Invalid character '" and nothing after.
        var err = Run("derive", "bij,bjk\n->bik").Err;
        Assert.Contains("Invalid character U+000A in operand 1", err);
        Assert.Contains("bij,bjk<U+000A>->bik", err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("Invalid character U+000D", Run("derive", "ij,jk->ik\r").Err);
        // .NET's "(Parameter '…')" names the library's parameter, not an option of the command.
        Assert.DoesNotContain("(Parameter", Run("trace", "sum(softmax(X, 5))", "--shapes", "X=2x5").Err);
    }

    [Fact]
    public void Help_works_everywhere()
    {
        Assert.Equal(0, Run("--help").Code);
        Assert.Contains("--shapes", Run("check", "--help").Out);
        Assert.Contains("--latex", Run("derive", "--help").Out);
    }

    [Fact]
    public void Trace_prints_the_forward_and_gradient_program_of_an_expression()
    {
        var (code, output, _) = Run("trace", "sum(gelu(einsum('ij,jk->ik', A, B)))", "--shapes", "A=2x3,B=3x4");
        Assert.Equal(0, code);
        Assert.Contains("%0 = einsum[equation=\"ij,jk->ik\"](%x0, %x1) : [2, 4]", output);
        Assert.Contains("geluScaled", output);
        Assert.Contains("%7 = einsum[equation=\"ik,ij->jk\"](%5, %x0) : [3, 4]", output);
        // The adjoint of the sum is computed from the seed, not carried as a constant.
        Assert.Contains("%4 = broadcastTo[shape=[2, 4]](%3) : [2, 4]", output);
        Assert.DoesNotContain("const", output);
        var (code2, _, _) = Run("trace", "2 * log_softmax(X, 1) - pow(X, 2) / 3", "--shapes", "X=2x5");
        Assert.Equal(0, code2);
    }

    [Fact]
    public void A_testing_kit_replay_command_checks_the_case_s_own_values()
    {
        for (int seed = 0; seed < 20; seed++)
        {
            var c = Functional.Testing.Generators.Build(seed, new Functional.Testing.EinsumOptions());
            var (xs, g) = Functional.Cli.Check.trialInputs(c.Equation, c.Shapes, c.Seed, 0).ToValueTuple();
            for (int k = 0; k < xs.Length; k++)
                Assert.Equal(c.Operands[k].ToArray(), xs[k].ToArray());
            // EinsumCheck's output gradient.
            Assert.Equal(Tensor.Random(c.Seed + 1, g.Shape).ToArray(), g.ToArray());
            Assert.Contains($"--seed {c.Seed} --trials 1", c.ReplayCommand);
        }
    }

    [Fact]
    public void Options_given_twice_and_expressions_nested_too_deeply_are_refused_in_one_line()
    {
        foreach (var args in new[]
        {
            new[] { "check", "ij,jk->ik", "--seed", "1", "--seed", "2" },
            new[] { "trace", "A+B", "--shapes", "A=2", "--shapes", "B=2" },
            new[] { "trace", "sum(" + new string('(', 3000) + "A" + new string(')', 3000) + ")", "--shapes", "A=2" },
            new[] { "trace", "sum(" + string.Join("+", Enumerable.Repeat("A", 20000)) + ")", "--shapes", "A=2" },
            new[] { "trace", "sum(" + new string('-', 5000) + "A)", "--shapes", "A=2" },
            new[] { "trace", "sum(softmax(X, 0.9))", "--shapes", "X=2x5" },
            new[] { "trace", "sum(pow(X, 1e999))", "--shapes", "X=2x5" },
        })
            Assert.Equal("", Refused(args));
        Assert.Contains("--seed", Run("check", "ij,jk->ik", "--seed", "1", "--seed", "2").Err);
        Assert.Contains("--latex is given more than once", Run("derive", "ij->i", "--latex", "--latex").Err);
        Assert.Contains("whole number", Run("trace", "sum(softmax(X, 0.9))", "--shapes", "X=2x5").Err);
    }

    [Fact]
    public void Default_shapes_give_each_label_its_own_size()
    {
        // A transposition of the first and fifth labels must change a shape.
        var (code, output, _) = Run("check", "ijklm->mlkji", "--trials", "1");
        Assert.Equal(0, code);
        Assert.Contains("2x3x4x5x6", output);
    }

    [Fact]
    public void Check_activations_gives_a_verdict()
    {
        var (code, output, _) = Run("check", "--activations");
        Assert.Equal(0, code);
        Assert.Contains("verified", output);
        Assert.DoesNotContain("MISMATCH", output);
    }

    [Fact]
    public void A_plan_names_the_operands_whose_size_1_dimensions_broadcast()
    {
        var (code, output, _) = Run("derive", "ij,jk->ik", "--plan", "--shapes", "2x1,3x4");
        Assert.Equal(0, code);
        Assert.Contains("A (2x1) has 1 size-1 dimension broadcast against larger sizes: it enters the plan as 2, and its gradient is summed back over that dimension to 2x1.", output);
        Assert.DoesNotContain("B (3x4) has", output);
        Assert.DoesNotContain("broadcast against larger sizes", Run("derive", "ij,jk->ik", "--plan", "--shapes", "2x3,3x4").Out);
    }

    [Fact]
    public void A_plan_s_reordered_ellipsis_dimensions_print_one_by_one()
    {
        var (code, output, _) = Run("derive", "...ij,...jk->...ik", "--plan", "--shapes", "2x3x4,5x2x4x6");
        Assert.Equal(0, code);
        Assert.DoesNotMatch(@"\.\.\.[a-z]+\.\.\.", output);
    }

    [Fact]
    public void Trace_names_what_is_wrong_with_an_expression()
    {
        var (code, _, err) = Run("trace", "sum(frobnicate(A))", "--shapes", "A=2x3");
        Assert.Equal(2, code);
        Assert.Contains("unknown function 'frobnicate'", err);
        var (code2, _, err2) = Run("trace", "sum(A + B)", "--shapes", "A=2x3");
        Assert.Equal(2, code2);
        Assert.Contains("'B' has no shape", err2);
        var (code3, _, err3) = Run("trace", "sum(A)", "--shapes", "A=2x3,A=3x3");
        Assert.Equal(2, code3);
        Assert.Contains("'A' is given more than once", err3);
        var (code4, _, err4) = Run("trace", "sum(A)", "--shapes", "A=2xq");
        Assert.Equal(2, code4);
        Assert.Contains("A has '2xq', which is not a shape", err4);
        // An empty shape is not read as a scalar, and an axis past 64 is named as such.
        var (code5, _, err5) = Run("trace", "sum(A*B)", "--shapes", "A=,B=2x3");
        Assert.Equal(2, code5);
        Assert.Contains("A has no shape (write A=scalar for a scalar)", err5);
        Assert.Contains("from -64 to 64", Run("trace", "sum(softmax(X, 65))", "--shapes", "X=2x5").Err);
        Assert.Contains("%", Run("trace", "sum(A*B)", "--shapes", "A=scalar,B=2x3").Out);
    }
}
