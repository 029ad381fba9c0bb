"""Duration distributions as small strategy objects described in scenario files.

Each is a frozen pydantic model tagged by ``dist`` so a scenario can say
``prep_time = { dist = "lognormal", mean_min = 15, sd_min = 5 }``. Parameters are in minutes
(planners think in minutes); ``sample`` returns seconds because simulated time is in seconds.
``sample_many`` draws a whole block at once: the model pre-draws per-order attributes in blocks,
which is where most of the randomness cost would otherwise go.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

MINUTE = 60.0
FloatArray = np.ndarray[tuple[int], np.dtype[np.float64]]


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def sample(self, rng: np.random.Generator) -> float:
        return float(self.sample_many(rng, 1)[0])

    def sample_many(self, rng: np.random.Generator, n: int) -> FloatArray:
        raise NotImplementedError  # every concrete distribution overrides this

    @property
    def mean_s(self) -> float:
        raise NotImplementedError  # every concrete distribution overrides this

    @property
    def min_s(self) -> float:
        """The smallest value a draw can take (0 unless the support is bounded away from 0)."""
        return 0.0


class Constant(_Dist):
    dist: Literal["constant"] = "constant"
    value_min: float = Field(ge=0)

    def sample_many(self, rng: np.random.Generator, n: int) -> FloatArray:
        return np.full(n, self.value_min * MINUTE)

    @property
    def mean_s(self) -> float:
        return self.value_min * MINUTE

    @property
    def min_s(self) -> float:
        return self.value_min * MINUTE


class Exponential(_Dist):
    dist: Literal["exponential"] = "exponential"
    mean_min: float = Field(gt=0)

    def sample_many(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.exponential(self.mean_min * MINUTE, n)

    @property
    def mean_s(self) -> float:
        return self.mean_min * MINUTE


class LogNormal(_Dist):
    """Parameterised by the mean and standard deviation of the duration itself (not of its
    logarithm), which is what a kitchen manager can tell you."""

    dist: Literal["lognormal"] = "lognormal"
    mean_min: float = Field(gt=0)
    sd_min: float = Field(gt=0)

    def sample_many(self, rng: np.random.Generator, n: int) -> FloatArray:
        m, s = self.mean_min, self.sd_min
        sigma2 = math.log1p((s / m) ** 2)
        mu = math.log(m) - sigma2 / 2
        return rng.lognormal(mu, math.sqrt(sigma2), n) * MINUTE

    @property
    def mean_s(self) -> float:
        return self.mean_min * MINUTE


class Gamma(_Dist):
    dist: Literal["gamma"] = "gamma"
    mean_min: float = Field(gt=0)
    sd_min: float = Field(gt=0)

    def sample_many(self, rng: np.random.Generator, n: int) -> FloatArray:
        shape = (self.mean_min / self.sd_min) ** 2
        scale = self.sd_min**2 / self.mean_min
        return rng.gamma(shape, scale, n) * MINUTE

    @property
    def mean_s(self) -> float:
        return self.mean_min * MINUTE


class Triangular(_Dist):
    dist: Literal["triangular"] = "triangular"
    low_min: float = Field(ge=0)
    mode_min: float = Field(ge=0)
    high_min: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low_min <= self.mode_min <= self.high_min or self.low_min == self.high_min:
            raise ValueError(
                "need low_min <= mode_min <= high_min and low_min < high_min "
                f"(got {self.low_min}, {self.mode_min}, {self.high_min})"
            )
        return self

    def sample_many(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.triangular(self.low_min, self.mode_min, self.high_min, n) * MINUTE

    @property
    def mean_s(self) -> float:
        return (self.low_min + self.mode_min + self.high_min) / 3 * MINUTE

    @property
    def min_s(self) -> float:
        return self.low_min * MINUTE


class Uniform(_Dist):
    dist: Literal["uniform"] = "uniform"
    low_min: float = Field(ge=0)
    high_min: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.low_min >= self.high_min:
            raise ValueError(f"need low_min < high_min (got {self.low_min} and {self.high_min})")
        return self

    def sample_many(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.uniform(self.low_min, self.high_min, n) * MINUTE

    @property
    def mean_s(self) -> float:
        return (self.low_min + self.high_min) / 2 * MINUTE

    @property
    def min_s(self) -> float:
        return self.low_min * MINUTE


Distribution = Annotated[
    Constant | Exponential | LogNormal | Gamma | Triangular | Uniform,
    Field(discriminator="dist"),
]
