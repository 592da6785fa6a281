namespace Functional.Tests

open System
open System.Diagnostics
open System.Threading.Tasks
open Xunit
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional
open Functional.Core
open Functional.CrossCheck

/// Concurrency, determinism, resource safety of the bridge, fuzzing and non-finite values.
module HardeningTests =

    let bits (t: Tensor) = t.ToArray() |> Array.map BitConverter.DoubleToInt64Bits

    /// A graph with every kind of op: einsum, activations, softmax, broadcasting.
    let workload (seed: int) =
        let a = Tensor.random seed [| 6; 5 |]
        let b = Tensor.random (seed + 1) [| 5; 7 |]
        let c = Tensor.random (seed + 2) [| 7 |]
        let f (xs: Value[]) =
            let h = Activation.gelu (Linear.einsum "ij,jk->ik" [| xs.[0]; xs.[1] |])
            let s = Softmax.logSoftmax 1 (Arithmetic.add h xs.[2])
            Reduction.sum (Arithmetic.mul (Activation.leakyRelu 0.1 s) (Elementwise.tanh h))
        let g = Autodiff.gradMany f ([| a; b; c |] |> Array.map Value.constant)
        let hv = Autodiff.hessianVectorProduct (fun x -> f [| x; Value.constant b; Value.constant c |]) (Value.constant a) (Value.constant (Tensor.ones [| 6; 5 |]))
        Array.append (g |> Array.map (fun v -> v.Tensor)) [| hv.Tensor |]

    [<Fact>]
    let ``gradients of independent graphs on 8 threads are bit-identical to single-threaded ones`` () =
        let seeds = [| 0 .. 31 |]
        let sequential = seeds |> Array.map workload
        let parallelResults = Array.zeroCreate seeds.Length
        Parallel.For(0, seeds.Length, ParallelOptions(MaxDegreeOfParallelism = 8), fun i -> parallelResults.[i] <- workload seeds.[i]) |> ignore
        for i in 0 .. seeds.Length - 1 do
            Array.iter2 (fun (x: Tensor) y -> Assert.Equal<int64[]>(bits x, bits y)) sequential.[i] parallelResults.[i]

    [<Fact>]
    let ``many threads sharing the same immutable inputs are safe`` () =
        let a = Value.constant (Tensor.random 1 [| 64; 64 |])
        let b = Value.constant (Tensor.random 2 [| 64; 64 |])
        let reference = Autodiff.gradMany (fun xs -> Reduction.sum (Activation.gelu (Linear.matmul xs.[0] xs.[1]))) [| a; b |]
        let results = Array.zeroCreate 64
        Parallel.For(0, 64, ParallelOptions(MaxDegreeOfParallelism = 8), fun i ->
            results.[i] <- Autodiff.gradMany (fun xs -> Reduction.sum (Activation.gelu (Linear.matmul xs.[0] xs.[1]))) [| a; b |]) |> ignore
        for r in results do
            Assert.Equal<int64[]>(bits reference.[0].Tensor, bits r.[0].Tensor)
            Assert.Equal<int64[]>(bits reference.[1].Tensor, bits r.[1].Tensor)

    [<FactNeeding(Need.PackedGemm)>]
    let ``matrix products do not depend on the number of threads (bit-identical)`` () =
        for (m, k, n) in [ (200, 300, 150); (64, 513, 700); (1000, 40, 90) ] do
            // The parts split the packed kernel's work, and the library must choose that kernel here.
            Assert.True(not (Gemm.gemvApplies m k n) && Gemm.packedApplies m k n, sprintf "%A does not take the packed kernel" (m, k, n))
            let a = (Tensor.random 1 [| m; k |]).ToArray()
            let b = (Tensor.random 2 [| k; n |]).ToArray()
            let one = GemmPaths.packedWithParts 1 a b 1 m k n
            for parts in [ 2; 3; 8 ] do
                Assert.Equal<double[]>(one, GemmPaths.packedWithParts parts a b 1 m k n)
            Assert.Equal<double[]>(one, Gemm.batched a b 1 m k n)

    let liveTensors () = DisposeScopeManager.Statistics.ThreadTotalLiveCount

    /// Runs f on a fresh thread, whose TorchSharp statistics start from nothing.
    let onFreshThread (f: unit -> unit) =
        let mutable error = null
        let t = Threading.Thread(fun () -> try f () with e -> error <- e)
        t.Start()
        t.Join()
        if not (isNull error) then raise (AggregateException(error))

    [<Fact>]
    let ``after each bridge call TorchSharp's live tensor count is back to zero`` () =
        let xs = [| Tensor.random 1 [| 3; 4 |]; Tensor.random 2 [| 4; 5 |] |]
        let g = Tensor.random 3 [| 3; 5 |]
        onFreshThread (fun () ->
            let check (what: string) (call: unit -> obj) =
                call () |> ignore
                Assert.True((liveTensors () = 0L), sprintf "%s left %d live tensors" what (liveTensors ()))
            check "einsum" (fun () -> box (Torch.einsum "ij,jk->ik" xs g))
            check "einsumSecondOrder" (fun () -> box (Torch.einsumSecondOrder "ij,jk->ik" xs g 0 xs.[0]))
            check "valueAndGrad" (fun () -> box (Torch.valueAndGrad (fun ts -> torch.mm(ts.[0], ts.[1]).sum()) xs None))
            check "derivatives" (fun () -> box (Torch.derivatives (fun ts -> torch.mm(ts.[0], ts.[1])) xs g xs xs))
            check "compare" (fun () -> box (Torch.compare 1e-10 1e-12 (fun vs -> Linear.matmul vs.[0] vs.[1]) (fun ts -> torch.mm(ts.[0], ts.[1])) xs))
            check "conversion" (fun () -> box (Torch.scoped (fun () -> Torch.ofTorch (Torch.toTorch false g)))))

    /// Arbitrary equations: random terms over a small alphabet, often mutated by a stray character, with
    /// shapes that usually fit the subscripts (so that many are valid) and sometimes do not.
    type FuzzCase = { Equation: string; Shapes: int[][] }

    let fuzz =
        let letters = "abcijAB" |> Seq.toArray
        let noise = "abcijAB.,-> 1_" |> Seq.toArray
        gen {
            let! nOps = Gen.choose (1, 4)
            let term =
                gen {
                    let! n = Gen.choose (0, 4)
                    let! ls = Gen.arrayOfLength n (Gen.elements letters) |> Gen.map String
                    let! ell = Gen.frequency [ 4, Gen.constant false; 1, Gen.constant true ]
                    let! at = Gen.choose (0, ls.Length)
                    return if ell then ls.Insert(at, "...") else ls
                }
            let! terms = Gen.arrayOfLength nOps term
            let! arrow = Gen.elements [ true; false ]
            let! out = term
            let eq0 = String.Join(",", terms) + (if arrow then "->" + out else "")
            let! mutate = Gen.frequency [ 3, Gen.constant false; 1, Gen.constant true ]
            let! pos = Gen.choose (0, eq0.Length)
            let! ch = Gen.elements noise
            let eq = if mutate then eq0.Insert(pos, string ch) else eq0
            let! fit = Gen.frequency [ 4, Gen.constant true; 1, Gen.constant false ]
            let! sizes = Gen.arrayOfLength 128 (Gen.frequency [ 1, Gen.constant 0; 2, Gen.constant 1; 4, Gen.choose (2, 3) ])
            let! extra = Gen.choose (0, 2)
            let! shapesRandom = Gen.arrayOfLength nOps (Gen.choose (0, 4) |> Gen.bind (fun r -> Gen.arrayOfLength r (Gen.choose (0, 3))))
            let shapesFit =
                terms |> Array.map (fun t ->
                    let explicitDims = t.Replace("...", "") |> Seq.map (fun c -> sizes.[int c % 64]) |> Array.ofSeq
                    if t.Contains "..." then Array.append (Array.init extra (fun e -> sizes.[64 + e])) explicitDims else explicitDims)
            return { Equation = eq; Shapes = (if fit then shapesFit else shapesRandom) }
        }

    [<Fact>]
    let ``arbitrary equations and shapes give a correct result or the documented exception, never another`` () =
        let mutable valid = 0
        Check.forAll "einsum fuzzing" 4242UL 5000 (Arb.fromGen fuzz) (fun c ->
            let xs = c.Shapes |> Array.mapi (fun k s -> Tensor.random k s)
            let outcome =
                try Ok(Einsum.contract c.Equation xs)
                with
                | :? EinsumException as e -> Error e
                | e -> Check.failf "%A raised %s: %s" c (e.GetType().Name) e.Message
            match outcome with
            | Ok r ->
                valid <- valid + 1
                let b = Einsum.bind c.Equation c.Shapes
                let sq = xs |> Array.mapi (fun k x -> Tensor.reshape b.SqueezedShapes.[k] x)
                let expected = EinsumReference.contract b.Contraction sq
                if not (Tensor.allClose 1e-12 1e-12 r expected) then Check.failf "%A: wrong result" c
            | Error e -> Assert.False(String.IsNullOrWhiteSpace e.Message))
        |> ignore
        Assert.True(valid > 1000, sprintf "only %d valid equations were generated" valid)

/// Measures the whole process's working set, so it runs alone (a fresh-clone CI run once saw 288 MB otherwise).
[<Collection("process-wide state")>]
module HardeningMemoryTests =

    [<Fact>]
    let ``many bridge calls grow process memory by less than 50 MB`` () =
        // 5,000 calls here; FUNCTIONAL_SOAK=20 makes it the 100,000 of the soak run.
        let calls = 5000 * Check.soak
        let xs = [| Tensor.random 1 [| 8; 8 |]; Tensor.random 2 [| 8; 8 |] |]
        let g = Tensor.random 3 [| 8; 8 |]
        for _ in 1 .. 200 do Torch.einsum "ij,jk->ik" xs g |> ignore
        GC.Collect()
        GC.WaitForPendingFinalizers()
        let proc = Process.GetCurrentProcess()
        proc.Refresh()
        let before = proc.WorkingSet64
        let live = HardeningTests.liveTensors ()
        for _ in 1 .. calls do Torch.einsum "ij,jk->ik" xs g |> ignore
        GC.Collect()
        GC.WaitForPendingFinalizers()
        proc.Refresh()
        let grown = proc.WorkingSet64 - before
        Assert.Equal(live, HardeningTests.liveTensors ())
        Assert.True(grown < 50L * 1024L * 1024L, sprintf "%d calls grew the working set by %d bytes" calls grown)

    /// The core's public layout functions refuse bad arguments with typed exceptions: an `embed` row outside its rows
    /// cleared past the array's end (IndexOutOfRangeException), and null arrays threw NullReferenceException.
    [<Fact>]
    let ``layout and indexing functions of the core refuse bad arguments with typed exceptions`` () =
        let x = Value.constant (Tensor.ones [| 3 |])
        Assert.Equal("i", (Assert.Throws<ShapeException>(fun () -> Layout.embed 5 3 x |> ignore)).ParamName)
        Assert.Equal("i", (Assert.Throws<ShapeException>(fun () -> Layout.embed -1 3 x |> ignore)).ParamName)
        Assert.Throws<MemoryLimitException>(fun () -> Layout.embed 0 2_000_000_000 x |> ignore) |> ignore
        Assert.Equal<double[]>([| 0.0; 0.0; 0.0; 1.0; 1.0; 1.0 |], (Layout.embed 1 2 x).Tensor.ToArray())
        Assert.Equal("perm", (Assert.Throws<ArgumentNullException>(fun () -> Layout.permute null x |> ignore)).ParamName)
        Assert.Equal("xs", (Assert.Throws<ArgumentNullException>(fun () -> Layout.stack null |> ignore)).ParamName)
        Assert.Equal("xs", (Assert.Throws<ArgumentNullException>(fun () -> Layout.stack [| x; Unchecked.defaultof<Value> |] |> ignore)).ParamName)
        Assert.Equal("axes", (Assert.Throws<ArgumentNullException>(fun () -> Indexing.squeeze null x |> ignore)).ParamName)
        Assert.Equal("shape", (Assert.Throws<ArgumentNullException>(fun () -> Indexing.scatterAdd 0 [| 0 |] null x |> ignore)).ParamName)
        Assert.Throws<MemoryLimitException>(fun () -> Layout.stack (Array.create 70_000 (Value.constant (Tensor.zeros [| 65_536 |]))) |> ignore) |> ignore

    /// The core's public functions refuse what only a caller of the F# API (or of it from C#) can pass: an op whose
    /// forward or rule returns null (the value's tensor lookup looped forever), an undefined kink convention (it took
    /// the right or the midpoint's value silently), and the TorchSharp bridge's unchecked arguments (LibTorch's own
    /// errors, an index past the operands, a NaN tolerance that passed every comparison).
    [<Fact>]
    let ``the core and the bridge refuse null results, undefined conventions and unchecked arguments, typed`` () =
        let x = Value.constant (Tensor.ones [| 3 |])
        let nothing = Op.create "nothing" (fun _ -> Unchecked.defaultof<Tensor>) (fun _ _ g _ -> g) (fun _ _ _ t -> t)
        Assert.Contains("'nothing'", (Assert.Throws<ArgumentException>(fun () -> Op.apply nothing [| x |] |> ignore)).Message)
        let noRule = Op.create "noRule" (fun xs -> Tensor.scale 2.0 xs.[0]) (fun _ _ _ _ -> Unchecked.defaultof<Value>) (fun _ _ _ _ -> Unchecked.defaultof<Value>)
        Assert.Equal("vjp", (Assert.Throws<ArgumentException>(fun () -> Autodiff.grad (fun v -> Reduction.sum (Op.apply noRule [| v |])) x |> ignore)).ParamName)
        Assert.Equal("jvp", (Assert.Throws<ArgumentException>(fun () -> Autodiff.jvp (fun v -> Op.apply noRule [| v |]) x x |> ignore)).ParamName)
        let undefined = enum<KinkConvention> 7
        for f in [ (fun () -> Piecewise.abs undefined x); (fun () -> Piecewise.maximum undefined x x); (fun () -> Piecewise.maxAxes undefined [| 0 |] false x)
                   (fun () -> Piecewise.elu 1.0 undefined x); (fun () -> Activation.leakyReluWith 0.1 undefined x) ] do
            Assert.Equal("convention", (Assert.Throws<ArgumentOutOfRangeException>(fun () -> f () |> ignore)).ParamName)
        let a = Tensor.random 1 [| 2; 3 |]
        // TorchSharp's result shaped unlike ours: refused before its backward meets the projection.
        Assert.Equal("g", (Assert.Throws<ShapeException>(fun () -> Torch.compare 1e-10 1e-12 (fun v -> Layout.transpose v.[0]) (fun t -> t.[0]) [| a |] |> ignore)).ParamName)
        Assert.Equal("atol", (Assert.Throws<ArgumentException>(fun () -> Torch.compare 1e-10 nan (fun v -> v.[0]) (fun t -> t.[0]) [| a |] |> ignore)).ParamName)
        Assert.Equal("outGrad", (Assert.Throws<ShapeException>(fun () -> Torch.valueAndGrad (fun t -> t.[0]) [| a |] (Some (Tensor.ones [| 3; 2 |])) |> ignore)).ParamName)
        Assert.Equal("k", (Assert.Throws<ArgumentOutOfRangeException>(fun () -> Torch.einsumSecondOrder "ij,jk->ik" [| a; Tensor.ones [| 3; 2 |] |] (Tensor.ones [| 2; 2 |]) 2 a |> ignore)).ParamName)
        Assert.Equal("us", (Assert.Throws<ArgumentException>(fun () -> Torch.derivatives (fun t -> t.[0] * t.[1]) [| a; a |] a [| a |] [| a; a |] |> ignore)).ParamName)
        // No custom ops given as null: the built-in ops replay as themselves.
        let value, _ = Engine.run null (fun v -> Arithmetic.mul v.[0] v.[1]) "cpu" [| a; a |]
        Assert.Equal<double[]>(Tensor.toArray (Tensor.mul a a), Tensor.toArray value)

    /// Null arrays given to the core's public functions: NullReferenceException (or the wrong parameter's name, or a
    /// scalar returned unchanged by a null target) before; each is an ArgumentNullException naming its parameter.
    [<Fact>]
    let ``null arrays given to the core's functions are named`` () =
        let t = Tensor.ones [| 2; 3 |]
        let x = Value.constant t
        let named (name: string) (f: unit -> obj) = Assert.Equal(name, (Assert.Throws<ArgumentNullException>(fun () -> f () |> ignore)).ParamName)
        named "perm" (fun () -> box (Tensor.permute null t))
        named "axes" (fun () -> box (Tensor.sumAxes null false t))
        named "index" (fun () -> box (Tensor.get null t))
        named "values" (fun () -> box (Tensor.vector null))
        named "values" (fun () -> box (Tensor.create [| 2 |] null))
        named "shape" (fun () -> box (Tensor.broadcastTo null t))
        named "shape" (fun () -> box (Tensor.sumTo null (Tensor.scalar 1.0)))
        named "shape" (fun () -> box (Tensor.reshape null t))
        named "axes" (fun () -> box (Reduction.sumAxes null false x))
        named "axes" (fun () -> box (Reduction.meanAxes null false x))
        named "axes" (fun () -> box (Piecewise.maxAxes KinkConvention.Midpoint null false x))
        named "shape" (fun () -> box (Arithmetic.broadcastTo null x))
        named "shape" (fun () -> box (Arithmetic.sumTo null (Value.scalar 1.0)))
        named "shape" (fun () -> box (Layout.reshape null x))
        named "indexShape" (fun () -> box (Indexing.gather 0 [| 0 |] null x))
        named "xs" (fun () -> box (Indexing.concat 0 [| x; Unchecked.defaultof<Value> |]))
        named "xs" (fun () -> box (Indexing.stack 0 [| x; Unchecked.defaultof<Value> |]))
        named "operands" (fun () -> box (Linear.einsum "ij,jk->ik" [| x; Unchecked.defaultof<Value> |]))

    /// Contraction records built by hand: a label past `Sizes` gave IndexOutOfRangeException from the op or the
    /// engine; each fault is now an ArgumentException naming the record's part, and a valid record still works.
    [<Fact>]
    let ``hand-built contractions are checked where they enter`` () =
        let refused (part: string) (f: unit -> obj) =
            let e = Assert.ThrowsAny<ArgumentException>(fun () -> f () |> ignore)
            Assert.Equal("c", e.ParamName)
            Assert.Contains(part, e.Message)
        let past = { Inputs = [| [| 0; 1 |]; [| 1; 5 |] |]; Output = [| 0; 5 |]; Sizes = [| 2; 3 |] }
        refused "c.Inputs.[1] has label 5" (fun () -> box (Linear.contraction past))
        refused "c.Inputs.[1] has label 5" (fun () -> box (Contraction.outputShape past))
        refused "c.Inputs.[1] has label 5" (fun () -> box (Contraction.gradient past 0))
        let negative = { Inputs = [| [| -1 |] |]; Output = [||]; Sizes = [| 2 |] }
        refused "c.Inputs.[0] has label -1" (fun () -> box (Linear.contraction negative))
        let unknown = { Inputs = [| [| 0 |] |]; Output = [| 1 |]; Sizes = [| 2; -1 |] }
        refused "c.Output has label 1 (b)" (fun () -> box (Linear.contraction unknown))
        // Symbolic sizes are fine for the rule itself.
        Assert.Equal<int[]>([| 1 |], (Contraction.gradient unknown 0).Inputs.[0])
        refused "no inputs" (fun () -> box (Linear.contraction { Inputs = [||]; Output = [||]; Sizes = [||] }))
        Assert.Equal("c", (Assert.Throws<ArgumentNullException>(fun () -> Linear.contraction { past with Sizes = null } |> ignore)).ParamName)
        Assert.Equal("c", (Assert.Throws<ArgumentNullException>(fun () -> Linear.contraction { past with Inputs = [| null |] } |> ignore)).ParamName)
        let ok = { Inputs = [| [| 0; 1 |]; [| 1; 2 |] |]; Output = [| 0; 2 |]; Sizes = [| 2; 3; 4 |] }
        let a = Value.constant (Tensor.random 1 [| 2; 3 |])
        let b = Value.constant (Tensor.random 2 [| 3; 4 |])
        let y = Op.apply (Linear.contraction ok) [| a; b |]
        Assert.True(Tensor.allClose 1e-12 1e-12 (Value.tensor y) (Value.tensor (Linear.matmul a b)))

    /// Core errors name the F# function's own parameter: they said "shape", "permutation", "axes", "vs" or "t" where
    /// the functions' parameters are named otherwise.
    [<Fact>]
    let ``core errors name the parameter the F# function has`` () =
        let t = Tensor.ones [| 2; 3 |]
        let x = Value.constant t
        let named (name: string) (f: unit -> obj) = Assert.Equal(name, (Assert.ThrowsAny<ArgumentException>(fun () -> f () |> ignore)).ParamName)
        named "shape" (fun () -> box (Tensor.reshape [| 5 |] t))
        named "shape" (fun () -> box (Tensor.broadcastTo [| 3 |] t))
        named "shape" (fun () -> box (Tensor.sumTo [| 4 |] t))
        named "perm" (fun () -> box (Tensor.permute [| 0; 0 |] t))
        named "perm" (fun () -> box (Layout.permute [| 0 |] x))
        named "b" (fun () -> box (Tensor.add t (Tensor.ones [| 4 |])))
        named "b" (fun () -> box (Arithmetic.mul x (Value.constant (Tensor.ones [| 4 |]))))
        named "whenTrue" (fun () -> box (Indexing.where x (Value.constant (Tensor.ones [| 4 |])) x))
        named "whenFalse" (fun () -> box (Indexing.where x x (Value.constant (Tensor.ones [| 4 |]))))
        named "axis" (fun () -> box (Softmax.softmax 2 x))
        named "axis" (fun () -> box (Softmax.logSoftmax -3 x))
        named "v" (fun () -> box (Autodiff.jvp id x (Value.constant (Tensor.ones [| 3 |]))))
        named "indexShape" (fun () -> box (Indexing.gather 0 [| 0 |] [| -1 |] x))
        Assert.Equal("xs", (Assert.Throws<ArgumentNullException>(fun () -> GradCheck.run (fun xs -> xs.[0]) [| Unchecked.defaultof<Tensor> |] |> ignore)).ParamName)
