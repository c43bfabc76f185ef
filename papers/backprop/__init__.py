"""Rumelhart, D. E., Hinton, G. E. & Williams, R. J. (1986). Learning representations by
back-propagating errors. Nature 323, 533-536. doi:10.1038/323533a0
(with the experiments of the same authors' "Learning internal representations by error
propagation", PDP vol. 1, ch. 8, MIT Press 1986).

Layered nets of logistic units learn internal representations by the generalised delta rule:
the error derivative is propagated backwards through the net and every weight moves down it.
"""
CITATION = ("Rumelhart, D. E., Hinton, G. E. & Williams, R. J. Learning representations by "
            "back-propagating errors. Nature 323, 533-536 (1986).")
SUMMARY = "Back-propagation: gradient descent with momentum on layered logistic nets, written out by hand."
