"""The deep conjugate direction method (DCDM): its network, training data and loss.

The iteration itself lives in :mod:`neurosolve.solvers.dcdm`; this package holds the
torch side (imported only by the learned methods and by ``neurosolve train dcdm``) and the
grid helpers that training and tests share.

References
----------
Kaneda, A., Akar, O., Chen, J., et al. (2023). "A Deep Conjugate Direction Method for
Iteratively Solving Linear Systems." Proceedings of the 40th International Conference on
Machine Learning (ICML), PMLR 202.
"""
