"""MAML-TRPO (Finn et al. 2017) as ProMP and garage ran it: policy-gradient inner step, TRPO meta-update."""
