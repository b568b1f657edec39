import StudioTensor

/// Named, shape-checked weights of one model from its safetensors file, under a key prefix.
struct WeightReader {
    let file: SafeTensors
    let prefix: String

    func scoped(_ more: String) -> WeightReader { WeightReader(file: file, prefix: prefix + more) }

    func floats(_ name: String, _ shape: [Int]) throws(DiffusionModelError) -> [Float] {
        do { return try file.floats(prefix + name, shape: shape) } catch { throw .weights(error) }
    }

    /// `name.weight` [channels] and `name.bias` [channels] of a layer or group norm.
    func norm(_ name: String, _ channels: Int) throws(DiffusionModelError) -> (gamma: [Float], beta: [Float]) {
        (try floats(name + ".weight", [channels]), try floats(name + ".bias", [channels]))
    }

    /// An `nn.Linear`'s `weight` [out, in] and `bias` [out].
    func linear(_ name: String, out: Int, in inputs: Int) throws(DiffusionModelError) -> (weight: [Float], bias: [Float]) {
        (try floats(name + ".weight", [out, inputs]), try floats(name + ".bias", [out]))
    }

    /// An `nn.Conv2d` with a square `k` x `k` kernel, stride 1 and padding `k / 2` (diffusers' convolutions).
    func conv(_ name: String, out: Int, in inputs: Int, kernel k: Int) throws(DiffusionModelError) -> ConvWeights {
        let filters = Tensor(n: out, c: inputs, h: k, w: k, data: try floats(name + ".weight", [out, inputs, k, k]))
        return ConvWeights(filters: filters, bias: try floats(name + ".bias", [out]),
                           window: Window2D(kh: k, kw: k, strideY: 1, strideX: 1, padY: k / 2, padX: k / 2))
    }
}
