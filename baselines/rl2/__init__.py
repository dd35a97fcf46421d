"""RL² (Duan et al. 2016) on sb3-contrib's RecurrentPPO: memory across the K episodes of a trial."""
