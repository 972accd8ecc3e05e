"""`Runtime`: lmwrapper 0.18's choice of backend for local models (`get_huggingface_lm(runtime=)`).

PYTORCH (the default) and ACCELERATE (`device_map="auto"`: the model spread over the
available devices) run; the ONNX Runtime and BetterTransformer choices are refused with the
reason when the model is requested (see `lmwrapper.compat018.hooks.hf_factory_args`).
"""

from enum import Enum


class Runtime(Enum):
    PYTORCH = 1
    """PyTorch on one device (the default)."""
    ACCELERATE = 2
    """Hugging Face Accelerate: the same as `device_map="auto"`."""
    ORT_CUDA = 3
    """ONNX Runtime with CUDA (not supported)."""
    ORT_TENSORRT = 4
    """ONNX Runtime with TensorRT (not supported)."""
    ORT_CPU = 5
    """ONNX Runtime on the CPU (not supported)."""
    BETTER_TRANSFORMER = 6
    """BetterTransformer (not supported; PyTorch's own attention is used)."""


__all__ = ["Runtime"]
