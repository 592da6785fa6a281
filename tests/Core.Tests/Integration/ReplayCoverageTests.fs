namespace Functional.Tests

open System
open System.Collections.Generic
open System.Reflection
open TorchSharp
open Xunit
open Functional
open Functional.Core
open Functional.CrossCheck

/// Every op the library has can be replayed on TorchSharp: the public op functions are enumerated by reflection,
/// each must have a sample here, and every operation their forward, gradient and second-order programs record must
/// replay to our values. A new op function without a sample, or a new op without a replay, fails this.
module ReplayCoverageTests =

    let private opModules = [ "Activation"; "Arithmetic"; "Elementwise"; "Layout"; "Linear"; "Reduction"; "Softmax"; "Normalization"; "Losses"; "Indexing"; "Piecewise"; "Linalg" ]

    /// Op constructors, not ops: the user names what they make (as with CustomOp.Create), or it is a constant.
    let private constructors = set [ "Elementwise.unary"; "Elementwise.constantOf" ]

    let private v (seed: int) (shape: int[]) = Value.constant (Tensor.random seed shape)

    /// One sample per public op function: inputs, and a function of them that applies it.
    let private samples : IDictionary<string, Tensor[] * (Value[] -> Value)> =
        let m = Tensor.random 1 [| 3; 4 |]
        // ±0 against ±0, ties and a broadcast row, for the comparison masks.
        let signedZeros = Tensor.create [| 2; 4 |] [| -0.0; 0.0; 0.5; 0.25; 0.0; -0.0; -1.0; 2.0 |]
        let n = Tensor.random 2 [| 4; 2 |]
        let withZero = Tensor.create [| 5 |] [| -1.5; 0.0; 0.5; -7.0; 2.0 |]
        let positive = Tensor.map (fun x -> abs x + 0.5) m
        let one (t: Tensor) (f: Value -> Value) = [| t |], (fun (xs: Value[]) -> f xs.[0])
        let two (a: Tensor) (b: Tensor) (f: Value -> Value -> Value) = [| a; b |], (fun (xs: Value[]) -> f xs.[0] xs.[1])
        dict [
            "Activation.relu", one withZero Activation.relu
            "Activation.leakyReluWith", one withZero (fun x ->
                Arithmetic.add (Arithmetic.add (Activation.leakyReluWith 0.1 KinkConvention.LeftDerivative x) (Activation.leakyReluWith 0.1 KinkConvention.RightDerivative x))
                               (Activation.leakyReluWith 0.1 KinkConvention.Midpoint x))
            "Activation.leakyRelu", one withZero (Activation.leakyRelu 0.01)
            "Activation.gelu", one m Activation.gelu
            "Activation.geluTanh", one m Activation.geluTanh
            "Activation.softplus", one (Tensor.map (fun x -> 30.0 * x) m) Activation.softplus
            "Arithmetic.broadcastTo", one (Tensor.random 3 [| 4 |]) (Arithmetic.broadcastTo [| 3; 4 |])
            "Arithmetic.sumTo", one m (Arithmetic.sumTo [| 1; 4 |])
            "Arithmetic.add", two m (Tensor.random 4 [| 4 |]) Arithmetic.add
            "Arithmetic.neg", one m Arithmetic.neg
            "Arithmetic.scale", one m (Arithmetic.scale 2.5)
            "Arithmetic.sub", two m (Tensor.random 5 [| 3; 1 |]) Arithmetic.sub
            "Arithmetic.mul", two m (Tensor.random 6 [| 4 |]) Arithmetic.mul
            "Arithmetic.square", one m Arithmetic.square
            "Arithmetic.div", two m positive Arithmetic.div
            "Arithmetic.addScalar", one m (Arithmetic.addScalar 3.0)
            "Arithmetic.rsubScalar", one m (Arithmetic.rsubScalar 3.0)
            "Elementwise.exp", one m Elementwise.exp
            "Elementwise.log", one positive Elementwise.log
            "Elementwise.sqrt", one positive Elementwise.sqrt
            "Elementwise.tanh", one m Elementwise.tanh
            "Elementwise.sigmoid", one m Elementwise.sigmoid
            "Elementwise.pow", one positive (Elementwise.pow 2.5)
            "Elementwise.square", one m Elementwise.square
            "Layout.reshape", one m (Layout.reshape [| 2; 6 |])
            "Layout.permute", one (Tensor.random 7 [| 2; 3; 4 |]) (Layout.permute [| 2; 0; 1 |])
            "Layout.transpose", one m Layout.transpose
            // Two rows of x and x squared: its adjoint in a traced program is one region sum.
            "Layout.select", one m (fun x -> Arithmetic.mul (Arithmetic.add (Layout.select 1 x) (Layout.select 2 x)) (Layout.select 0 (Arithmetic.square x)))
            "Layout.embed", one (Tensor.random 8 [| 4 |]) (Layout.embed 1 3)
            "Layout.stack", two m (Tensor.random 9 [| 3; 4 |]) (fun a b -> Layout.stack [| a; b |])
            // A planned chain, a diagonal read and a row sum: their gradients hold the extended forms (a diagonal
            // write "i->ii", a broadcast "i->ij").
            "Linear.einsum", ([| m; n; Tensor.random 10 [| 2; 5 |] |], fun xs ->
                let a = Linear.einsum "ij,jk,kl->il" xs
                let d = Linear.einsum "ii->i" [| Linear.einsum "il,jl->ij" [| a; a |] |]
                Linear.einsum "i,ij->ij" [| Arithmetic.add d (Linear.einsum "ij->i" [| a |]); a |])
            "Linear.matmul", two m n Linear.matmul
            "Linear.bmm", two (Tensor.random 11 [| 2; 3; 4 |]) (Tensor.random 12 [| 2; 4; 5 |]) Linear.bmm
            "Reduction.sumAxes", one (Tensor.random 13 [| 2; 3; 4 |]) (Reduction.sumAxes [| 0; 2 |] true)
            "Reduction.sum", one m Reduction.sum
            "Reduction.meanAxes", one (Tensor.random 14 [| 2; 3; 4 |]) (Reduction.meanAxes [| 1 |] false)
            "Reduction.mean", one m Reduction.mean
            "Softmax.logSoftmax", one (Tensor.random 15 [| 2; 3; 4 |]) (Softmax.logSoftmax 1)
            "Softmax.softmax", one (Tensor.random 16 [| 2; 3; 4 |]) (Softmax.softmax 2)
            "Elementwise.reciprocal", one positive Elementwise.reciprocal
            "Elementwise.sin", one m Elementwise.sin
            "Elementwise.cos", one m Elementwise.cos
            "Elementwise.tan", one m Elementwise.tan
            "Elementwise.asin", one (Tensor.map (fun x -> tanh x * 0.9) m) Elementwise.asin
            "Elementwise.acos", one (Tensor.map (fun x -> tanh x * 0.9) m) Elementwise.acos
            "Elementwise.atan", one m Elementwise.atan
            "Elementwise.sinh", one m Elementwise.sinh
            "Elementwise.cosh", one m Elementwise.cosh
            "Elementwise.log1p", one positive Elementwise.log1p
            "Elementwise.expm1", one m Elementwise.expm1
            "Elementwise.erf", one m Elementwise.erf
            "Elementwise.erfc", one m Elementwise.erfc
            "Elementwise.sign", one (Tensor.create [| 2; 3 |] [| 0.5; -0.0; 0.0; -2.0; 1.0; -0.25 |]) (fun x -> Arithmetic.mul x (Elementwise.sign x))
            "Elementwise.greater", two signedZeros (Tensor.vector [| 0.0; -0.0; 0.5; -1.0 |]) (fun a b -> Arithmetic.mul a (Elementwise.greater a b))
            "Elementwise.greaterOrEqual", two m (Tensor.random 22 [| 4 |]) (fun a b -> Arithmetic.mul a (Elementwise.greaterOrEqual a b))
            "Elementwise.less", two m (Tensor.random 23 [| 4 |]) (fun a b -> Arithmetic.mul a (Elementwise.less a b))
            "Elementwise.lessOrEqual", two signedZeros (Tensor.vector [| 0.0; -0.0; 0.5; -1.0 |]) (fun a b -> Arithmetic.mul a (Elementwise.lessOrEqual a b))
            "Elementwise.equal", two m (Tensor.map (fun v -> if v > 0.5 then v else 0.0) m) (fun a b -> Arithmetic.mul a (Elementwise.equal a b))
            "Activation.silu", one m Activation.silu
            "Piecewise.abs", one withZero (fun x ->
                Arithmetic.add (Piecewise.abs KinkConvention.Midpoint x) (Piecewise.abs KinkConvention.RightDerivative x))
            "Piecewise.clamp", one (Tensor.create [| 5 |] [| -1.5; -0.5; 0.5; 0.25; 2.0 |]) (Piecewise.clamp KinkConvention.Midpoint -0.5 0.5)
            "Piecewise.maximum", two m (Tensor.random 17 [| 4 |]) (Piecewise.maximum KinkConvention.Midpoint)
            "Piecewise.minimum", two (Tensor.create [| 3 |] [| 1.0; 2.0; 3.0 |]) (Tensor.create [| 3 |] [| 1.0; 0.0; 4.0 |]) (Piecewise.minimum KinkConvention.LeftDerivative)
            "Piecewise.elu", one withZero (Piecewise.elu 0.7 KinkConvention.RightDerivative)
            "Normalization.layerNorm", one m (Normalization.layerNorm 1e-5)
            "Losses.huber", two m (Tensor.random 21 [| 3; 4 |]) (Losses.huber 0.5)
            "Losses.bceWithLogits", two m (Tensor.random 22 [| 3; 4 |]) Losses.bceWithLogits
            "Indexing.narrow", one m (fun x -> Arithmetic.mul (Arithmetic.add (Indexing.narrow 1 1 2 x) (Indexing.narrow 1 0 2 x)) (Indexing.narrow 1 2 2 (Arithmetic.square x)))
            "Indexing.pad", one m (Indexing.pad 0 1 5)
            "Indexing.concat", two m (Tensor.random 18 [| 2; 4 |]) (fun a b -> Indexing.concat 0 [| a; b |])
            "Indexing.stack", two m (Tensor.random 19 [| 3; 4 |]) (fun a b -> Indexing.stack 1 [| a; b |])
            "Indexing.unsqueeze", one m (Indexing.unsqueeze 1)
            "Indexing.squeeze", one (Tensor.random 20 [| 3; 1; 4 |]) (Indexing.squeeze [||])
            "Indexing.indexSelect", one m (fun x -> Arithmetic.mul (Indexing.indexSelect 1 [| 3; 0; 3 |] x) (Indexing.indexSelect 1 [| 1; 1; 2 |] x))
            "Indexing.indexAdd", one m (Indexing.indexAdd 0 [| 1; 1; 0 |] 2)
            "Indexing.flip", one m (Indexing.flip 0)
            "Indexing.gather", one m (Indexing.gather 1 [| 3; 0; 0; 1; 2; 2 |] [| 3; 2 |])
            "Indexing.scatterAdd", one (Tensor.random 24 [| 2; 3 |]) (Indexing.scatterAdd 1 [| 3; 0; 0; 1; 2; 2 |] [| 3; 4 |])
            "Indexing.where", two m (Tensor.random 21 [| 4 |]) (fun a b -> Indexing.where (Elementwise.constantOf (fun v -> if v > 0.0 then 1.0 else 0.0) a) a b)
            "Linalg.solve", two (Tensor.map (fun x -> x + 3.0) (Tensor.init [| 3; 3 |] (fun e -> if e / 3 = e % 3 then 1.0 else 0.1 * float e))) (Tensor.random 22 [| 3; 2 |]) Linalg.solve
            "Linalg.inverse", one (Tensor.init [| 3; 3 |] (fun e -> if e / 3 = e % 3 then 3.0 else 0.1 * float e)) Linalg.inverse
            "Linalg.det", one (Tensor.init [| 2; 3; 3 |] (fun e -> if (e % 9) / 3 = e % 3 then 3.0 else 0.1 * float e)) Linalg.det
            "Linalg.logAbsDet", one (Tensor.init [| 3; 3 |] (fun e -> if e / 3 = e % 3 then -3.0 else 0.1 * float e)) Linalg.logAbsDet
            "Linalg.signDet", one (Tensor.init [| 2; 3; 3 |] (fun e -> let k = e % 9 in if k / 3 = k % 3 then (if e < 9 then -3.0 else 2.0) else 0.1 * float k)) (fun a -> Arithmetic.mul (Linalg.signDet a) (Linalg.det a))
            "Piecewise.maxAxes", one (Tensor.create [| 2; 3 |] [| 1.0; 3.0; 3.0; -1.0; 0.5; 0.25 |]) (Piecewise.maxAxes KinkConvention.Midpoint [| 1 |] false)
            "Piecewise.minAxes", one (Tensor.create [| 2; 3 |] [| 1.0; 3.0; 3.0; -1.0; 0.5; -1.0 |]) (Piecewise.minAxes KinkConvention.RightDerivative [| 0; 1 |] true)
            "Linalg.solveTriangular", two (Tensor.init [| 3; 3 |] (fun e -> if e / 3 = e % 3 then 3.0 else 0.1 * float e)) (Tensor.random 23 [| 3; 2 |]) (Linalg.solveTriangular true)
            "Linalg.cholesky", one (Tensor.init [| 3; 3 |] (fun e -> if e / 3 = e % 3 then 4.0 else 0.5)) Linalg.cholesky
        ]

    /// The public functions of the op modules that make a Value.
    let private opFunctions () =
        typeof<Value>.Assembly.GetTypes()
        |> Array.filter (fun t -> t.Namespace = "Functional.Core" && opModules |> List.exists (fun m -> t.Name = m || t.Name = m + "Module"))
        |> Array.collect (fun t ->
            t.GetMethods(BindingFlags.Public ||| BindingFlags.Static ||| BindingFlags.DeclaredOnly)
            |> Array.filter (fun mi -> mi.ReturnType = typeof<Value>)
            |> Array.map (fun mi -> t.Name.Replace("Module", "") + "." + mi.Name))
        |> Array.distinct

    [<Fact>]
    let ``every public op function has a sample here`` () =
        let found = opFunctions ()
        Assert.True(found.Length >= 35, sprintf "only %d op functions found by reflection: %A" found.Length found)
        let missing = found |> Array.filter (fun name -> not (samples.ContainsKey name || constructors.Contains name))
        Assert.True(missing.Length = 0, sprintf "op functions with no replay sample (add one to ReplayCoverageTests): %s" (String.Join(", ", missing)))
        let stale = samples.Keys |> Seq.filter (fun k -> not (Array.contains k found)) |> Array.ofSeq
        Assert.True(stale.Length = 0, sprintf "samples for functions that no longer exist: %s" (String.Join(", ", stale)))

    /// The sample's forward and gradient program, and the program of the gradient of its gradient (so the VJP
    /// rules' own ops are recorded too).
    let private programs (xs: Tensor[]) (f: Value[] -> Value) =
        let scalar (vs: Value[]) = Reduction.sum (Arithmetic.mul (f vs) (Value.constant (Tensor.random 99 (f vs).Shape)))
        let first = Trace.gradient scalar xs
        let second =
            Trace.gradient (fun vs ->
                let gs = Autodiff.gradMany scalar vs
                Array.fold2 (fun acc (g: Value) (x: Tensor) -> Arithmetic.add acc (Reduction.sum (Arithmetic.mul g (Value.constant (Tensor.map (fun e -> e * 0.5 + 0.25) x))))) (Value.scalar 0.0) gs xs) xs
        [ first; second ]

    [<Fact>]
    let ``every op recorded in any sample's programs, to second order, replays on TorchSharp to our values`` () =
        let seen = SortedDictionary<string, int>()
        let failures = List<string>()
        let equations = HashSet<string>()
        for KeyValue(name, (xs, f)) in samples do
            for p in programs xs f do
                for e in p.Entries do
                    seen.[e.Op.Name] <- (match seen.TryGetValue e.Op.Name with | true, c -> c + 1 | _ -> 1)
                    if e.Op.Name = "einsum" then equations.Add(Op.showAttributes e.Op |> List.head |> snd |> fun q -> q.Trim '"') |> ignore
                    try
                        let theirs = Torch.scopedRetryingFreedScalar (fun () -> Torch.ofTorch (Engine.apply e.Op e.Output.ShapeArray (e.Inputs |> Array.map (Torch.toTorch false))))
                        if not (Tensor.allClose 1e-10 1e-12 e.Output theirs) then
                            failures.Add(sprintf "%s in %s: replay differs by %g" e.Op.Name name (Tensor.maxAbsDiff e.Output theirs))
                    with :? NotSupportedException as ex -> failures.Add(sprintf "%s in %s: %s" e.Op.Name name ex.Message)
        Assert.True(failures.Count = 0, String.Join("\n", failures |> Seq.distinct))
        // The extended einsum forms TorchSharp's einsum does not take directly were among them.
        let outputs = equations |> Seq.map (fun (q: string) -> q.Split("->")) |> Array.ofSeq
        Assert.Contains(outputs, fun s -> s.[0].Contains "…")
        Assert.Contains(outputs, fun s -> (s.[1] |> Seq.distinct |> Seq.length) < s.[1].Length)
        Assert.Contains(outputs, fun s -> s.[1] |> Seq.exists (fun c -> not (s.[0].Contains c)))
        // Every built-in op, and every derivative op the rules use, was seen.
        for op in [ "einsum"; "add"; "sub"; "mul"; "div"; "neg"; "scale"; "square"; "exp"; "log"; "sqrt"; "tanh"; "sigmoid"
                    "relu"; "leakyRelu"; "gelu"; "geluTanh"; "softplus"; "pow"; "softmax"; "logSoftmax"; "sum"
                    "broadcastTo"; "sumTo"; "reshape"; "permute"; "select"; "embed"; "stack"
                    "sigmoidScaled"; "tanhScaled"; "reciprocalScaled"; "squareScaled"; "powScaled"; "slopeScaled"; "clampScaled"
                    "geluScaled"; "geluTanhScaled"; "erfScaled"; "erfcScaled"; "atanScaled"; "asinScaled"; "acosScaled"; "tanScaled"; "sinScaled"; "cosScaled"; "sinhScaled"; "coshScaled"; "expm1Scaled"; "log1pScaled"; "siluScaled"; "eluScaled"; "softplusScaled"; "softmaxVjp"; "logSoftmaxVjp"; "layerNorm"; "layerNormVjp"; "huber"; "huberSlope"; "bceWithLogits"; "bceSlope"
                    "reciprocal"; "sin"; "cos"; "tan"; "asin"; "acos"; "atan"; "sinh"; "cosh"; "log1p"; "expm1"; "erf"; "erfc"
                    "silu"; "abs"; "clamp"; "maximum"; "minimum"; "elu"; "narrow"; "pad"; "concat"; "indexSelect"; "indexAdd"
                    "flip"; "where"; "solve"; "solveTransposed"; "solveTriangular"; "inverse"; "det"; "cofactor"; "logAbsDet"; "regionSum"; "extremumWeights"; "extremaWeights"; "eluSecondMask"; "huberClampSlope"; "signDet"; "sign"; "gt"; "ge"; "lt"; "le"; "eq"; "cholesky"; "choleskyMiddle"; "choleskyOuter"; "triangular"; "maxAxes"; "minAxes"; "gather"; "scatterAdd" ] do
            Assert.True(seen.ContainsKey op, sprintf "no sample records '%s'; seen: %s" op (String.Join(", ", seen.Keys)))

    [<Fact>]
    let ``Verify passes on every sample`` () =
        let none = Dictionary<string, torch.Tensor[] -> torch.Tensor>() :> IReadOnlyDictionary<_, _>
        for KeyValue(name, (xs, f)) in samples do
            let r = Replay.verify 1e-10 1e-12 none (fun vs -> Reduction.sum (Arithmetic.mul (f vs) (Value.constant (Tensor.random 98 (f vs).Shape)))) xs
            Assert.True(r.Passed, sprintf "%s: %s" name r.Details)

    [<Fact>]
    let ``a documented difference excuses nothing: ours is checked there against TorchSharp aligned to our rule`` () =
        // A GELU whose VJP adds 1 below −5, where TorchSharp's own GELU loses the tail, a documented difference
        // that must not excuse it. The function's own adjoint (a sum) would also hide nothing here, but a softmax
        // after it would shrink it away.
        let none = Dictionary<string, torch.Tensor[] -> torch.Tensor>() :> IReadOnlyDictionary<_, _>
        let tailMask (x: Value) = Elementwise.constantOf (fun v -> if v < -5.0 then 1.0 else 0.0) x
        let wrongGelu (x: Value) =
            Op.apply
                (Op.create "gelu" (fun ts -> (Activation.gelu (Value.constant ts.[0])).Tensor)
                    (fun xs _ g _ -> Arithmetic.mul g (Arithmetic.add (Value.constant (Tensor.map Special.geluDerivative xs.[0].Tensor)) (tailMask xs.[0])))
                    (fun xs _ _ t -> Arithmetic.mul t (Value.constant (Tensor.map Special.geluDerivative xs.[0].Tensor))))
                [| x |]
        let x = Tensor.create [| 2; 3 |] [| -7.0; 0.5; -6.0; 1.0; -0.3; 2.0 |]
        let r = Replay.verify 1e-10 1e-12 none (fun vs -> Reduction.sum (Softmax.softmax 1 (wrongGelu vs.[0]))) [| x |]
        Assert.False(r.Passed, r.Details)
        Assert.Contains("gelu", defaultArg r.FirstDivergence "")
        // The real GELU there passes, its difference from TorchSharp's own noted.
        let ok = Replay.verify 1e-10 1e-12 none (fun vs -> Reduction.sum (Softmax.softmax 1 (Activation.gelu vs.[0]))) [| x |]
        Assert.True(ok.Passed, ok.Details)
        Assert.Contains("Documented difference", ok.Details)

    /// At a singular matrix, where TorchSharp's own det backward gives 0, the replay checks our det against the
    /// cofactors from TorchSharp's SVD (a documented difference, noted), and the engine's `cofactor` op gives them too:
    /// the right rule passes, a rule that is 0 there (TorchSharp's) fails.
    [<Fact>]
    let ``det at a singular matrix replays against the cofactors, and a zero gradient there fails`` () =
        let none = Dictionary<string, torch.Tensor[] -> torch.Tensor>() :> IReadOnlyDictionary<_, _>
        // [[1, 2], [2, 4]] (det exactly 0 on both sides) beside an invertible matrix.
        let a = Tensor.create [| 2; 2; 2 |] [| 1.0; 2.0; 2.0; 4.0; 3.0; 1.0; -1.0; 2.0 |]
        let w = Value.constant (Tensor.create [| 2 |] [| 0.7; -1.3 |])
        let ok = Replay.verify 1e-10 1e-12 none (fun vs -> Reduction.sum (Arithmetic.mul (Linalg.det vs.[0]) w)) [| a |]
        Assert.True(ok.Passed, ok.Details)
        Assert.Contains("cofactor matrix", ok.Details)
        let zeroAtSingular (x: Value) =
            Op.apply
                (Op.create "det" (fun ts -> (Linalg.det (Value.constant ts.[0])).Tensor)
                    (fun xs out g _ ->
                        let c = Autodiff.grad (fun m -> Reduction.sum (Linalg.det m)) (Value.constant xs.[0].Tensor)
                        let nonzero = Tensor.map (fun d -> if d = 0.0 then 0.0 else 1.0) out.Tensor
                        Arithmetic.mul (Layout.reshape [| 2; 1; 1 |] (Arithmetic.mul g (Value.constant nonzero))) c)
                    (fun _ _ _ _ -> raise (NotSupportedException "forward mode is not used here")))
                [| x |]
        let wrong = Replay.verify 1e-10 1e-12 none (fun vs -> Reduction.sum (Arithmetic.mul (zeroAtSingular vs.[0]) w)) [| a |]
        Assert.False(wrong.Passed, wrong.Details)
        Assert.Contains("det", defaultArg wrong.FirstDivergence "")
        let _, gradients = Engine.run none (fun vs -> Reduction.sum (Arithmetic.mul (Linalg.det vs.[0]) w)) "cpu" [| a |]
        let ours = Autodiff.grad (fun m -> Reduction.sum (Arithmetic.mul (Linalg.det m) w)) (Value.constant a)
        Assert.True(Tensor.allClose 1e-12 1e-14 ours.Tensor gradients.[0], sprintf "engine %A, ours %A" (gradients.[0].ToArray()) (ours.Tensor.ToArray()))
        Assert.Equal(0.7 * 4.0, gradients.[0].ToArray().[0], 12)
        // A det that overflows (TorchSharp's gradient [NaN, NaN; NaN, ∞]) beside an invertible matrix: the replay and
        // the engine give the cofactors diag(1e200, 1e200).
        let huge = Tensor.create [| 2; 2; 2 |] [| 1e200; 0.0; 0.0; 1e200; 3.0; 1.0; -1.0; 2.0 |]
        let v = Value.constant (Tensor.create [| 2 |] [| 1e-100; 1.0 |])
        let hugeOk = Replay.verify 1e-10 1e-12 none (fun vs -> Reduction.sum (Arithmetic.mul (Elementwise.tanh (Arithmetic.scale 1e-300 (Linalg.det vs.[0]))) v)) [| huge |]
        Assert.True(hugeOk.Passed, hugeOk.Details)
        let _, gh = Engine.run none (fun vs -> Reduction.sum (Linalg.det vs.[0])) "cpu" [| huge |]
        Assert.Equal<double[]>([| 1e200; 0.0; 0.0; 1e200 |], gh.[0].ToArray().[0 .. 3])
        // Beside a matrix holding NaN (which LibTorch's SVD refuses): the singular one's cofactors, the other's NaN.
        let withNan = Tensor.create [| 2; 2; 2 |] [| 1.0; 2.0; 2.0; 4.0; nan; 1.0; -1.0; 2.0 |]
        let _, g = Engine.run none (fun vs -> Reduction.sum (Arithmetic.mul (Linalg.det vs.[0]) w)) "cpu" [| withNan |]
        Array.iter2 (fun want got -> Assert.True(abs (got - want) <= 1e-12, sprintf "%g, want %g" got want)) [| 0.7 * 4.0; 0.7 * -2.0; 0.7 * -2.0; 0.7 * 1.0 |] (g.[0].ToArray().[0 .. 3])
        Assert.True(Double.IsNaN (g.[0].ToArray().[4]))

    [<Fact>]
    let ``signs and masks replay to our values at NaN, ±0 and ties, broadcast`` () =
        let a = Tensor.create [| 2; 4 |] [| nan; -0.0; 0.0; 1.0; -2.0; nan; 0.5; -0.0 |]
        let b = Tensor.vector [| 0.0; 0.0; -0.0; nan |]
        let check (op: Value[] -> Value) (inputs: Tensor[]) =
            let program = Trace.gradient (fun vs -> Reduction.sum (op vs)) inputs
            for e in program.Entries.[.. program.ForwardCount - 2] do
                let theirs = Torch.scopedRetryingFreedScalar (fun () -> Torch.ofTorch (Engine.apply e.Op e.Output.ShapeArray (e.Inputs |> Array.map (Torch.toTorch false))))
                let same = Array.forall2 (fun (x: double) y -> x = y || (Double.IsNaN x && Double.IsNaN y)) (e.Output.ToArray()) (theirs.ToArray())
                Assert.True(same, sprintf "%s: ours %A, TorchSharp %A" e.Op.Name (e.Output.ToArray()) (theirs.ToArray()))
        for mask in [ Elementwise.greater; Elementwise.greaterOrEqual; Elementwise.less; Elementwise.lessOrEqual; Elementwise.equal ] do
            check (fun vs -> mask vs.[0] vs.[1]) [| a; b |]
        check (fun vs -> Elementwise.sign vs.[0]) [| a |]
        // A mean whose sum overflows in one row and holds ∞ in another, with its correction.
        check (fun vs -> Reduction.meanAxes [| 1 |] false vs.[0]) [| Tensor.create [| 2; 2 |] [| 1e308; 1.5e308; infinity; 1.0 |] |]
