"""Optimizers, learning-rate schedules and gradient clipping, with the names,
defaults and update rules of ``torch.optim``, updating NumPy arrays in place.

Each algorithm's whole update is one compiled kernel: a single pass over
parameter, gradient and state (float32 or float64), multi-threaded above a
measured size, with results that do not depend on the thread count.

Examples
--------
>>> import numpy as np
>>> from lossopt.optim import Adam, CosineAnnealingLR
>>> w = np.array([3.0, -2.0])
>>> opt = Adam([w], lr=0.1)
>>> sched = CosineAnnealingLR(opt, T_max=500)
>>> for _ in range(500):
...     opt.step([2 * w])          # gradient of |w|^2
...     sched.step()
>>> bool(np.abs(w).max() < 1e-3)
True
"""

from .adam import Adam, Adamax, AdamW, NAdam, RAdam
from .adaptive import Adadelta, Adagrad, RMSprop
from .clip import clip_grad_norm_, clip_grad_value_
from .flat import FlatParameters
from .lr_scheduler import (CosineAnnealingLR, ExponentialLR, LambdaLR, LinearLR, LRScheduler,
                           MultiStepLR, ReduceLROnPlateau, SequentialLR, StepLR)
from .optimizer import Optimizer
from .sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam", "RAdam",
    "Adamax",
    "LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
    "LambdaLR", "SequentialLR", "ReduceLROnPlateau",
    "clip_grad_norm_", "clip_grad_value_", "FlatParameters",
]
