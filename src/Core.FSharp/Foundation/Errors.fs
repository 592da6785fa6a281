namespace Functional

open System

/// Raised for an einsum equation, or operands bound to it, that cannot be evaluated.
/// The message names what is wrong; the properties say where.
[<Sealed; AllowNullLiteral>]
type EinsumException(message: string, equation: string, label: Nullable<char>, operand: Nullable<int>, position: Nullable<int>) =
    // The parameter name is reported by ParamName but kept out of Message, which names the fault itself.
    inherit ArgumentException(message)
    override _.ParamName = "equation"
    /// The equation as given.
    member _.Equation = equation
    /// The offending label, if one is at fault.
    member _.Label = label
    /// The zero-based operand index at fault (the output is operand -1), if any.
    member _.Operand = operand
    /// The zero-based character position in the equation, if any.
    member _.Position = position

/// Raised when tensor shapes do not fit an operation (broadcasting, reshape, permutation, indexing).
[<Sealed; AllowNullLiteral>]
type ShapeException(message: string, paramName: string) =
    inherit ArgumentException(message, paramName)

/// Raised when a contraction's planned intermediate would exceed the configured memory limit.
[<Sealed; AllowNullLiteral>]
type MemoryLimitException(message: string, requestedBytes: int64, limitBytes: int64) =
    inherit ArgumentException(message)
    member _.RequestedBytes = requestedBytes
    member _.LimitBytes = limitBytes

/// Checks of arguments that many public functions share.
[<RequireQualifiedAccess>]
module internal Arguments =
    /// Refuses a null element of `xs` (ArgumentNullException naming `name` and the element's index).
    let noNullElements (name: string) (xs: 'a[]) =
        for i in 0 .. xs.Length - 1 do
            if isNull (box xs.[i]) then raise (ArgumentNullException(name, sprintf "Element %d of %s is null." i name))
