"""AdaBelief as an optbench plugin: an optimizer that is not built in, named in a config by file.

Zhuang, Tang, Ding, Tatikonda, Dvornek, Papademetris & Duncan 2020, "AdaBelief Optimizer: Adapting
Stepsizes by the Belief in Observed Gradients" (NeurIPS 2020, arXiv:2010.07468), Algorithm 2.

A config names it as `optimizer: {name: adabelief.py:AdaBelief}` (the path relative to the config
file); `optbench check adabelief.py:AdaBelief` checks it before it is benchmarked. Copy this file to
write your own rule: the class below is all optbench needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optbench import NON_NEGATIVE, POSITIVE, UNIT_INTERVAL_OPEN_TOP, Optimizer, hyper


@dataclass
class AdaBelief(Optimizer):
    """AdaBelief: Adam whose denominator is the spread of the gradient around its running mean.

    Adam divides the momentum m by the root of a running mean of g²; AdaBelief divides it by the
    root of a running mean of (g − m)², its "belief" in the gradient: a gradient close to what the
    momentum predicts gives a large step, a surprising one a small step.

        m ← β1·m + (1 − β1)·g
        s ← β2·s + (1 − β2)·(g − m)² + ε
        θ ← θ − η·(m / (1 − β1^t)) / (√(s / (1 − β2^t)) + ε)

    Defaults: lr 1e-3, betas (0.9, 0.999) as in the paper; eps 1e-16, the default of the authors'
    released code (adabelief-pytorch 0.2), which they note matches Adam's 1e-8 since ε enters s
    before the root. No weight decay and no rectification, as Algorithm 2.
    """

    name = "adabelief"
    summary = "Adam divided by the spread of g around its momentum (Zhuang et al. 2020)"
    state_names = ("exp_avg", "exp_avg_var")  # zeros shaped like the parameters, made on update 1

    lr: float = hyper(1e-3, "learning rate η", POSITIVE)
    betas: tuple[float, float] = hyper(
        (0.9, 0.999), "decay rates (β1, β2) of the momentum and of the belief", UNIT_INTERVAL_OPEN_TOP
    )
    eps: float = hyper(1e-16, "ε added to s at every update and to its root", NON_NEGATIVE)

    def update(self, params: np.ndarray, grads: np.ndarray, lr: float) -> float:
        beta1, beta2 = self.betas
        m, s = self.state["exp_avg"], self.state["exp_avg_var"]
        tmp = self.scratch(params)  # a work buffer kept between updates (not state)
        m *= beta1
        m += (1 - beta1) * grads
        np.subtract(grads, m, out=tmp)
        tmp *= tmp
        s *= beta2
        s += (1 - beta2) * tmp
        s += self.eps
        np.sqrt(s, out=tmp)
        tmp /= (1 - beta2**self.t) ** 0.5
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= lr / (1 - beta1**self.t)
        params -= tmp  # in place: the training loop keeps no other copy of the parameters
        return lr
