namespace Functional.Core

open System.Collections.Generic

/// A function's forward program and its derived gradient program, recorded by running them under the tracer.
type internal RecordedProgram =
    { /// Every op applied to plain tensors, in program order.
      Entries: TraceEntry[]
      /// How many of the entries belong to the forward pass (the rest are the gradient program).
      ForwardCount: int
      Inputs: Tensor[]
      Output: Tensor
      /// The adjoint the gradient program starts from (ones shaped as the output).
      Seed: Tensor
      Gradients: Tensor[] }

[<RequireQualifiedAccess>]
module internal Trace =

    /// Runs f at xs and its reverse pass seeded with ones under the tracer (the VJP rules are ops, so the gradient
    /// program is recorded as the forward one is). Each input is given a tensor of its own (over the same elements):
    /// a program names values by tensor identity, and the same tensor passed twice, or also captured by f as a
    /// constant, would otherwise be one value.
    let gradient (f: Value[] -> Value) (xs: Tensor[]) : RecordedProgram =
        let xs = xs |> Array.map (fun x -> Tensor.reshape x.ShapeArray x)
        let entries = List<TraceEntry>()
        let previous = Tracing.current.Value
        Tracing.current.Value <- entries
        try
            let y, pullback = Autodiff.vjpMany f (xs |> Array.map Value.constant)
            // Read under the lock ops append under: a task f started may still be running one.
            let forward = lock entries (fun () -> entries.Count)
            let seed = Tensor.ones y.Tensor.Shape
            let grads = pullback (Value.constant seed) |> Array.map (fun g -> g.Tensor)
            { Entries = lock entries (fun () -> entries.ToArray())
              ForwardCount = forward
              Inputs = xs
              Output = y.Tensor
              Seed = seed
              Gradients = grads }
        finally Tracing.current.Value <- previous
