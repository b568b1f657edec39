import StudioKit
import StudioTensor
import StudioImage
