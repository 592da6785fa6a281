using TorchSharp;
using static TorchSharp.torch;
using Core = Functional.Core;
using Torch = Functional.CrossCheck.Torch;

namespace Functional.Benchmarks;

/// <summary>The measured workloads, ours and TorchSharp's, shared by BenchmarkDotNet classes and the quick mode.</summary>
public static class Workloads
{
    /// <summary>Ours: C = A·B, then the pullback of G (∇A = G·Bᵀ, ∇B = Aᵀ·G).</summary>
    public static Core.Value[] MatMulForwardBackward(Core.Tensor a, Core.Tensor b, Core.Tensor g)
    {
        var r = Core.Autodiff.vjpMany(
            Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value[], Core.Value>(xs => Core.Linear.matmul(xs[0], xs[1])),
            new[] { Core.ValueModule.constant(a), Core.ValueModule.constant(b) });
        return r.Item2.Invoke(Core.ValueModule.constant(g));
    }

    /// <summary>TorchSharp: the same with autograd.</summary>
    public static void TorchMatMulForwardBackward(torch.Tensor a, torch.Tensor b, torch.Tensor g)
    {
        using var scope = torch.NewDisposeScope();
        var c = torch.mm(a, b);
        torch.autograd.grad(new[] { c }, new[] { a, b }, new[] { g });
    }

    /// <summary>Ours: the value and gradients of sum(GELU(A·B)) through the C# facade.</summary>
    public static ValueAndGradients SmallGelu(Functional.Tensor a, Functional.Tensor b) =>
        Autodiff.ValueAndGrad(xs => xs[0].MatMul(xs[1]).Gelu().Sum(), a, b);

    /// <summary>Ours, reading what TorchSharp's side reads: the value and the gradient's first element.</summary>
    public static double SmallGeluRead(Functional.Tensor a, Functional.Tensor b)
    {
        var r = SmallGelu(a, b);
        return r.Value.ToScalar() + r.Gradients[0].ValueAt(0, 0);
    }

    /// <summary>Ours in a TensorScope, as TorchSharp's runs in a dispose scope: results reuse pooled memory.</summary>
    public static double SmallGeluScoped(Functional.Tensor a, Functional.Tensor b)
    {
        using var scope = Functional.Tensor.NewScope();
        var r = SmallGelu(a, b);
        return r.Value.ToScalar() + r.Gradients[0].ValueAt(0, 0);
    }

    /// <summary>TorchSharp: the same.</summary>
    public static double TorchSmallGelu(torch.Tensor a, torch.Tensor b)
    {
        using var scope = torch.NewDisposeScope();
        var y = torch.nn.functional.gelu(torch.mm(a, b)).sum();
        var gs = torch.autograd.grad(new[] { y }, new[] { a, b });
        return y.item<double>() + gs[0].data<double>()[0];
    }

    /// <summary>One training step of a two-layer perceptron, ours through the C# facade: the loss
    /// −Σ Y·logSoftmax(GELU(X·W1 + b1)·W2 + b2) / batch (Y one-hot) and its gradients in W1, b1, W2, b2.</summary>
    public static ValueAndGradients Mlp(Functional.Tensor x, Functional.Tensor y, Functional.Tensor[] parameters) =>
        Autodiff.ValueAndGrad(
            p => -(y * ((x.MatMul(p[0]) + p[1]).Gelu().MatMul(p[2]) + p[3]).LogSoftmax(1)).Sum() / x.Shape[0],
            parameters);

    /// <summary>TorchSharp: the same step with autograd.</summary>
    public static double TorchMlp(torch.Tensor x, torch.Tensor y, torch.Tensor[] parameters)
    {
        using var scope = torch.NewDisposeScope();
        var h = torch.nn.functional.gelu(torch.mm(x, parameters[0]) + parameters[1]);
        var loss = -(y * torch.nn.functional.log_softmax(torch.mm(h, parameters[2]) + parameters[3], 1)).sum() / x.shape[0];
        var gs = torch.autograd.grad(new[] { loss }, parameters);
        return loss.item<double>() + gs[0].data<double>()[0];
    }

    /// <summary>Scaled dot-product attention forward and backward, ours through the C# facade: O = softmax(Q·Kᵀ/√d)·V
    /// per batch and head (b, h, s, d), pulled back from the adjoint G (⟨O, G⟩ as the loss) to Q, K and V.</summary>
    public static ValueAndGradients Attention(Functional.Tensor g, Functional.Tensor[] qkv)
    {
        double scale = 1.0 / Math.Sqrt(qkv[0].Shape[3]);
        return Autodiff.ValueAndGrad(
            x => (Einsum.Contract("bhqk,bhkd->bhqd", (Einsum.Contract("bhqd,bhkd->bhqk", x[0], x[1]) * scale).Softmax(-1), x[2]) * g).Sum(),
            qkv);
    }

    /// <summary>TorchSharp: the same with autograd.</summary>
    public static double TorchAttention(torch.Tensor g, torch.Tensor[] qkv)
    {
        using var scope = torch.NewDisposeScope();
        double scale = 1.0 / Math.Sqrt(qkv[0].shape[3]);
        var p = torch.nn.functional.softmax(torch.einsum("bhqd,bhkd->bhqk", qkv[0], qkv[1]) * scale, -1);
        var loss = (torch.einsum("bhqk,bhkd->bhqd", p, qkv[2]) * g).sum();
        var gs = torch.autograd.grad(new[] { loss }, qkv);
        return loss.item<double>() + gs[0].data<double>()[0];
    }

    /// <summary>Ours: GELU forward and backward over a large vector; the adjoint is made once outside, as
    /// TorchSharp's is.</summary>
    public static Core.Value GeluForwardBackward(Core.Tensor x, Core.Value adjoint)
    {
        var r = Core.Autodiff.vjp(Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value, Core.Value>(Core.Activation.gelu), Core.ValueModule.constant(x));
        return r.Item2.Invoke(adjoint);
    }

    public static void TorchGeluForwardBackward(torch.Tensor x, torch.Tensor adjoint)
    {
        using var scope = torch.NewDisposeScope();
        var y = torch.nn.functional.gelu(x);
        torch.autograd.grad(new[] { y }, new[] { x }, new[] { adjoint });
    }

    /// <summary>The multi-operand einsum cases: "ij,jk,k->i (2000)" or "ab,cd,bd,ac-> (64)".</summary>
    public static (string Equation, Core.Tensor[] Operands) PlanCase(string name) =>
        name.StartsWith("ij")
            ? ("ij,jk,k->i", new[] { Core.TensorModule.random(1, new[] { 2000, 2000 }), Core.TensorModule.random(2, new[] { 2000, 2000 }), Core.TensorModule.random(3, new[] { 2000 }) })
            : ("ab,cd,bd,ac->", Enumerable.Range(0, 4).Select(i => Core.TensorModule.random(i, new[] { 64, 64 })).ToArray());

    public static torch.Tensor Leaf(Core.Tensor t, bool grad) => Torch.toTorch(grad, t).DetachFromDisposeScope();
}
