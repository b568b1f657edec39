/// `v` with exactly `digits` decimals, rounded half away from zero ("0.508"); without Foundation.
public func formatFixed(_ v: Double, _ digits: Int) -> String {
    guard v.isFinite else { return "\(v)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = (abs(v) * scale).rounded()
    guard n < 9e15 else { return "\(v)" }          // beyond Int64's exact range: plain description
    let neg = v < 0 && n != 0
    var s = String(Int64(n))
    if digits > 0 {
        while s.count <= digits { s = "0" + s }
        s.insert(".", at: s.index(s.endIndex, offsetBy: -digits))
    }
    return (neg ? "-" : "") + s
}
