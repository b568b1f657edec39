import StudioKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The restricted pickle interpreter of a PyTorch checkpoint (see TorchCheckpoint.swift): only the
// opcodes a state dict uses and three kinds of global; it builds plain values and never calls anything.

/// Interprets a pickle (protocol 2) that describes a state dict, and nothing else.
///
/// Values are plain data; containers live in `objects` and are referenced by index, so no value is
/// recursive (a hostile pickle cannot build a structure whose destruction overflows the stack) and
/// dicts are shared between the stack and the memo as Python shares them.
struct PickleVM {
    enum StorageType: Equatable { case float, long }

    enum Value: Equatable {
        case none, bool(Bool), int(Int64), string(String)
        case global(Global)
        /// Index into `objects`.
        case object(Int)
    }

    enum Global: Equatable {
        case orderedDict, rebuildTensorV2, storage(TorchTensor.DType)
        var name: String {
            switch self {
            case .orderedDict: return "collections.OrderedDict"
            case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
            case .storage(let t): return t == .float32 ? "torch.FloatStorage" : "torch.LongStorage"
            }
        }
    }

    struct StorageRef: Equatable { let key: String; let dtype: TorchTensor.DType; let numel: Int; let location: String }
    struct TensorRef: Equatable { let storage: StorageRef; let offset: Int; let shape: [Int]; let strides: [Int] }

    enum Object {
        case tuple([Value])
        case list([Value])
        case dict(keys: [String], values: [String: Value])
        case storage(StorageRef)
        case tensor(TensorRef)
    }

    /// The globals a state dict may name: (module, name) -> value. Everything else is refused.
    static let allowedGlobals: [String: Global] = [
        "collections\nOrderedDict": .orderedDict,
        "torch._utils\n_rebuild_tensor_v2": .rebuildTensorV2,
        "torch\nFloatStorage": .storage(.float32),
        "torch\nLongStorage": .storage(.int64),
    ]

    let bytes: [UInt8]
    let file: String
    let limits: TorchCheckpoint.Limits
    private var pos = 0
    private var stack: [Value] = []
    private var marks: [Int] = []
    private var memo: [Int: Value] = [:]
    private(set) var objects: [Object] = []

    init(bytes: [UInt8], file: String, limits: TorchCheckpoint.Limits) {
        self.bytes = bytes; self.file = file; self.limits = limits
    }

    private var opStart = 0
    private func fail(_ detail: String) -> CheckpointError {
        CheckpointError(file: file, detail: "data.pkl at byte \(opStart): \(detail)")
    }

    // MARK: reading

    private mutating func byte() throws -> UInt8 {
        guard pos < bytes.count else { throw fail("unexpected end of the pickle") }
        defer { pos += 1 }
        return bytes[pos]
    }
    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - pos else { throw fail("unexpected end of the pickle (\(n) bytes wanted, \(bytes.count - pos) left)") }
        defer { pos += n }
        return bytes[pos..<(pos + n)]
    }
    private mutating func uint(_ n: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }
    private mutating func utf8(_ n: Int) throws -> String {
        let raw = try take(n)
        let s = String(decoding: raw, as: UTF8.self)
        guard s.utf8.elementsEqual(raw) else { throw fail("string is not valid UTF-8") }
        return s
    }
    /// A newline-terminated ASCII identifier (GLOBAL's module and name).
    private mutating func line() throws -> String {
        var out: [UInt8] = []
        while true {
            let b = try byte()
            if b == 0x0A { break }
            guard b >= 0x21 && b < 0x7F, out.count < 256 else { throw fail("GLOBAL: bad module or name") }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: stack

    private mutating func push(_ v: Value) throws {
        guard stack.count < limits.maxStackDepth else { throw fail("stack deeper than \(limits.maxStackDepth)") }
        stack.append(v)
    }
    /// Pops one value above the innermost mark.
    private mutating func pop(_ op: String) throws -> Value {
        guard stack.count > (marks.last ?? 0) else { throw fail("\(op): stack underflow") }
        return stack.removeLast()
    }
    private func top(_ op: String) throws -> Value {
        guard stack.count > (marks.last ?? 0) else { throw fail("\(op): stack underflow") }
        return stack[stack.count - 1]
    }
    /// The values pushed since the innermost MARK, and the mark removed.
    private mutating func popMark(_ op: String) throws -> [Value] {
        guard let m = marks.popLast() else { throw fail("\(op) without MARK") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }
    private mutating func new(_ o: Object) throws -> Value {
        guard objects.count < limits.maxObjects else { throw fail("more than \(limits.maxObjects) objects") }
        objects.append(o)
        return .object(objects.count - 1)
    }
    private mutating func tuple(_ items: [Value]) throws -> Value { try new(.tuple(items)) }

    private func tupleItems(_ v: Value, _ what: String) throws -> [Value] {
        guard case .object(let i) = v, case .tuple(let items) = objects[i] else { throw fail("\(what) is not a tuple") }
        return items
    }
    private func dictIndex(_ v: Value, _ op: String) throws -> Int {
        guard case .object(let i) = v, case .dict = objects[i] else { throw fail("\(op) on something that is not a dict") }
        return i
    }
    private func intValue(_ v: Value, _ what: String, min: Int64 = 0, max: Int64 = Int64(Int32.max)) throws -> Int {
        guard case .int(let x) = v, x >= min, x <= max else { throw fail("\(what) must be an integer in \(min)...\(max)") }
        return Int(x)
    }
    private func intTuple(_ v: Value, _ what: String) throws -> [Int] {
        let items = try tupleItems(v, what)
        guard items.count <= limits.maxDimensions else { throw fail("\(what) has \(items.count) dimensions (limit \(limits.maxDimensions))") }
        return try items.map { try intValue($0, what, min: 0, max: Int64(Int32.max)) }
    }

    private mutating func setItem(dict: Int, key: Value, value: Value) throws {
        let k: String
        switch key {
        case .string(let s): k = s
        case .int(let i): k = String(i)
        default: throw fail("SETITEM: dict keys must be strings or integers")
        }
        guard case .dict(var keys, var values) = objects[dict] else { throw fail("SETITEM on something that is not a dict") }
        objects[dict] = .tuple([])     // release the arrays so they are mutated in place
        if values.updateValue(value, forKey: k) == nil { keys.append(k) }
        objects[dict] = .dict(keys: keys, values: values)
    }

    // MARK: run

    static let opcodeNames: [UInt8: String] = [
        0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT",
        0x4A: "BININT", 0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE", 0x50: "PERSID",
        0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
        0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT",
        0x7D: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST", 0x6A: "LONG_BINGET",
        0x6C: "LIST", 0x5D: "EMPTY_LIST", 0x6F: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
        0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
        0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1",
        0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1", 0x8B: "LONG4",
        0x43: "SHORT_BINBYTES", 0x42: "BINBYTES", 0x8C: "SHORT_BINUNICODE", 0x8D: "BINUNICODE8",
        0x8E: "BINBYTES8", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX",
        0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER",
        0x98: "READONLY_BUFFER",
    ]

    /// Runs the pickle to its STOP and returns the one value it leaves.
    mutating func run() throws -> Value {
        pos = 0
        while true {
            opStart = pos
            let op = try byte()
            switch op {
            case 0x80: // PROTO
                let v = try byte()
                guard v == 2 else { throw fail("pickle protocol \(v) is not supported (only 2, as torch.save writes)") }
            case 0x2E: // STOP
                guard marks.isEmpty, stack.count == 1 else { throw fail("STOP with \(stack.count) values and \(marks.count) marks on the stack") }
                guard pos == bytes.count else { throw fail("\(bytes.count - pos) bytes after STOP") }
                return stack[0]
            case 0x28: // MARK
                guard marks.count < limits.maxStackDepth else { throw fail("too many MARKs") }
                marks.append(stack.count)
            case 0x7D: // EMPTY_DICT
                try push(try new(.dict(keys: [], values: [:])))
            case 0x5D: // EMPTY_LIST
                try push(try new(.list([])))
            case 0x29: // EMPTY_TUPLE
                try push(try tuple([]))
            case 0x74: // TUPLE
                let items = try popMark("TUPLE")
                try push(try tuple(items))
            case 0x85, 0x86, 0x87: // TUPLE1..3
                let n = Int(op - 0x84)
                var items: [Value] = []
                for _ in 0..<n { items.insert(try pop(Self.opcodeNames[op]!), at: 0) }
                try push(try tuple(items))
            case 0x58: // BINUNICODE
                let n = try uint(4)
                guard n <= UInt64(bytes.count - pos) else { throw fail("BINUNICODE of \(n) bytes runs past the pickle") }
                try push(.string(try utf8(Int(n))))
            case 0x8C: // SHORT_BINUNICODE
                try push(.string(try utf8(Int(try byte()))))
            case 0x4A: // BININT (signed 32-bit)
                try push(.int(Int64(Int32(bitPattern: UInt32(try uint(4))))))
            case 0x4B: // BININT1
                try push(.int(Int64(try byte())))
            case 0x4D: // BININT2
                try push(.int(Int64(try uint(2))))
            case 0x8A: // LONG1: n-byte little-endian two's complement
                let n = Int(try byte())
                guard n <= 8 else { throw fail("LONG1 of \(n) bytes is out of range") }
                var v = try uint(n)
                if n > 0 && n < 8 && v & (1 << (8 * UInt64(n) - 1)) != 0 { v |= ~0 << (8 * UInt64(n)) }
                try push(.int(Int64(bitPattern: v)))
            case 0x88: try push(.bool(true))   // NEWTRUE
            case 0x89: try push(.bool(false))  // NEWFALSE
            case 0x4E: try push(.none)         // NONE
            case 0x63: // GLOBAL
                let module = try line(), name = try line()
                guard let g = Self.allowedGlobals[module + "\n" + name] else {
                    throw fail("forbidden GLOBAL '\(module) \(name)' (only collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.FloatStorage/LongStorage are allowed)")
                }
                try push(.global(g))
            case 0x71: // BINPUT
                try put(Int(try byte()))
            case 0x72: // LONG_BINPUT
                try put(Int(try uint(4)))
            case 0x68: // BINGET
                try get(Int(try byte()))
            case 0x6A: // LONG_BINGET
                try get(Int(try uint(4)))
            case 0x51: // BINPERSID
                let pid = try tupleItems(try pop("BINPERSID"), "persistent id")
                try push(try persistentStorage(pid))
            case 0x52: // REDUCE
                let args = try pop("REDUCE"), callable = try pop("REDUCE")
                try push(try reduce(callable, args))
            case 0x73: // SETITEM
                let value = try pop("SETITEM"), key = try pop("SETITEM")
                try setItem(dict: try dictIndex(try top("SETITEM"), "SETITEM"), key: key, value: value)
            case 0x75: // SETITEMS
                let items = try popMark("SETITEMS")
                guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of values") }
                let d = try dictIndex(try top("SETITEMS"), "SETITEMS")
                for k in stride(from: 0, to: items.count, by: 2) { try setItem(dict: d, key: items[k], value: items[k + 1]) }
            case 0x61: // APPEND
                let value = try pop("APPEND")
                try append(to: try top("APPEND"), [value])
            case 0x65: // APPENDS
                let items = try popMark("APPENDS")
                try append(to: try top("APPENDS"), items)
            case 0x62: // BUILD: only an OrderedDict's state (its _metadata attribute), which is dropped.
                let state = try pop("BUILD")
                _ = try dictIndex(try top("BUILD"), "BUILD")
                guard case .object(let s) = state, case .dict = objects[s] else { throw fail("BUILD: state is not a dict") }
            default:
                let name = Self.opcodeNames[op].map { "opcode \($0)" } ?? "unknown opcode"
                throw fail("\(name) (0x\(String(op, radix: 16))) is not allowed in a state dict")
            }
            guard stack.count <= limits.maxStackDepth else { throw fail("stack deeper than \(limits.maxStackDepth)") }
        }
    }

    private mutating func put(_ index: Int) throws {
        let v = try top("PUT")
        guard memo[index] != nil || memo.count < limits.maxMemoEntries else { throw fail("more than \(limits.maxMemoEntries) memo entries") }
        memo[index] = v
    }
    private mutating func get(_ index: Int) throws {
        guard let v = memo[index] else { throw fail("GET of memo entry \(index), which was never stored") }
        try push(v)
    }
    private mutating func append(to target: Value, _ items: [Value]) throws {
        guard case .object(let i) = target, case .list(var list) = objects[i] else { throw fail("APPEND to something that is not a list") }
        objects[i] = .tuple([])
        list.append(contentsOf: items)
        objects[i] = .list(list)
    }

    /// BINPERSID's tuple: ('storage', storage type, key, location, numel).
    private mutating func persistentStorage(_ pid: [Value]) throws -> Value {
        guard pid.count == 5, pid[0] == .string("storage") else { throw fail("persistent id is not ('storage', type, key, location, numel)") }
        guard case .global(.storage(let dtype)) = pid[1] else { throw fail("persistent id names an unsupported storage type") }
        guard case .string(let key) = pid[2], !key.isEmpty, key.count <= 64,
              key.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F })
        else { throw fail("persistent id has a bad storage key") }
        guard case .string(let location) = pid[3] else { throw fail("persistent id has a bad location") }
        let numel = try intValue(pid[4], "storage size", min: 0, max: Int64(Int.max / 8))
        return try new(.storage(StorageRef(key: key, dtype: dtype, numel: numel, location: location)))
    }

    /// REDUCE of the two allowed callables; building values only, never calling anything.
    private mutating func reduce(_ callable: Value, _ argsValue: Value) throws -> Value {
        guard case .global(let g) = callable else { throw fail("REDUCE of something that is not an allowed global") }
        let args = try tupleItems(argsValue, "REDUCE arguments")
        switch g {
        case .orderedDict:
            guard args.isEmpty else { throw fail("REDUCE: OrderedDict with arguments") }
            return try new(.dict(keys: [], values: [:]))
        case .rebuildTensorV2:
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard args.count == 6 || args.count == 7 else { throw fail("_rebuild_tensor_v2 with \(args.count) arguments") }
            guard case .object(let si) = args[0], case .storage(let storage) = objects[si] else {
                throw fail("_rebuild_tensor_v2: first argument is not a storage")
            }
            let offset = try intValue(args[1], "storage offset", min: 0, max: Int64(Int.max / 8))
            let shape = try intTuple(args[2], "tensor size"), strides = try intTuple(args[3], "tensor stride")
            guard case .bool = args[4] else { throw fail("_rebuild_tensor_v2: requires_grad is not a bool") }
            guard case .object(let hi) = args[5], case .dict(let hooks, _) = objects[hi], hooks.isEmpty else {
                throw fail("_rebuild_tensor_v2: backward hooks must be an empty OrderedDict")
            }
            if args.count == 7 && args[6] != .none {
                guard case .object(let mi) = args[6], case .dict = objects[mi] else { throw fail("_rebuild_tensor_v2: bad metadata") }
            }
            return try new(.tensor(TensorRef(storage: storage, offset: offset, shape: shape, strides: strides)))
        case .storage:
            throw fail("REDUCE of \(g.name): storages may appear only in persistent ids")
        }
    }

    /// The tensors in the root dict and the dicts nested in it, by dotted name.
    func collectTensors(_ root: Value) throws -> [(String, TensorRef)] {
        guard case .object(let r) = root, case .dict = objects[r] else { throw fail("the pickled object is not a dict") }
        var out: [(String, TensorRef)] = []
        var names = Set<String>()
        var visiting = Set<Int>()
        func walk(_ index: Int, _ prefix: String, _ depth: Int) throws {
            guard depth <= limits.maxDictNesting else { throw fail("dicts nested deeper than \(limits.maxDictNesting)") }
            guard visiting.insert(index).inserted else { throw fail("a dict contains itself") }
            defer { visiting.remove(index) }
            guard case .dict(let keys, let values) = objects[index] else { return }
            for k in keys {
                guard case .object(let i) = values[k]! else { continue }
                switch objects[i] {
                case .tensor(let t):
                    let name = prefix + k
                    guard names.insert(name).inserted else { throw fail("two tensors are named \(name)") }
                    guard out.count < limits.maxTensors else { throw fail("more than \(limits.maxTensors) tensors") }
                    out.append((name, t))
                case .dict:
                    try walk(i, prefix + k + ".", depth + 1)
                default:
                    continue
                }
            }
        }
        try walk(r, "", 0)
        return out
    }
}
