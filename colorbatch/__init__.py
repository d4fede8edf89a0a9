"""colorbatch: batch image colorization with ONNX Runtime.

``from colorbatch import Colorizer`` (and ``DaskDistributor``, to run it on a cluster) is resolved
lazily, so importing the package stays light (no onnxruntime, never torch).
"""

__version__ = "0.1.0"
__all__ = ["Colorizer", "DaskDistributor", "__version__"]


def __getattr__(name: str):
    if name == "Colorizer":
        from colorbatch.api import Colorizer

        return Colorizer
    if name == "DaskDistributor":
        from colorbatch.batch.cluster import DaskDistributor

        return DaskDistributor
    raise AttributeError(f"module 'colorbatch' has no attribute {name!r}")
