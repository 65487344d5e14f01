"""The base every registered simulation kind (substructure, source, lens light) extends."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SampledKind"]


class SampledKind:
    """A registered kind: the parameters it samples and derives, and its options.

    Subclasses set :attr:`params` (drawn from the config's priors) and :attr:`derived`
    (computed per image and stored), and declare their options as a nested ``Options``
    dataclass, which the config fills from the kind's mapping.
    """

    params: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()

    @dataclass
    class Options:
        pass

    @classmethod
    def sampled(cls, opts) -> tuple[str, ...]:
        """Parameters drawn from priors with these options (default: :attr:`params`)."""
        return cls.params

    @classmethod
    def derived_names(cls, opts) -> tuple[str, ...]:
        """Parameters derived per image and stored (default: :attr:`derived`)."""
        return cls.derived
