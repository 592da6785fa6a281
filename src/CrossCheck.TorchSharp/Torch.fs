namespace Functional.CrossCheck

open System
open TorchSharp
open Functional
open Functional.Core

/// Results of a computation under TorchSharp autograd, converted back to Functional tensors.
type TorchResult =
    { Output: Tensor
      Gradients: Tensor[] }

/// The bridge: converts tensors and runs the same computation under TorchSharp autograd in float64.
/// Every call validates shapes with Functional's own checks first (some TorchSharp errors abort the
/// process) and disposes every TorchSharp tensor it made before returning.
[<RequireQualifiedAccess>]
module Torch =

    /// A float64 TorchSharp tensor with the same shape and values.
    let toTorch (requiresGrad: bool) (t: Tensor) : torch.Tensor =
        let dims = t.ShapeArray |> Array.map int64
        if t.Numel = 0 then
            // torch.tensor rejects an empty array; an empty tensor of the right shape is the same thing.
            torch.zeros(dims, Nullable torch.ScalarType.Float64, null, requiresGrad)
        else
            let r = torch.tensor(t.Data, ReadOnlySpan<int64>(dims), Nullable torch.ScalarType.Float64, null, requiresGrad)
            // A scope of t's that ended meanwhile (on another thread) may have lent its array to another tensor.
            t.CheckLive()
            r

    /// A TorchSharp tensor's shape as ours are written; a dimension past Int32.MaxValue is refused (int would wrap it).
    let private dims (t: torch.Tensor) =
        t.shape |> Array.map (fun d ->
            if d > int64 Int32.MaxValue then
                raise (ShapeException(sprintf "The TorchSharp tensor has a dimension of %d, more than a Functional tensor can have (%d)." d Int32.MaxValue, "t"))
            int d)

    /// Whether a TorchSharp tensor has the given shape.
    let internal hasShape (shape: int[]) (t: torch.Tensor) = t.shape = (shape |> Array.map int64)

    /// A Functional tensor with the same shape and values (converted to float64 if needed).
    let ofTorch (t: torch.Tensor) : Tensor =
        // Each step makes a wrapper of its own: disposed here, not left to the finalizer outside a dispose scope.
        // A complex tensor would lose its imaginary part (LibTorch only warns); a huge view (an expand) would be
        // materialised before our shape checks refuse it.
        if t.dtype = torch.ScalarType.ComplexFloat32 || t.dtype = torch.ScalarType.ComplexFloat64 then
            invalidArg "t" (sprintf "A complex TorchSharp tensor (%O) has no float64 counterpart; take its real or imaginary part first." t.dtype)
        Limits.check (fun () -> sprintf "A tensor of shape %s" (Shape.show (dims t))) (float (t.numel()))
        use detached = t.detach()
        use typed = detached.to_type(torch.ScalarType.Float64)
        use d = typed.contiguous()
        let shape = dims d
        if Shape.numel shape = 0 then Tensor.zeros shape
        else
            try Tensor.create shape (d.data<double>().ToArray())
            with :? NullReferenceException ->
                // libtorch answers some derivatives (sgn's) with a storage-less zero tensor; adding it to real zeros
                // gives a tensor whose data can be read.
                use zeros = torch.zeros(d.shape, torch.ScalarType.Float64)
                use z = zeros.add(d)
                Tensor.create shape (z.data<double>().ToArray())

    /// TorchSharp answers an unused input's gradient with null or an empty handle.
    let private present (t: torch.Tensor) = not (isNull t) && not t.IsInvalid

    let internal gradOrZero (shape: int[]) (t: torch.Tensor) =
        if present t then ofTorch t
        else
            // An empty-handle wrapper still counts as a live tensor until it is disposed.
            if not (isNull t) then t.Dispose()
            Tensor.zeros shape

    /// Runs `f` inside a TorchSharp dispose scope; nothing TorchSharp allocates survives the call.
    let scoped (f: unit -> 'a) : 'a =
        use _scope = torch.NewDisposeScope()
        f ()

    /// LibTorch read a Scalar whose memory was freed: its type tag is garbage ("Unknown scalar type") or fails an
    /// accessor's check (`toDouble` in c10/core/Scalar.h: "Expected false to be true").
    let private readFreedScalar (e: Runtime.InteropServices.ExternalException) =
        e.Message.StartsWith("Unknown scalar type", StringComparison.Ordinal)
        || e.Message.Contains("/c10/core/Scalar.h", StringComparison.Ordinal)

    /// `scoped` for a computation that makes everything it uses (its leaves included), run once more if LibTorch
    /// reports reading a freed Scalar. TorchSharp 0.107 hands LibTorch the handle of a temporary Scalar made from
    /// a number (`linalg.vector_norm`'s order, `Tensor * double`, `leaky_relu`'s slope, the implicit alpha of
    /// `Tensor + Tensor`) without keeping the Scalar alive, so a collection in that window lets its finalizer free
    /// it while LibTorch reads it. A genuine error in Scalar.h fails the second run as well.
    let scopedRetryingFreedScalar (f: unit -> 'a) : 'a =
        try scoped f
        with :? Runtime.InteropServices.ExternalException as e when readFreedScalar e ->
            scoped f

    /// Validates an einsum and its output gradient with Functional's own checks, before TorchSharp sees them.
    let private checkEinsum (equation: string) (operands: Tensor[]) (outGrad: Tensor) =
        let b = Einsum.bind equation (operands |> Array.map (fun x -> x.ShapeArray))
        if outGrad.ShapeArray <> b.OutputShape then
            raise (ShapeException(sprintf "The output gradient has shape %s; the output has shape %s." (Shape.show outGrad.ShapeArray) (Shape.show b.OutputShape), "outGrad"))

    /// Second order through create_graph: with g = ∂⟨C, G⟩/∂X_k, returns the gradient of ⟨g, V⟩ with
    /// respect to every operand (the gradient of a derived gradient).
    let einsumSecondOrder (equation: string) (operands: Tensor[]) (outGrad: Tensor) (k: int) (v: Tensor) : Tensor[] =
        checkEinsum equation operands outGrad
        if k < 0 || k >= operands.Length then
            raise (ArgumentOutOfRangeException("k", k.ToString(Globalization.CultureInfo.InvariantCulture), sprintf "There are %d operands; k must be 0 to %d." operands.Length (operands.Length - 1)))
        if v.ShapeArray <> operands.[k].ShapeArray then
            raise (ShapeException(sprintf "The direction has shape %s; operand %d has shape %s." (Shape.show v.ShapeArray) k (Shape.show operands.[k].ShapeArray), "v"))
        scopedRetryingFreedScalar (fun () ->
            let xs = operands |> Array.map (toTorch true)
            let y = torch.einsum(equation, xs)
            let g = torch.autograd.grad([| y |], [| xs.[k] |], [| toTorch false outGrad |], true, true, true).[0]
            if not (present g) || not g.requires_grad then operands |> Array.map (fun x -> Tensor.zeros x.ShapeArray)
            else
                let l2 = (g * toTorch false v).sum()
                l2.backward()
                Array.init xs.Length (fun i -> gradOrZero operands.[i].ShapeArray xs.[i].grad))

    /// A generic computation under autograd: `f` maps TorchSharp leaves to a TorchSharp result; returns
    /// the result and the gradients of ⟨result, outGrad⟩ (outGrad = ones when not given).
    let valueAndGrad (f: torch.Tensor[] -> torch.Tensor) (inputs: Tensor[]) (outGrad: Tensor option) : TorchResult =
        scopedRetryingFreedScalar (fun () ->
            let xs = inputs |> Array.map (toTorch true)
            // f gets an array of its own: the gradients are read from these leaves after it returns.
            let y = f (Array.copy xs)
            // LibTorch's backward refuses an output gradient of another shape with its own error (or aborts).
            match outGrad with
            | Some g when g.ShapeArray <> dims y ->
                raise (ShapeException(sprintf "The output gradient has shape %s; the function's result has shape %s." (Shape.show g.ShapeArray) (Shape.show (dims y)), "outGrad"))
            | _ -> ()
            let go = match outGrad with Some g -> toTorch false g | None -> torch.ones_like(y)
            // backward fills the leaves' .grad (null when unused); autograd.grad's empty-handle answers
            // for unused inputs would stay counted as live tensors. A result that uses no input has no graph:
            // every gradient is zero, and backward would refuse it.
            if y.requires_grad then y.backward([| go |])
            { Output = ofTorch y
              Gradients = Array.init xs.Length (fun i -> gradOrZero inputs.[i].ShapeArray xs.[i].grad) })

    /// Einsum forward and the gradient of every operand for the output gradient `outGrad`.
    let einsum (equation: string) (operands: Tensor[]) (outGrad: Tensor) : TorchResult =
        checkEinsum equation operands outGrad
        valueAndGrad (fun xs -> torch.einsum(equation, xs)) operands (Some outGrad)

    /// Everything the op properties compare, computed by TorchSharp autograd for f at inputs:
    /// the value, the VJP for adjoint v, the JVP along us (by differentiating the VJP with respect to v),
    /// and the gradient of ⟨VJP(v), ws⟩ with respect to the inputs (second order, create_graph).
    let derivatives (f: torch.Tensor[] -> torch.Tensor) (inputs: Tensor[]) (v: Tensor) (us: Tensor[]) (ws: Tensor[]) =
        // One direction per input, shaped as it: LibTorch would index past them or refuse them with its own error.
        for name, dirs in [ "us", us; "ws", ws ] do
            if isNull dirs || dirs.Length <> inputs.Length then
                invalidArg name (sprintf "%s needs one direction per input (%d)." name inputs.Length)
            dirs |> Array.iteri (fun k d ->
                if d.ShapeArray <> inputs.[k].ShapeArray then
                    raise (ShapeException(sprintf "%s[%d] has shape %s; input %d has shape %s." name k (Shape.show d.ShapeArray) k (Shape.show inputs.[k].ShapeArray), name)))
        scopedRetryingFreedScalar (fun () ->
            let xs = inputs |> Array.map (toTorch true)
            let y = f (Array.copy xs)
            if dims y <> v.ShapeArray then
                raise (ShapeException(sprintf "The adjoint v has shape %s; the function's result has shape %s." (Shape.show v.ShapeArray) (Shape.show (dims y)), "v"))
            if not y.requires_grad then
                // A result that uses no input has no graph (autograd.grad refuses it): every derivative is zero.
                {| Output = ofTorch y
                   Vjp = inputs |> Array.map (fun x -> Tensor.zeros x.ShapeArray)
                   Jvp = Tensor.zeros v.ShapeArray
                   SecondOrder = inputs |> Array.map (fun x -> Tensor.zeros x.ShapeArray) |}
            else
            let vt = toTorch true v
            let gs = torch.autograd.grad([| y |], xs, [| vt |], true, true, true)
            let live = [| 0 .. xs.Length - 1 |] |> Array.filter (fun k -> present gs.[k])
            let inner (dirs: Tensor[]) =
                live |> Array.map (fun k -> (gs.[k] * toTorch false dirs.[k]).sum()) |> Array.fold (fun (acc: torch.Tensor) t -> if isNull acc then t else acc + t) null
            let jvp =
                let s = inner us
                if isNull s || not s.requires_grad then Tensor.zeros (v.ShapeArray)
                else gradOrZero v.ShapeArray (torch.autograd.grad([| s |], [| vt |], null, true, false, true).[0])
            let second =
                let s = inner ws
                if isNull s || not s.requires_grad then inputs |> Array.map (fun x -> Tensor.zeros x.ShapeArray)
                else
                    let g2 = torch.autograd.grad([| s |], xs, null, true, false, true)
                    Array.init xs.Length (fun k -> gradOrZero inputs.[k].ShapeArray g2.[k])
            {| Output = ofTorch y
               Vjp = Array.init xs.Length (fun k -> gradOrZero inputs.[k].ShapeArray gs.[k])
               Jvp = jvp
               SecondOrder = second |})

    /// The TorchSharp mode of the gradient checker: ours (f through Functional's transforms) against
    /// TorchSharp autograd (g, the same function written with TorchSharp), value and every gradient, with
    /// |ours − theirs| ≤ atol + rtol·|theirs| required element by element. The gradients are of ⟨f(x), w⟩ with a
    /// fixed projection w, as GradCheck's (−½ for a one-element result, divided out again in the report).
    let compare (rtol: float) (atol: float) (f: Value[] -> Value) (g: torch.Tensor[] -> torch.Tensor) (inputs: Tensor[]) : GradCheckReport =
        // A NaN tolerance would pass every comparison (NaN > 0 is false), as in GradCheck.runWith.
        if not (atol >= 0.0) then invalidArg "atol" "The absolute tolerance must be zero or positive."
        if not (rtol >= 0.0) then invalidArg "rtol" "The relative tolerance must be zero or positive."
        let y0 = f (inputs |> Array.map Value.constant)
        let w = GradCheck.projection y0
        let ours = Autodiff.gradMany (f >> GradCheck.projected w) (inputs |> Array.map Value.constant)
        // TorchSharp's result must have ours's shape before its backward meets the projection shaped as ours.
        let shaped (xs: torch.Tensor[]) =
            let y = g xs
            if isNull y then invalidArg "g" "The TorchSharp function returned null."
            if dims y <> y0.Tensor.ShapeArray then
                raise (ShapeException(sprintf "Functional's result has shape %s; TorchSharp's has shape %s." (Shape.show y0.Tensor.ShapeArray) (Shape.show (dims y)), "g"))
            y
        let theirs = valueAndGrad shaped inputs (Some w)
        if theirs.Output.ShapeArray <> y0.Tensor.ShapeArray then
            raise (ShapeException(sprintf "Functional's result has shape %s; TorchSharp's has shape %s." (Shape.show y0.Tensor.ShapeArray) (Shape.show theirs.Output.ShapeArray), "g"))
        let report = GradCheckBuilder(atol, rtol)
        report.Require(Tensor.allClose rtol atol y0.Tensor theirs.Output, Tensor.maxAbsDiff y0.Tensor theirs.Output)
        let u = GradCheck.unprojection w
        for k in 0 .. inputs.Length - 1 do
            let a = ours.[k].Tensor.ToArray()
            let b = theirs.Gradients.[k].ToArray()
            for e in 0 .. a.Length - 1 do report.Add(k, e, u * a.[e], u * b.[e])
        report.Report()

    /// Matrix product with shapes checked before TorchSharp sees them (its matmul aborts the process on a mismatch).
    let matmul (a: torch.Tensor) (b: torch.Tensor) =
        let sa = a.shape
        let sb = b.shape
        if sa.Length < 1 || sb.Length < 1 then invalidArg "a" "matmul needs tensors of rank 1 or more."
        let ka = sa.[sa.Length - 1]
        let kb = if sb.Length = 1 then sb.[0] else sb.[sb.Length - 2]
        if ka <> kb then
            raise (ShapeException(sprintf "matmul: inner dimensions differ (%d and %d) for shapes [%s] and [%s]." ka kb (String.Join(", ", sa)) (String.Join(", ", sb)), "b"))
        // The batch dimensions (all but the last two of each) must broadcast: LibTorch's own error otherwise.
        let batch (t: torch.Tensor) = let s = dims t in if s.Length <= 2 then [||] else s.[.. s.Length - 3]
        let ba, bb = batch a, batch b
        try Shape.broadcastAs "b" ba bb |> ignore
        with :? ShapeException ->
            raise (ShapeException(sprintf "matmul: batch dimensions %s and %s do not broadcast." (Shape.show ba) (Shape.show bb), "b"))
        torch.matmul(a, b)
