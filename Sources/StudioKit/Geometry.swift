/// A point in image coordinates (x to the right, y down), in pixels.
public struct Point: Sendable, Hashable, Codable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

/// An axis-aligned rectangle with inclusive right and bottom edges, as dlib's `rectangle`.
///
/// A rectangle may extend outside the image it was found in.
public struct Rect: Sendable, Hashable, Codable {
    public var left: Int
    public var top: Int
    public var right: Int
    public var bottom: Int
    public init(left: Int, top: Int, right: Int, bottom: Int) {
        self.left = left; self.top = top; self.right = right; self.bottom = bottom
    }
    public var width: Int { right - left + 1 }
    public var height: Int { bottom - top + 1 }
    public var area: Int { isEmpty ? 0 : width * height }
    public var isEmpty: Bool { left > right || top > bottom }
    public var center: Point { Point(x: Double(left + right) / 2, y: Double(top + bottom) / 2) }

    public func intersection(_ other: Rect) -> Rect {
        Rect(left: max(left, other.left), top: max(top, other.top),
             right: min(right, other.right), bottom: min(bottom, other.bottom))
    }

    /// Intersection over union of the two pixel sets.
    public func iou(_ other: Rect) -> Double {
        let inter = intersection(other).area
        let union = area + other.area - inter
        return union > 0 ? Double(inter) / Double(union) : 0
    }
}
