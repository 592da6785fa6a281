/// `functional trace`: an expression over the library's ops, its forward program and its derived gradient program.
module Functional.Cli.Trace

open System
open System.Globalization
open Functional

/// The expression syntax: numbers, variables (given shapes with --shapes), + - * / with the usual precedence,
/// unary minus, parentheses, and calls of the functions in `functions`; an einsum's equation is a quoted string.
type Expr =
    | Number of double
    | Variable of string
    | Text of string
    | Negate of Expr
    | Binary of char * Expr * Expr
    | Call of string * Expr list

/// The functions an expression may call, with what they take.
let functions =
    [ "sum", "sum(x)"; "mean", "mean(x)"; "exp", "exp(x)"; "log", "log(x)"; "sqrt", "sqrt(x)"; "tanh", "tanh(x)"
      "sigmoid", "sigmoid(x)"; "relu", "relu(x)"; "gelu", "gelu(x)"; "gelu_tanh", "gelu_tanh(x)"; "softplus", "softplus(x)"
      "leaky_relu", "leaky_relu(x, alpha)"; "pow", "pow(x, p)"; "softmax", "softmax(x, axis)"; "log_softmax", "log_softmax(x, axis)"
      "matmul", "matmul(a, b)"; "transpose", "transpose(x)"; "einsum", "einsum('ij,jk->ik', a, b, ...)" ]

/// How deeply an expression may nest (parentheses, calls, unary minus, chains of operators).
let maxDepth = 500

let private fail (text: string) (at: int) (what: string) =
    raise (ArgumentException(sprintf "trace: %s at position %d of \"%s\" (functions: %s)" what at text (String.Join(", ", functions |> List.map snd))))

/// Parses an expression (recursive descent: recursion over the expression's nesting, which the user wrote).
let parse (text: string) : Expr =
    let mutable i = 0
    // Nesting is recursion here and in `compile`: bounded, so that no expression can exhaust the stack.
    let mutable depth = 0
    let nest (at: int) (parse: unit -> Expr) =
        depth <- depth + 1
        if depth > maxDepth then fail text at (sprintf "nesting deeper than %d levels" maxDepth)
        let e = parse ()
        depth <- depth - 1
        e
    let skip () = while i < text.Length && Char.IsWhiteSpace text.[i] do i <- i + 1
    let peek () = skip (); if i < text.Length then text.[i] else '\000'
    let expect (c: char) = if peek () = c then i <- i + 1 else fail text i (sprintf "expected '%c'" c)
    /// One precedence level: operands from `next`, joined left to right by any of `ops`.
    let rec level (ops: char list) (next: unit -> Expr) =
        let mutable left = next ()
        while List.contains (peek ()) ops do
            let op = text.[i]
            i <- i + 1
            left <- Binary(op, left, next ())
        left
    and expr () = level [ '+'; '-' ] term
    and term () = level [ '*'; '/' ] unary
    and unary () = if peek () = '-' then (i <- i + 1; nest i (fun () -> Negate(unary ()))) else primary ()
    and primary () =
        let c = peek ()
        if c = '(' then
            i <- i + 1
            let e = nest i expr
            expect ')'
            e
        elif c = '\'' || c = '"' then
            let close = text.IndexOf(c, i + 1)
            if close < 0 then fail text i "unterminated string"
            let s = text.Substring(i + 1, close - i - 1)
            i <- close + 1
            Text s
        elif Char.IsDigit c || c = '.' then
            let start = i
            while i < text.Length && (Char.IsDigit text.[i] || text.[i] = '.' || text.[i] = 'e' || text.[i] = 'E'
                                      || ((text.[i] = '-' || text.[i] = '+') && i > start && (text.[i - 1] = 'e' || text.[i - 1] = 'E'))) do
                i <- i + 1
            match Double.TryParse(text.Substring(start, i - start), NumberStyles.Float, CultureInfo.InvariantCulture) with
            | true, v when Double.IsFinite v -> Number v
            | true, _ -> fail text start "a number beyond the double range"
            | _ -> fail text start "not a number"
        elif Char.IsLetter c || c = '_' then
            let start = i
            while i < text.Length && (Char.IsLetterOrDigit text.[i] || text.[i] = '_') do i <- i + 1
            let name = text.Substring(start, i - start)
            if peek () = '(' then
                i <- i + 1
                let args = ResizeArray<Expr>()
                if peek () <> ')' then
                    args.Add(nest i expr)
                    while peek () = ',' do
                        i <- i + 1
                        args.Add(nest i expr)
                expect ')'
                if not (functions |> List.exists (fun (f, _) -> f = name)) then fail text start (sprintf "unknown function '%s'" name)
                Call(name, List.ofSeq args)
            else Variable name
        else fail text i (if c = '\000' then "unexpected end" else sprintf "unexpected '%c'" c)
    let e = expr ()
    if peek () <> '\000' then fail text i (sprintf "unexpected '%c'" text.[i])
    // A long chain such as A+A+…+A nests to the left: its depth, measured without recursion, is bounded too.
    let stack = Collections.Generic.Stack<struct (Expr * int)>([ struct (e, 1) ])
    while stack.Count > 0 do
        let struct (x, d) = stack.Pop()
        if d > maxDepth then fail text 0 (sprintf "an expression nested deeper than %d levels (a chain of that many operators)" maxDepth)
        match x with
        | Negate a -> stack.Push(struct (a, d + 1))
        | Binary (_, a, b) -> stack.Push(struct (a, d + 1)); stack.Push(struct (b, d + 1))
        | Call (_, args) -> for a in args do stack.Push(struct (a, d + 1))
        | _ -> ()
    e

/// The expression as a function of the variables, in the order `names` gives them.
let compile (text: string) (names: string[]) (e: Expr) : Func<Tensor[], Tensor> =
    let index (name: string) =
        match Array.tryFindIndex ((=) name) names with
        | Some k -> k
        | None -> raise (ArgumentException(sprintf "trace: the variable '%s' has no shape; give it with --shapes %s=2x3" name name))
    let number (e: Expr) =
        match e with
        | Number v -> v
        | Negate (Number v) -> -v
        | _ -> raise (ArgumentException(sprintf "trace: expected a number in \"%s\"" text))
    let axis (f: string) (e: Expr) =
        let v = number e
        if v <> Math.Round v || abs v > 64.0 then raise (ArgumentException(sprintf "trace: %s's axis must be a whole number from -64 to 64 (a negative one counts from the end); got %s" f (v.ToString("R", CultureInfo.InvariantCulture))))
        int v
    let rec eval (xs: Tensor[]) (e: Expr) : Tensor =
        match e with
        | Number v -> Tensor.Scalar v
        | Variable name -> xs.[index name]
        | Text s -> raise (ArgumentException(sprintf "trace: the string '%s' is not a value (only einsum takes one)" s))
        | Negate a -> -(eval xs a)
        | Binary ('+', a, b) -> eval xs a + eval xs b
        | Binary ('-', a, b) -> eval xs a - eval xs b
        | Binary ('*', a, b) -> eval xs a * eval xs b
        | Binary (_, a, b) -> eval xs a / eval xs b
        | Call (f, args) ->
            let one () =
                match args with
                | [ a ] -> eval xs a
                | _ -> raise (ArgumentException(sprintf "trace: %s takes one argument" f))
            let two () =
                match args with
                | [ a; b ] -> eval xs a, b
                | _ -> raise (ArgumentException(sprintf "trace: %s takes two arguments" f))
            match f with
            | "sum" -> (one ()).Sum()
            | "mean" -> (one ()).Mean()
            | "exp" -> (one ()).Exp()
            | "log" -> (one ()).Log()
            | "sqrt" -> (one ()).Sqrt()
            | "tanh" -> (one ()).Tanh()
            | "sigmoid" -> (one ()).Sigmoid()
            | "relu" -> (one ()).Relu()
            | "gelu" -> (one ()).Gelu()
            | "gelu_tanh" -> (one ()).Gelu(GeluApproximation.Tanh)
            | "softplus" -> (one ()).Softplus()
            | "transpose" -> (one ()).Transpose()
            | "leaky_relu" -> let x, a = two () in x.LeakyRelu(number a)
            | "pow" -> let x, p = two () in x.Pow(number p)
            | "softmax" -> let x, a = two () in x.Softmax(axis f a)
            | "log_softmax" -> let x, a = two () in x.LogSoftmax(axis f a)
            | "matmul" -> let x, b = two () in x.MatMul(eval xs b)
            | _ ->
                match args with
                | Text equation :: operands -> Einsum.Contract(equation, operands |> List.map (eval xs) |> Array.ofList)
                | _ -> raise (ArgumentException("trace: einsum takes a quoted equation first, e.g. einsum('ij,jk->ik', A, B)"))
    Func<Tensor[], Tensor>(fun xs -> eval xs e)

/// Parses "A=2x3,B=3x4" into names and shapes (a scalar variable: A=scalar).
let variables (text: string) =
    let vars =
        text.Split(',', StringSplitOptions.RemoveEmptyEntries)
        |> Array.map (fun part ->
            match part.Split('=') with
            | [| name; shape |] when name.Trim() <> "" ->
                // An empty shape would parse as a scalar; a scalar is written so.
                if shape.Trim() = "" then raise (ArgumentException(sprintf "--shapes: %s has no shape (write %s=scalar for a scalar)" (name.Trim()) (name.Trim())))
                let s = try (Shapes.parse shape).[0] with :? ArgumentException -> raise (ArgumentException(sprintf "--shapes: %s has '%s', which is not a shape (e.g. A=2x3)" (name.Trim()) (shape.Trim())))
                name.Trim(), s
            | _ -> raise (ArgumentException(sprintf "--shapes: '%s' is not NAME=SHAPE (e.g. A=2x3,B=3x4)" part)))
    // A name given twice would leave the expression's variable ambiguous.
    match vars |> Array.countBy fst |> Array.tryFind (fun (_, n) -> n > 1) with
    | Some (name, _) -> raise (ArgumentException(sprintf "--shapes: '%s' is given more than once" name))
    | None -> vars

/// The most elements a variable may have in `trace` (80 MB of doubles).
let maxElements = 1e7

/// Prints the forward and gradient program of the expression at random inputs of the given shapes.
let run (expression: string) (shapes: string) =
    let vars = variables shapes
    // The program is recorded from a run on random values: shapes of billions of elements would take minutes and
    // tens of GB to print what small ones print the same way.
    for name, s in vars do
        let elements = s |> Array.fold (fun n d -> n * float d) 1.0
        if elements > maxElements then
            raise (ArgumentException(sprintf "--shapes: %s has %.0f elements; trace runs the expression once to record it, so give shapes of at most %.0f elements" name elements maxElements))
    let f = compile expression (vars |> Array.map fst) (parse expression)
    let inputs = vars |> Array.mapi (fun k (_, s) -> Tensor.Random(k + 1, s))
    let program =
        try Autodiff.TraceGradient(f, inputs)
        with :? MemoryLimitException as e ->
            raise (ArgumentException(sprintf "--shapes: a value of the expression at these shapes needs %d bytes, more than the %d a tensor may take; give smaller shapes" e.RequestedBytes e.LimitBytes))
    printfn "# %s with %s" expression (String.Join(", ", vars |> Array.mapi (fun k (n, _) -> sprintf "%s = %%x%d" n k)))
    printfn "%O" program
    0
