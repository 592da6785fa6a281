namespace Functional.Core

open System

/// A whole equation's derivation.
type EinsumDerivation =
    { Spec: EinsumSpec
      /// The symbolic contraction ('...' as one pseudo-label).
      Contraction: Contraction
      Operands: OperandDerivation[] }

/// Einsum on raw tensors: evaluation, derived gradients, plans and explanations.
[<RequireQualifiedAccess>]
module Einsum =

    /// Parsed equations and bound contractions are immutable, so they are cached (per process, bounded):
    /// small tensors should not pay for parsing on every call.
    let private cacheLimit = 4096
    let private specs = Collections.Concurrent.ConcurrentDictionary<string, EinsumSpec>()

    /// The key of a bound equation: the equation and the operand shapes, compared by value. (A string key
    /// built on every call cost more than the binding saved on small tensors.)
    [<Sealed; AllowNullLiteral>]
    type private BindKey(equation: string, shapes: int[][]) =
        let hash =
            let mutable h = equation.GetHashCode()
            for s in shapes do
                h <- h * 31 + s.Length
                for d in s do h <- h * 31 + d
            h
        member _.Equation = equation
        member _.Shapes = shapes
        override _.GetHashCode() = hash
        override _.Equals(o) =
            match o with
            | :? BindKey as k when k.GetHashCode() = hash && k.Shapes.Length = shapes.Length && String.Equals(k.Equation, equation) ->
                let mutable same = true
                for i in 0 .. shapes.Length - 1 do
                    if same && not (Shape.same k.Shapes.[i] shapes.[i]) then same <- false
                same
            | _ -> false

    let private bound = Collections.Concurrent.ConcurrentDictionary<BindKey, BoundEinsum>()

    let private remember (cache: Collections.Concurrent.ConcurrentDictionary<'k, 'v>) (key: 'k) (make: unit -> 'v) =
        match cache.TryGetValue key with
        | true, v -> v
        | _ ->
            let v = make ()
            if cache.Count >= cacheLimit then cache.Clear()
            cache.[key] <- v
            v

    let parse (equation: string) =
        if isNull equation then nullArg "equation"
        remember specs equation (fun () -> EinsumSpec.parse equation)

    /// Binds an equation to operand shapes (a fresh value the caller may keep).
    let bind (equation: string) (shapes: int[][]) = Contraction.bind (parse equation) shapes

    /// The same, shared from the cache: internal callers never mutate it.
    let internal bindCached (equation: string) (shapes: int[][]) =
        if isNull equation then nullArg "equation"
        match bound.TryGetValue(BindKey(equation, shapes)) with
        | true, b -> b
        | _ ->
            // The cache keeps copies: the caller's arrays are not ours to hold.
            let shapes = shapes |> Array.map Array.copy
            remember bound (BindKey(equation, shapes)) (fun () -> Contraction.bind (parse equation) shapes)

    let internal squeezeWith (reshape: int[] -> 'a -> 'a) (shapeOf: 'a -> int[]) (b: BoundEinsum) (xs: 'a[]) =
        xs |> Array.mapi (fun k x -> if Shape.same (shapeOf x) b.SqueezedShapes.[k] then x else reshape b.SqueezedShapes.[k] x)

    let internal squeeze (b: BoundEinsum) (xs: Tensor[]) =
        squeezeWith (fun shape (x: Tensor) ->
            let r = Tensor.wrap shape x.Data
            x.CheckLive()
            r) (fun x -> x.ShapeArray) b xs

    let internal shapesOf (xs: Tensor[]) =
        if isNull xs then nullArg "operands"
        xs |> Array.mapi (fun k x -> if isNull (box x) then nullArg (sprintf "operands[%d]" k) else x.ShapeArray)

    /// Evaluates an einsum equation (NumPy/torch semantics).
    let contract (equation: string) (operands: Tensor[]) =
        let b = bindCached equation (shapesOf operands)
        Tensor.outermost (fun () -> Engine.contract b.Contraction (squeeze b operands))

    /// The gradient of every operand for a given output gradient, each through its derived contraction.
    let gradients (equation: string) (operands: Tensor[]) (outputGradient: Tensor) =
        if isNull (box outputGradient) then nullArg "outputGradient"
        let b = bindCached equation (shapesOf operands)
        if not (Shape.same outputGradient.ShapeArray b.OutputShape) then
            raise (Functional.ShapeException(sprintf "The output gradient has shape %s; the output has shape %s." (Shape.show outputGradient.ShapeArray) (Shape.show b.OutputShape), "outputGradient"))
        let sq = squeeze b operands
        Array.init operands.Length (fun k ->
            let g = Contraction.gradient b.Contraction k
            let r = Engine.contract g (Array.append [| outputGradient |] (Array.removeAt k sq))
            // As in reshape: a scope of r's that ended meanwhile (on another thread) may have pooled its array.
            let w = Tensor.wrap b.InputShapes.[k] r.Data
            r.CheckLive()
            w)

    /// The contraction plan for operands of the given shapes.
    let plan (equation: string) (shapes: int[][]) = Engine.plan (bind equation shapes).Contraction

    /// The structured derivation of every operand's gradient.
    let derive (equation: string) : EinsumDerivation =
        let spec = parse equation
        let c = Contraction.symbolic spec
        { Spec = spec; Contraction = c; Operands = Derivation.derive c }

    /// A readable derivation in the seed's notation, one block per operand.
    let explain (equation: string) =
        let d = derive equation
        let head =
            [ sprintf "Einsum %s" (EinsumSpec.normalised d.Spec)
              "  " + Explain.forward d.Contraction
              "" ]
        String.Join(Environment.NewLine, head @ [ for o in d.Operands -> Explain.operandText d.Contraction o + Environment.NewLine ])

    /// The gradient formulas as LaTeX, one line per operand.
    let explainLatex (equation: string) =
        let d = derive equation
        String.Join(Environment.NewLine, d.Operands |> Array.map (Explain.gradientFormulaTex d.Contraction))
