"""Representational similarity analysis: RDMs, their comparison and MDS, plots, and
representational distance learning (McClure & Kriegeskorte 2016)."""

from kerasbio.rsa.rdm import rdm, to_rsatoolbox, upper_triangle  # noqa: I001
from kerasbio.rsa.compare import classical_mds, compare, mds, rdm_distances
from kerasbio.rsa.rdl import RDL

__all__ = ["RDL", "classical_mds", "compare", "mds", "rdm", "rdm_distances", "to_rsatoolbox",
           "upper_triangle"]
