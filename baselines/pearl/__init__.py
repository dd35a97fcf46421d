"""PEARL (Rakelly et al. 2019) as oyster runs it: a probabilistic context encoder and SAC conditioned on z."""
