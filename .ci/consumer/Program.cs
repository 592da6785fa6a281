// A consumer of the packages, as a new C# user writes it: the README's quick start, then a TorchSharp comparison.
using Functional;
using Functional.CrossCheck;
using TorchSharp;

var a = Tensor.Random(seed: 1, 3, 4);
var b = Tensor.Random(seed: 2, 4, 2);
Tensor[] g = Autodiff.Grad(xs => xs[0].MatMul(xs[1]).Gelu().LeakyRelu(0.01).Sum(), a, b);
Tensor h = Autodiff.Hessian(x => (x * x * x).Sum(), Tensor.FromArray(new[] { 1.0, 2.0 }, 2));
Console.WriteLine($"gradient of A: {g[0]}");
Console.WriteLine($"Hessian: {h}");
Console.WriteLine(Einsum.Explain("ij,jk->ik"));
Console.WriteLine(GradientCheck.Run(xs => xs[0].Gelu(), Tensor.Random(5, 10)));
var compared = TorchSharpCheck.Compare(
    xs => xs[0].MatMul(xs[1]).Gelu().Sum(),
    ts => torch.nn.functional.gelu(torch.mm(ts[0], ts[1])).sum(),
    a, b);
Console.WriteLine($"against TorchSharp: {compared}");
var verified = TorchSharpCheck.Verify(xs => xs[0].MatMul(xs[1]).Gelu().LogSoftmax(1).Sum(), a, b);
Console.WriteLine($"replayed op by op: {verified.OperationsReplayed} operations, passed: {verified.Passed}");
return compared.Passed && verified.Passed ? 0 : 1;
