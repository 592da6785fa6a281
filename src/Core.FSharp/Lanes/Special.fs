namespace Functional.Core

open System

/// The standard normal density and distribution computed from x itself, to full double precision:
/// no 1 + erf (which loses everything in the negative tail) and no rounded x/√2 (which the tail
/// amplifies by about x²). The lower tail is Φ(x) = φ(x)·R(−x) with R the Mills ratio, which
/// satisfies R' = t·R − 1; R comes from Laplace's continued fraction beyond t = 8 and from Taylor
/// polynomials (coefficients from that ODE, correctly rounded) at anchors every 0.25 below.
[<RequireQualifiedAccess>]
module internal Special =

    /// 1/√(2π)
    let invSqrt2Pi = 0.3989422804014326779399460599343818684758586311649

    /// exp(−x²/2) with x² split exactly (hi + lo) so the rounding of x² is not amplified.
    let expHalfSquare (x: double) =
        // Beyond |x| = 40 the result underflows (e^-800); x² could overflow and make the split NaN.
        if abs x > 40.0 then 0.0 else
        let hi = x * x
        let lo = Math.FusedMultiplyAdd(x, x, -hi)
        Math.Exp(-0.5 * hi) * (1.0 - 0.5 * lo)

    /// φ(x), the standard normal density.
    let normalPdf (x: double) = invSqrt2Pi * expHalfSquare x

    /// Laplace's continued fraction R(t) = 1/(t + 1/(t + 2/(t + …))), evaluated backward. For t ≥ 8, 14 terms
    /// reach the rounding floor (measured against the tests' reference); 18 are used below 12, 12 above.
    let private millsContinued (t: double) (terms: int) =
        let mutable acc = t
        for n in terms .. -1 .. 1 do
            acc <- t + float n / acc
        1.0 / acc

    let private anchorStart = 0.5
    let private anchorStep = 0.25
    let private anchorEnd = 8.0
    let private terms = 13

    /// Taylor coefficients R^(k)(t0)/k!, k = 0..12, at t0 = 0.5, 0.75, …, 8.0, correctly rounded from a
    /// 2,200-bit computation (tools/gen-mills-anchors.fsx regenerates them). With |t − t0| ≤ 1/8,
    /// 13 terms reach the rounding floor.
    let internal coefficients =
        [|
          [| 0.8763644564536923; -0.5618177717731538; 0.2977277852835577; -0.13765129304379164; 0.05722553469041547; -0.021807705139716783; 0.00772028035342618; -0.0025639378518576704; 0.000804788928437168; -0.00024017148751545405; 6.84703184679441E-05; -1.8721484389225635E-05; 4.925798022777608E-06 |] // t0 = 0.5
          [| 0.7525711790634081; -0.43557161570244396; 0.21294623364328755; -0.09195398015665944; 0.03599518713144824; -0.012991517961614652; 0.0043752581100395425; -0.0013871534827264278; 0.0004168616247493402; -0.00011938969601826919; 3.2731935273563825E-05; -8.621885869372393E-06; 2.188793405961211E-06 |] // t0 = 0.75
          [| 0.6556795424187984; -0.34432045758120156; 0.15567954241879847; -0.06288030505413435; 0.02319980934116603; -0.007936099142593665; 0.002543951699762061; -0.000770306777547372; 0.00022170561527683612; -6.0955684696726205E-05; 1.607499305801099E-05; -4.080062876246838E-06; 9.99577515147013E-07 |] // t0 = 1
          [| 0.5784303460476311; -0.27696206744046115; 0.11611388087352732; -0.043939905449517334; 0.015297249765407661; -0.004963668648551552; 0.001515443992453037; -0.0004384805225693222; 0.00012091791740517302; -3.19259028680951E-05; 8.101053882005416E-06; -1.9817805014171215E-06; 4.6865235460283443E-07 |] // t0 = 1.25
          [| 0.5158156382179634; -0.22627654267305497; 0.08820041210419045; -0.03132530817225643; 0.010303112461451451; -0.0031741278960158506; 0.000923653436237946; -0.0002555211059512759; 6.754647216387902E-05; -1.713348863393971E-05; 4.184623921296946E-06; -9.8695934109039E-07; 2.2534874247178002E-07 |] // t0 = 1.5
          [| 0.4643069280394422; -0.1874628759309762; 0.0681234475801169; -0.022748947555257214; 0.0070781973396041925; -0.0020724204421899753; 0.0005752435942952893; -0.00015224916459617417; 3.860094453149807E-05; -9.410834629561393E-06; 2.213198392976563E-06; -5.034306765320372E-07; 1.1101622575379147E-07 |] // t0 = 1.75
          [| 0.4213692292880545; -0.15726154142389107; 0.05342307322013618; -0.01680513166120623; 0.0049532024744309315; -0.0013797453424688733; 0.0003656186315821974; -9.264401132921121E-05; 2.2541326115471873E-05; -5.284595455363052E-06; 1.1972135204745768E-06; -2.627425831285363E-07; 5.597736285145869E-08 |] // t0 = 2
          [| 0.3851482907984346; -0.1334163457035221; 0.042480756482754956; -0.012611547872441151; 0.0035261934424405906; -0.0009355225253899643; 0.0002368779600521952; -5.750673075321787E-05; 1.3435976982181871E-05; -3.030642504812074E-06; 6.617031346354704E-07; -1.4016458653475143E-07; 2.886106791102331E-08 |] // t0 = 2.25
          [| 0.35426511132979366; -0.11433722167551583; 0.03421102857050204; -0.009603216749753576; 0.0025507466740295258; -0.0006452700129359524; 0.00015626194028160742; -3.637359460456198E-05; 8.16599422127531E-06; -1.773178783485967E-06; 3.7330472625603925E-07; -7.635608798598808E-08; 1.5201208857589087E-08 |] // t0 = 2.5
          [| 0.32767831469055203; -0.09888463460098185; 0.027872784768925983; -0.007411492162145134; 0.001872795330756716; -0.00045226100051283286; 0.00010484626322440429; -2.341911094938873E-05; 5.0554635141981605E-06; -1.0573984761493097E-06; 2.147617704787559E-07; -4.243669157570281E-08; 8.171739053797762E-09 |] // t0 = 2.75
          [| 0.3045902987101033; -0.08622910386969011; 0.02295149355051648; -0.005791541072713559; 0.0013942175830939504; -0.0003217776646863415; 7.148076483915433E-05; -1.533362430983979E-05; 3.1849864887043694E-06; -6.420738715251868E-07; 1.258764874128809E-07; -2.4040400844231287E-08; 4.47960707334892E-09 |] // t0 = 3
          [| 0.28438214674849294; -0.075758023067398; 0.01908428588972472; -0.004578031308597551; 0.0010514210341956702; -0.00023218258949232447; 4.947126972426929E-05; -1.0200137555492755E-05; 2.0401028336147293E-06; -3.9664481624943165E-07; 7.510071808040765E-08; -1.3869771135282437E-08; 2.50199682422831E-09 |] // t0 = 3.25
          [| 0.26656776896822376; -0.06701280861121685; 0.01601146941448239; -0.00365755522017616; 0.0008025065359664574; -0.00016975646885871183; 3.4726482493494356E-05; -6.887682875925941E-06; 1.3274490534691952E-06; -2.4906790986486196E-07; 4.557113689421782E-08; -8.142630066827235E-09; 1.4226609716935414E-09 |] // t0 = 3.5
          [| 0.250761111443965; -0.05964583208513115; 0.013544620562361607; -0.0029511683254250416; 0.0006194348355044253; -0.00012565753845668936; 2.4703177715306694E-05; -4.7172317177556085E-06; 8.766948467153951E-07; -1.58847338063653E-07; 2.8101732897669635E-08; -4.860530881581079E-09; 8.228951743117159E-10 |] // t0 = 3.75
          [| 0.23665238291356067; -0.053390468345757315; 0.011545254765265701; -0.002403149761564839; 0.0004831639297515863; -9.40988085116987E-05; 1.7794782617465252E-05; -3.2742397202625286E-06; 5.872279670518922E-07; -1.0281420578388443E-07; 1.7597114391635446E-08; -2.9477952924856947E-09; 4.838277684743889E-10 |] // t0 = 4
          [| 0.2239905946538288; -0.048039972721227564; 0.009910355294305829; -0.001973654240142597; 0.0003805811934249483; -7.123683361731326E-05; 1.29707750918945E-05; -2.301577068108804E-06; 3.9863406905401043E-07; -6.748691940325108E-08; 1.1181466159019332E-08; -1.8150625661289926E-09; 2.8895418774759285E-10 |] // t0 = 4.25
          [| 0.21257058044203178; -0.04343238801085694; 0.008562417196587771; -0.0016338368754039913; 0.00030253781431745263; -5.448334219509091E-05; 9.560462406590584E-06; -1.6373230522047545E-06; 2.7406358395864863E-07; -4.489299159898173E-08; 7.204512176323086E-09; -1.133880618684349E-09; 1.7517078268695967E-10 |] // t0 = 4.5
          [| 0.20222323663305466; -0.039439625992990404; 0.007442506583175123; -0.0013625732409695223; 0.00024257092214247303; -4.207227215855508E-05; 7.1212715648894054E-06; -1.1780331750472E-06; 1.9070174792690065E-07; -3.0244430266046875E-08; 4.704070416317801E-09; -7.181905262306654E-10; 1.0772211806017834E-10 |] // t0 = 4.75
          [| 0.19280810471531576; -0.03595947642342118; 0.006505361299104943; -0.0011442233092988196; 0.00019606118815271143; -3.278347370705246E-05; 5.357303269574857E-06; -8.567081941683109E-07; 1.342202873416628E-07; -2.0622973051110766E-08; 3.1105422086108982E-09; -4.609329098232976E-10; 6.715647162453419E-11 |] // t0 = 5
          [| 0.1842076773079702; -0.03290969413315648; 0.0057158915544493405; -0.0009670878240991478; 0.0001596701194822035; -2.5763939363515888E-05; 4.068239637290848E-06; -6.293830382484196E-07; 9.549733581083062E-08; -1.4224669471284313E-08; 2.081782108658798E-09; -2.99573945529602E-10; 4.241824121903232E-11 |] // t0 = 5.25
          [| 0.1763229857571027; -0.030223578335935124; 0.005046652454729764; -0.0008223299449738075; 0.00013095943934345565; -2.04106057169603E-05; 3.116851316695667E-06; -4.66846210733447E-07; 6.864964470771355E-08; -9.919240537891387E-09; 1.4093821749310928E-09; -1.9705805234276147E-10; 2.7130240587158717E-11 |] // t0 = 5.5
          [| 0.16907015040769408; -0.027846635155759063; 0.004475999131039728; -0.0007032133840935424; 0.00010813054312546487; -1.629255222442388E-05; 2.408061305837929E-06; -3.494571022651124E-07; 4.983537097669158E-08; -6.989302127681758E-09; 9.646883742521464E-10; -1.3112217961199235E-10; 1.756132012359921E-11 |] // t0 = 5.75
          [| 0.16237766089686745; -0.02573403461879523; 0.003986726592048044; -0.0006045583555023225; 8.984411475852712E-05; -1.3098733390231966E-05; 1.8752857361892193E-06; -2.638598532995214E-07; 3.6515827049011347E-08; -4.973876778383706E-09; 6.672566378709111E-10; -8.821245010529454E-11; 1.1498494769928653E-11 |] // t0 = 6
          [| 0.15618421503397592; -0.023848656037650524; 0.003565057399330074; -0.0005223490972791868; 7.509388533378914E-05; -1.0602462788600932E-05; 1.4714154841722192E-06; -2.0087371607493735E-07; 2.6994344837982603E-08; -3.5732289819495643E-09; 4.661663700797826E-10; -5.997174263190207E-11; 7.611914885866224E-12 |] // t0 = 6.25
          [| 0.1504369887362691; -0.022159573214250952; 0.0031998814218189477; -0.00045344799080926417; 6.311737038968266E-05; -8.637016655265383E-06; 1.1627936884096098E-06; -1.5412252580041726E-07; 2.0124658838362172E-08; -2.590249261229238E-09; 3.2880386403721253E-10; -4.1184013180668805E-11; 5.092314863572105E-12 |] // t0 = 6.5
          [| 0.14509024128913092; -0.020640871298366226; 0.002882180012579449; -0.00039538540448498185; 5.3332133076455377E-05; -7.078701243781613E-06; 9.251499468215815E-07; -1.1913415753370543E-07; 1.5124297933633734E-08; -1.893905164630858E-09; 2.340438072375443E-10; -2.8555405979766723E-11; 3.441234739509909E-12 |] // t0 = 6.75
          [| 0.14010418345305023; -0.01927071582864831; 0.00260458632625604; -0.00034620384828534296; 4.5289847064659815E-05; -5.834983766544852E-06; 7.408267831409748E-07; -9.274232636543269E-08; 1.1453812322868248E-08; -1.3961822339283285E-09; 1.6805366853699472E-10; -1.998241401539687E-11; 2.3480642024347177E-12 |] // t0 = 7
          [| 0.13544405309676344; -0.01803061504846504; 0.002361046997695948; -0.00030434143838980603; 3.864289234246351E-05; -4.8360937813891154E-06; 5.968687378987374E-07; -7.268506166046711E-08; 8.737755107543847E-09; -1.0373707923082474E-09; 1.2168168633090532E-10; -1.4107142400834897E-11; 1.6170753270710261E-12 |] // t0 = 7.25
          [| 0.13107935580449176; -0.016904831466311773; 0.0021465599035767296; -0.00026854406316209996; 3.3119857465245006E-05; -4.0290264345524856E-06; 4.836932010168944E-07; -5.733248956082534E-08; 6.712441163838046E-09; -7.765756480044438E-10; 8.88123803804717E-11; -1.0043890468264182E-11; 1.1236001557075283E-12 |] // t0 = 7.5
          [| 0.12698323748543697; -0.015879909487863556; 0.001956969477247203; -0.0002377986797325773; 2.8507427329932253E-05; -3.3732235851204634E-06; 3.9415742420811055E-07; -4.5500506786800963E-08; 5.191062076300386E-09; -5.855306328303302E-10; 6.531996718653268E-11; -7.209171557700174E-12; 7.874073011963607E-13 |] // t0 = 7.75
          [| 0.1231319632579323; -0.01494429393654163; 0.0017888058827996293; -0.00021128229138153213; 2.4636887936843043E-05; -2.837437577357557E-06; 3.228978863304307E-07; -3.632206953058741E-08; 4.040166260716424E-09; -4.4452660498400226E-10; 4.8395342084440576E-11; -5.214897118952511E-12; 5.563470944017076E-13 |] // t0 = 8
        |]
        |> Array.concat

    /// The nearest anchor's first coefficient index and t's offset h from that anchor.
    let private anchor (t: double) =
        let j = max 0 (int (Math.Round((t - anchorStart) / anchorStep)))
        struct (j * terms, t - (anchorStart + float j * anchorStep))

    /// The anchor's series without its constant term, divided by h (Horner from the top coefficient).
    let private seriesTail (b: int) (h: double) =
        let mutable acc = coefficients.[b + terms - 1]
        for k in terms - 2 .. -1 .. 1 do
            acc <- Math.FusedMultiplyAdd(acc, h, coefficients.[b + k])
        acc

    /// The Mills ratio R(t) = (1 − Φ(t))/φ(t), for t ≥ 0.375: a Horner polynomial around the nearest anchor.
    let millsRatio (t: double) =
        if t > anchorEnd then millsContinued t (if t < 12.0 then 18 else 12)
        else
            let struct (b, h) = anchor t
            Math.FusedMultiplyAdd(seriesTail b h, h, coefficients.[b])

    /// R(t) − t for 0.375 ≤ t ≤ 8: (R(t0) − t) + h·(R'(t0) + …) around the nearest anchor. R(t0) − t is exact
    /// near GELU's root (Sterbenz), so only the small correction rounds: no cancellation beyond the result's own.
    let internal millsRatioMinus (t: double) =
        let struct (b, h) = anchor t
        Math.FusedMultiplyAdd(seriesTail b h, h, coefficients.[b] - t)

    /// kⁿ / (n!·(2n+1)), n = 0 .. count − 1: the series ∫₀ˣ e^(k·t²) dt = x·Σ c_n·x^(2n) (Φ's centre with k = −1/2,
    /// erf's with k = −1).
    let private gaussianIntegralCoefficients (k: double) (count: int) =
        Array.init count (fun n ->
            let mutable c = 1.0
            for m in 1 .. n do c <- c * k / float m
            c / float (2 * n + 1))

    /// scale·x·Σ c_n·x^(2n) by Horner in x² (no cancellation for |x| ≤ 1/2, where these series are used).
    let private oddSeries (c: double[]) (scale: double) (x: double) =
        let z = x * x
        let mutable acc = c.[c.Length - 1]
        for n in c.Length - 2 .. -1 .. 0 do
            acc <- Math.FusedMultiplyAdd(acc, z, c.[n])
        scale * x * acc

    /// (−1/2)^n / (n!·(2n+1)), n = 0..11: Φ(x) − 1/2 = x/√(2π)·Σ a_n·x^(2n); for |x| ≤ 1/2 twelve terms are
    /// below the rounding of the first.
    let internal centralCoefficients = gaussianIntegralCoefficients -0.5 12

    /// Φ(x) − 1/2 for |x| ≤ 0.5 by its Taylor series in x² (Horner; no cancellation there).
    let private centralSeries (x: double) = oddSeries centralCoefficients invSqrt2Pi x

    /// Φ(x), the standard normal distribution function, accurate in both tails.
    let normalCdf (x: double) =
        if Double.IsNaN x then nan
        elif x < -0.5 then
            let t = -x
            if t > 40.0 then 0.0 else millsRatio t * invSqrt2Pi * expHalfSquare x
        elif x <= 0.5 then 0.5 + centralSeries x
        elif x > 40.0 then 1.0
        else 1.0 - millsRatio x * invSqrt2Pi * expHalfSquare x

    /// erfc(z) = 2·Φ(−z·√2). Accurate to the rounding of z·√2 (amplified by about 2z² for large z).
    let erfc (z: double) = 2.0 * normalCdf (-z * 1.4142135623730950488016887242097)

    /// (−1)^n / (n!·(2n+1)), n = 0..13: erf(z) = (2/√π)·z·Σ c_n·z^(2n); for |z| ≤ 1/2 fourteen terms are below
    /// the rounding of the first.
    let internal erfCoefficients = gaussianIntegralCoefficients -1.0 14

    /// erf(z) for |z| ≤ 1/2 by its Taylor series in z² (no cancellation; ±0 keeps its sign, tiny z its digits).
    let private erfSeries (z: double) = oddSeries erfCoefficients 1.1283791670955125738961589031215 z

    /// erf(z): near 0 its series (1 − erfc(z) there would cancel to erfc's absolute rounding, 0 below about
    /// 1e-17); beyond, 1 − erfc(z) from the side that does not cancel.
    let erf (z: double) = if abs z <= 0.5 then erfSeries z elif z < 0.0 then erfc (-z) - 1.0 else 1.0 - erfc z

    /// GELU(x) = x·Φ(x). In the lower tail the factors are ordered so that only the last product can
    /// underflow: the result is non-zero wherever the true value is a representable double.
    let gelu (x: double) =
        if Double.IsNaN x then nan
        elif Double.IsNegativeInfinity x then -0.0
        elif Double.IsPositiveInfinity x then x
        elif x < -0.5 then
            let t = -x
            if t > 40.0 then
                // Here R(t)·t ≈ 1: x·Φ(x) = −(t·R(t))·φ(x).
                -(t * millsContinued t (if t < 12.0 then 18 else 12)) * invSqrt2Pi * expHalfSquare x
            else -(t * millsRatio t * invSqrt2Pi) * expHalfSquare x
        else x * normalCdf x

    /// GELU'(x) = Φ(x) + x·φ(x); in the lower tail φ(x)·(R(t) − t), t = −x, where nothing cancels
    /// except near the derivative's root x ≈ −0.7518 (there the error is absolute, about 1e-17).
    let geluDerivative (x: double) =
        if Double.IsNaN x then nan
        elif Double.IsNegativeInfinity x then 0.0
        elif Double.IsPositiveInfinity x then 1.0
        elif x < -0.5 then
            let t = -x
            let rt = if t > anchorEnd then millsContinued t (if t < 12.0 then 18 else 12) - t else millsRatioMinus t
            rt * invSqrt2Pi * expHalfSquare x
        else normalCdf x + x * normalPdf x

    /// φ(x)·P(x) for the polynomial with coefficients c0 + c1·x + c2·x² + …, by FMA Horner (one rounding
    /// where P has a simple root such as 2 − x²).
    let phiPoly (coeffs: double[]) (x: double) =
        if Double.IsNaN x then nan
        elif Double.IsInfinity x then 0.0
        else
            let mutable p = 0.0
            for k in coeffs.Length - 1 .. -1 .. 0 do
                p <- Math.FusedMultiplyAdd(p, x, coeffs.[k])
            let e = expHalfSquare x
            if e = 0.0 then 0.0 else p * invSqrt2Pi * e

    /// The coefficients of d/dx [φ(x)·P(x)] = φ(x)·(P'(x) − x·P(x)).
    let phiPolyDerivative (coeffs: double[]) =
        let n = coeffs.Length
        Array.init (n + 1) (fun k ->
            let fromDeriv = if k + 1 < n then float (k + 1) * coeffs.[k + 1] else 0.0
            let fromShift = if k >= 1 && k - 1 < n then coeffs.[k - 1] else 0.0
            fromDeriv - fromShift)

    /// σ(z) = 1/(1 + e^(−z)) without overflow for any z.
    let sigmoid (z: double) =
        if z >= 0.0 then 1.0 / (1.0 + Math.Exp(-z))
        else
            let e = Math.Exp z
            e / (1.0 + e)

    /// √(2/π) and the cubic coefficient of the tanh approximation.
    let sqrt2OverPi = 0.79788456080286535587989211986876
    let geluTanhCubic = 0.044715

    /// 2√(2/π) as a double and the rest (2√(2/π) − twoSqrt2OverPi, to 1e-33).
    let internal twoSqrt2OverPi = 1.5957691216057308
    let internal twoSqrt2OverPiLo = -9.96930880911092e-17

    /// z = 2u = 2√(2/π)·x·(1 + 0.044715x²) as z + zLo, to about 1e-32 relative, with x². σ(z)'s relative error
    /// is about |z| times z's below zero (0.044715·x³ makes z ≈ −90 at x = −10), so a z rounded once would cost
    /// tens of ulp in the tail; split, only exp's own rounding is left. TwoProduct by FMA, TwoSum for 1 + kx².
    let inline internal geluTanhArgument (x: double) =
        let x2 = x * x
        let x2Lo = Math.FusedMultiplyAdd(x, x, -x2)
        let p = geluTanhCubic * x2
        let pLo = Math.FusedMultiplyAdd(geluTanhCubic, x2, -p) + geluTanhCubic * x2Lo
        let w = 1.0 + p
        let b = w - 1.0
        let wLo = ((1.0 - (w - b)) + (p - b)) + pLo
        let m = x * w
        let mLo = Math.FusedMultiplyAdd(x, w, -m) + x * wLo
        let z = twoSqrt2OverPi * m
        let zLo = Math.FusedMultiplyAdd(twoSqrt2OverPi, m, -z) + (twoSqrt2OverPi * mLo + twoSqrt2OverPiLo * m)
        struct (z, zLo, x2)

    /// The tanh form's value and derivative from e = e^(−|z|) (its rest already applied), z and x² (the vector
    /// path, GeluTanhVector, takes the same steps in the same order): s = σ(z) is r = 1/(1 + e) for z ≥ 0, e·r below (no 1 − σ anywhere), the value
    /// x·s, and the derivative s + x·σ(z)·σ(−z)·2u' with σ(z)·σ(−z) = e·r². Where e is 0 the second term is 0
    /// (x² may be infinite there); a value of x·0 is −0 (x < 0 there, and −∞·0 would be NaN).
    let inline internal geluTanhFinish (x: double) (z: double) (e: double) (x2: double) =
        let r = 1.0 / (1.0 + e)
        let er = e * r
        let s = if z >= 0.0 then r else er
        let value = if s = 0.0 then -0.0 else x * s
        let derivative = if e = 0.0 then s else s + x * er * r * (twoSqrt2OverPi * (1.0 + 3.0 * geluTanhCubic * x2))
        struct (value, derivative)

    /// e^(−|z + zLo|) by Math.Exp, the rest as e·(1 + rest) where the result is normal.
    let private geluTanhExp (z: double) (zLo: double) =
        let y = -(abs z)
        let e = Math.Exp y
        if y >= -708.0 then Math.FusedMultiplyAdd(e, (if z >= 0.0 then -zLo else zLo), e) else e

    /// The tanh approximation 0.5·x·(1 + tanh(u)), u = √(2/π)(x + 0.044715x³), as x·σ(2u) and its derivative
    /// σ(2u) + x·σ(2u)·σ(−2u)·2u', u' = √(2/π)(1 + 3·0.044715x²): no cancellation, overflow or NaN for finite x,
    /// and 2u carried in two parts, so the tail keeps its digits.
    let geluTanhWithDerivative (x: double) =
        let struct (z, zLo, x2) = geluTanhArgument x
        geluTanhFinish x z (geluTanhExp z zLo) x2

    /// The tanh approximation's value (see geluTanhWithDerivative).
    let geluTanh (x: double) = let struct (v, _) = geluTanhWithDerivative x in v

    /// d/dx of geluTanh: σ(2u) + x·σ(2u)·σ(−2u)·2u'.
    let geluTanhDerivative (x: double) = let struct (_, d) = geluTanhWithDerivative x in d
