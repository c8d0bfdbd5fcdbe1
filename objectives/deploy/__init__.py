"""What a candidate is as deployed: its ONNX export (:func:`to_onnx`), run and timed by ONNX
Runtime (``objectives.deploy.runtime``), and its static int8 quantization
(:func:`quantize_int8`). onnx, onnxscript and onnxruntime (the ``onnx`` extra) are imported only
when a function needs them; without them it raises ``ModuleNotFoundError`` naming the extra."""

from objectives.deploy._quiet import missing_packages
from objectives.deploy.int8 import quantize_int8
from objectives.deploy.onnx_export import UnsupportedModel, to_onnx
from objectives.deploy.runtime import compare, session

__all__ = ["UnsupportedModel", "compare", "missing_packages", "quantize_int8", "session",
           "to_onnx"]
