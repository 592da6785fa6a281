namespace Functional.Core

/// Doubles uniform in [0, 1) (53 random bits each) from a seed: SplitMix64 started at the seed's own mix, so that
/// every seed, negative ones and neighbours included, starts its own stream (System.Random(seed) gives seed −s the
/// values of s, and values linear in the seed). Drawn one at a time: no array beside the tensor being filled.
[<Sealed>]
type internal SeededUniforms(seed: int) =
    /// SplitMix64's output function: a bijection of 64-bit words that scatters nearby inputs.
    static let mix (z: uint64) =
        let z = (z ^^^ (z >>> 30)) * 0xBF58476D1CE4E5B9UL
        let z = (z ^^^ (z >>> 27)) * 0x94D049BB133111EBUL
        z ^^^ (z >>> 31)
    let mutable state = mix (uint64 (int64 seed) + 0x632BE59BD9B4E019UL)
    member _.Next() =
        state <- state + 0x9E3779B97F4A7C15UL
        float (mix state >>> 11) * (1.0 / 9007199254740992.0)
