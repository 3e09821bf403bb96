"""medcnn: classify a medical image as brain, lung or other, and explain why."""

from medcnn.config import CLASSES, quiet_tensorflow

quiet_tensorflow()

__all__ = ["CLASSES"]
__version__ = "0.1.0"
